"""Survey answers as the merchant reads them: filtered, paged, one query per page; the follow-up mark."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from cxplugin.extensions import db
from cxplugin.models import Order, Shop, Survey
from cxplugin.scores import rules
from cxplugin.scores.answered import answered_condition
from cxplugin.shopify import admin_links

QUESTIONS = ("csat", "nps")
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200


class FilterError(ValueError):
    """A filter a merchant cannot ask for; the message says which and why."""


@dataclass(frozen=True)
class Filters:
    score: int | None = None
    question: str | None = None
    locale: str | None = None
    punctuality: str | None = None
    mark: str | None = None
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE


def _number(args: MultiDict[str, str], name: str, low: int, high: int, default: int | None) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise FilterError(f"'{name}' must be a whole number from {low} to {high}.")
    return int(raw)


def _choice(args: MultiDict[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    raw = args.get(name) or None
    if raw is not None and raw not in allowed:
        raise FilterError(f"'{name}' must be one of: {', '.join(allowed)}.")
    return raw


def parse_filters(args: MultiDict[str, str]) -> Filters:
    """The query string of GET /api/admin/responses; raises FilterError for a value it cannot use."""
    question = _choice(args, "question", QUESTIONS)
    locale = args.get("locale") or None
    if locale is not None and (len(locale) > 16 or not locale.replace("-", "").replace("_", "").isalnum()):
        raise FilterError("'locale' must be a language code such as 'nl' or 'pt-BR'.")
    return Filters(
        score=_number(args, "score", 0, 5 if question == "csat" else 10, None),
        question=question,
        locale=locale,
        punctuality=_choice(args, "punctuality", rules.BUCKETS),
        mark=_choice(args, "mark", rules.FOLLOW_UP_MARKS),
        page=_number(args, "page", 1, 100_000, 1) or 1,
        per_page=_number(args, "per_page", 1, MAX_PER_PAGE, DEFAULT_PER_PAGE) or DEFAULT_PER_PAGE,
    )


def _conditions(f: Filters) -> list[sa.ColumnElement[bool]]:
    found: list[sa.ColumnElement[bool]] = []
    if f.question is not None:
        found.append(getattr(Survey, f.question).is_not(None))
    if f.score is not None:
        found.append(getattr(Survey, f.question) == f.score if f.question
                     else sa.or_(Survey.csat == f.score, Survey.nps == f.score))
    if f.locale is not None:
        language = f.locale.lower().replace("_", "-")
        found.append(sa.or_(sa.func.lower(Order.customer_locale) == language,
                            sa.func.lower(Order.customer_locale).like(language.split("-")[0] + "-%")
                            if "-" not in language else sa.false()))
    if f.punctuality is not None:
        found.append(Order.punctuality == f.punctuality)
    if f.mark is not None:
        found.append(Survey.follow_up == f.mark)
    return found


def sent_between(shop: Shop, period: rules.DateRange) -> list[sa.ColumnElement[bool]]:
    """Surveys sent on the period's shop-local dates."""
    tz = ZoneInfo(shop.timezone)
    start = datetime.combine(period.start, time(0), tzinfo=tz)
    end = datetime.combine(period.end + timedelta(days=1), time(0), tzinfo=tz)
    return [Survey.sent_at >= start, Survey.sent_at < end]


def response_rows(shop: Shop, conditions: list[sa.ColumnElement[bool]], *, limit: int,
                  offset: int = 0) -> list[dict[str, Any]]:
    """Answered surveys of the shop matching ``conditions``, newest answer first, with their order (one query)."""
    query = (sa.select(Survey, Order).join(Order, Order.id == Survey.order_id)
             # answered_at IS NOT NULL lets the index walk skip the unanswered surveys (NULLs come first descending).
             .where(Survey.shop_id == shop.id, answered_condition(), Survey.answered_at.is_not(None), *conditions)
             .order_by(Survey.answered_at.desc(), Survey.id.desc()).limit(limit).offset(offset))
    return [_row(shop, survey, order) for survey, order in db.session.execute(query)]


def _row(shop: Shop, survey: Survey, order: Order) -> dict[str, Any]:
    return {
        "id": survey.id, "order_id": order.shopify_id, "order_name": order.name,
        "csat": survey.csat, "nps": survey.nps, "comment": survey.comment, "locale": order.customer_locale,
        "sent_at": survey.sent_at.isoformat() if survey.sent_at else None,
        "answered_at": survey.answered_at.isoformat() if survey.answered_at else None,
        "punctuality": order.punctuality, "days_late": order.days_late,
        "mark": survey.follow_up, "mark_at": survey.follow_up_at.isoformat() if survey.follow_up_at else None,
        "order_url": admin_links.order_url(shop, order.shopify_id),
    }


def page(shop: Shop, f: Filters) -> dict[str, Any]:
    """One page of answers and how many match in all."""
    conditions = _conditions(f)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Survey).join(Order, Order.id == Survey.order_id)
                              .where(Survey.shop_id == shop.id, answered_condition(), Survey.answered_at.is_not(None),
                                     *conditions)) or 0
    rows = response_rows(shop, conditions, limit=f.per_page, offset=(f.page - 1) * f.per_page)
    return {"responses": rows, "page": f.page, "per_page": f.per_page, "total": total,
            "pages": (total + f.per_page - 1) // f.per_page}


def set_mark(shop: Shop, survey_id: int, mark: str, now: datetime) -> dict[str, Any] | None:
    """Set an answer's follow-up mark; None when the shop has no such answer. ``mark`` must be a FOLLOW_UP_MARK."""
    found = db.session.execute(
        sa.select(Survey, Order).join(Order, Order.id == Survey.order_id)
        .where(Survey.shop_id == shop.id, Survey.id == survey_id, answered_condition())).first()
    if found is None:
        return None
    survey, order = found
    if survey.follow_up != mark:
        survey.follow_up, survey.follow_up_at = mark, now
    db.session.commit()
    return _row(shop, survey, order)
