"""Where the admin pages get their figures and answers: the scores feature, the same code as the JSON API."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from cxplugin.models import Shop
from cxplugin.models.types import utcnow
from cxplugin.scores import figures, rules
from cxplugin.scores import responses as answers

PUNCTUALITY_BUCKETS = rules.BUCKETS
MARKS = rules.FOLLOW_UP_MARKS
RESPONSES_PER_PAGE = 25
ResponseFilters = answers.Filters


def scores_for(shop: Shop, date_from: date, date_to: date) -> dict[str, Any]:
    """The shop's figures for ``date_from``..``date_to`` (shop-local dates, both included), as the API gives them."""
    today = utcnow().astimezone(ZoneInfo(shop.timezone)).date()
    return figures.scores(shop, rules.DateRange(date_from, date_to), today)


def empty_scores(date_from: date, date_to: date) -> dict[str, Any]:
    """The contract's shape with nothing counted (every rate null, every list empty): what the charts draw for a
    shop without deliveries."""
    def csat() -> dict[str, Any]:
        return {"answers": 0, "satisfied": 0, "rate": None,
                "distribution": {str(n): 0 for n in range(1, 6)}}

    def nps() -> dict[str, Any]:
        return {"answers": 0, "promoters": 0, "passives": 0, "detractors": 0, "score": None}

    return {
        "from": date_from.isoformat(), "to": date_to.isoformat(),
        "on_time": {"delivered": 0, "with_promise": 0, "on_time": 0, "early": 0, "rate": None,
                    "mean_days_late": None},
        "csat": csat(),
        "nps": nps(),
        "response_rate": {"sent": 0, "answered": 0, "rate": None},
        "by_punctuality": [{"bucket": b, "orders": 0, "csat": csat(), "nps": nps()} for b in PUNCTUALITY_BUCKETS],
        "repeat_purchase": {side: {"customers": 0, "returned": 0, "rate": None} for side in ("on_time", "late")},
        "by_destination": [], "by_carrier": [], "weekly": [], "comments": [],
    }


def responses_for(shop: Shop, filters: ResponseFilters, page: int) -> dict[str, Any]:
    """One page of answers, newest first, as ``GET /api/admin/responses`` gives them."""
    return answers.page(shop, dataclasses.replace(filters, page=page, per_page=RESPONSES_PER_PAGE))
