"""Where the admin pages get their figures: the scores feature (``cxplugin.scores``) when it is there.

The scores page renders the same dict as ``GET /api/admin/scores`` (DESIGN.md, public contract). Until
``cxplugin.scores.figures.scores(shop, date_from, date_to)`` exists, ``scores_for`` answers that shape with
zeros and nulls, so every figure reads "not enough answers". This module computes no figure of its own;
until the scores feature lists answers (``cxplugin.scores.responses.listing``), it reads them plainly.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from cxplugin.extensions import db
from cxplugin.models import Order, Shop, Survey, SurveyStatus
from cxplugin.promise import on_orders
from cxplugin.surveys.sending import survey_locale

PUNCTUALITY_BUCKETS = ("on_time", "1_day_late", "2_3_days_late", "4_plus_days_late")

ScoresFunction = Callable[[Shop, date, date], dict[str, Any]]


def _scores_function() -> ScoresFunction | None:
    try:
        module = importlib.import_module("cxplugin.scores.figures")
    except ModuleNotFoundError:
        return None
    found: ScoresFunction | None = getattr(module, "scores", None)
    return found


def scores_for(shop: Shop, date_from: date, date_to: date) -> dict[str, Any]:
    """The shop's figures for ``date_from``..``date_to`` (shop-local dates, both included)."""
    compute = _scores_function()
    if compute is None:
        return empty_scores(date_from, date_to)
    return compute(shop, date_from, date_to)


def empty_scores(date_from: date, date_to: date) -> dict[str, Any]:
    """The contract's shape with nothing counted: every rate null, every list empty."""
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


# --- Responses ---------------------------------------------------------------------------------------

RESPONSES_PER_PAGE = 25
MARKS = ("open", "contacted", "resolved")
_STAND_IN_LIMIT = 5000


@dataclass(frozen=True)
class ResponseFilters:
    """The responses page's filters; None means "any"."""

    score: int | None = None
    question: str | None = None  # "csat" or "nps": which score ``score`` is compared with
    locale: str | None = None
    punctuality: str | None = None  # one of PUNCTUALITY_BUCKETS
    mark: str | None = None  # one of MARKS


ResponsesFunction = Callable[[Shop, ResponseFilters, int, int], dict[str, Any]]


def responses_for(shop: Shop, filters: ResponseFilters, page: int) -> dict[str, Any]:
    """One page of answers, newest first: ``{"responses": [...], "page": n, "pages": n, "total": n}``, each
    response ``{"id", "order_id", "order_name", "question", "csat", "nps", "comment", "locale",
    "punctuality", "mark", "answered_at"}``. From ``cxplugin.scores.responses.listing`` when it exists."""
    try:
        module = importlib.import_module("cxplugin.scores.responses")
        listing: ResponsesFunction | None = getattr(module, "listing", None)
    except ModuleNotFoundError:
        listing = None
    return (listing or _stand_in_listing)(shop, filters, page, RESPONSES_PER_PAGE)


def punctuality_bucket(kept: bool | None, days_late: int | None) -> str | None:
    """The contract's punctuality bucket of a delivered order with a promise; None otherwise."""
    if kept is None or days_late is None:
        return None
    if kept:
        return "on_time"
    return "1_day_late" if days_late == 1 else "2_3_days_late" if days_late <= 3 else "4_plus_days_late"


def _stand_in_listing(shop: Shop, filters: ResponseFilters, page: int, per_page: int) -> dict[str, Any]:
    # Until the scores feature lists answers, read them here; no follow-up mark is stored yet, so every
    # answer is "open".
    surveys = db.session.scalars(
        sa.select(Survey).where(Survey.shop_id == shop.id, Survey.status == SurveyStatus.ANSWERED)
        .options(so.selectinload(Survey.order).selectinload(Order.shipments))
        .order_by(Survey.answered_at.desc(), Survey.id.desc()).limit(_STAND_IN_LIMIT))
    rows = []
    for survey in surveys:
        promise = on_orders.summary(shop, survey.order)
        row = {
            "id": survey.id, "order_id": survey.order.shopify_id, "order_name": survey.order.name,
            "question": survey.question, "csat": survey.csat, "nps": survey.nps, "comment": survey.comment,
            "locale": survey_locale(shop, survey.order),
            "punctuality": punctuality_bucket(promise["kept"], promise["days_late"]), "mark": "open",
            "answered_at": survey.answered_at.isoformat() if survey.answered_at else None,
        }
        if _matches(row, filters):
            rows.append(row)
    pages = max(1, -(-len(rows) // per_page))
    page = min(max(page, 1), pages)
    return {"responses": rows[(page - 1) * per_page:page * per_page], "page": page, "pages": pages,
            "total": len(rows)}


def _matches(row: dict[str, Any], f: ResponseFilters) -> bool:
    if f.question and row[f.question] is None:
        return False
    if f.score is not None:
        scores = [row[f.question]] if f.question else [row["csat"], row["nps"]]
        if f.score not in scores:
            return False
    return ((f.locale is None or row["locale"] == f.locale)
            and (f.punctuality is None or row["punctuality"] == f.punctuality)
            and (f.mark is None or row["mark"] == f.mark))
