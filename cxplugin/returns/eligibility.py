"""Return eligibility per order line: "returnable until 14 Dec", "not delivered yet", "closed since …", "final sale".

Pure computation: no I/O, nothing from Flask or SQLAlchemy, and ``now`` is an argument. The rules, which a merchant
can check by hand against a wall calendar:

* The window starts on the shop-local date of the delivery (``counts_from="delivery"``). When no delivery event came,
  the start is the shop-local date of the fulfilment plus ``fallback_days`` calendar days (the parcel is assumed to
  have arrived by then); that assumed moment must have passed, else the line is not delivered yet. With
  ``counts_from="fulfillment"`` the window starts on the fulfilment's date.
* The last day to return = the start date advanced by ``window_days`` days: calendar days, or business days
  (Monday–Friday that are not public holidays of the shop's country, the same ``public_holidays`` the promise counts
  with). A return is possible through the whole of that shop-local day.
* A line is excluded (whatever its delivery) when its product carries an excluded tag or type, when it was discounted
  and the shop treats discounted items as final sale, or when all of it was returned already.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from cxplugin.promise.calculator import public_holidays

__all__ = ["Exclusion", "LineEligibility", "LineFacts", "OrderFacts", "ReturnTerms", "Status", "evaluate",
           "evaluate_line", "exclusion", "last_day"]

_ONE_DAY = timedelta(days=1)
_BUSINESS_WEEKDAYS = frozenset(range(5))
MAX_WINDOW_DAYS = 365


class Status(enum.StrEnum):
    ELIGIBLE = "eligible"
    NOT_YET_DELIVERED = "not_yet_delivered"
    WINDOW_CLOSED = "window_closed"
    EXCLUDED = "excluded"


class Exclusion(enum.StrEnum):
    RETURNS_OFF = "returns_off"
    EXCLUDED_TAG = "excluded_tag"
    EXCLUDED_TYPE = "excluded_type"
    DISCOUNTED = "discounted"
    FULLY_RETURNED = "fully_returned"


def _normal(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.strip().casefold() for v in values if v.strip())


@dataclass(frozen=True)
class ReturnTerms:
    """The return terms in force when an order was placed, plus the shop's zone and country for counting."""

    timezone: str
    country: str = ""
    enabled: bool = True
    window_days: int = 30
    business_days: bool = False
    counts_from: str = "delivery"  # or "fulfillment"
    fallback_days: int = 7
    excluded_tags: frozenset[str] = frozenset({"final-sale"})
    excluded_product_types: frozenset[str] = frozenset()
    discounted_final_sale: bool = False

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # raises for an unknown zone
        if not 0 <= self.window_days <= MAX_WINDOW_DAYS or not 0 <= self.fallback_days <= MAX_WINDOW_DAYS:
            raise ValueError(f"return window and fallback must be 0..{MAX_WINDOW_DAYS} days")
        if self.counts_from not in ("delivery", "fulfillment"):
            raise ValueError(f"counts_from must be 'delivery' or 'fulfillment', got {self.counts_from!r}")
        object.__setattr__(self, "excluded_tags", _normal(self.excluded_tags))
        object.__setattr__(self, "excluded_product_types", _normal(self.excluded_product_types))


@dataclass(frozen=True)
class OrderFacts:
    """When the order's parcels arrived (the last delivery) or, failing that, were handed over (the last fulfilment)."""

    delivered_at: datetime | None
    fulfilled_at: datetime | None


@dataclass(frozen=True)
class LineFacts:
    line_item_id: int
    quantity: int
    returned_quantity: int = 0
    tags: tuple[str, ...] = ()
    product_type: str | None = None
    discounted: bool = False


@dataclass(frozen=True)
class LineEligibility:
    line_item_id: int
    status: Status
    returnable_quantity: int = 0
    last_day: date | None = None  # eligible, window_closed: the last shop-local day to return
    closed_since: date | None = None  # window_closed: the first day it could no longer be returned
    reason: Exclusion | None = None  # excluded: why

    @property
    def eligible(self) -> bool:
        return self.status is Status.ELIGIBLE


def exclusion(terms: ReturnTerms, tags: Iterable[str], product_type: str | None, discounted: bool) -> Exclusion | None:
    """Why a product can never be returned under ``terms`` (final sale), or None when it can."""
    if not terms.enabled:
        return Exclusion.RETURNS_OFF
    if _normal(tags) & terms.excluded_tags:
        return Exclusion.EXCLUDED_TAG
    if product_type and product_type.strip().casefold() in terms.excluded_product_types:
        return Exclusion.EXCLUDED_TYPE
    if discounted and terms.discounted_final_sale:
        return Exclusion.DISCOUNTED
    return None


def _is_business_day(day: date, country: str) -> bool:
    return day.weekday() in _BUSINESS_WEEKDAYS and not (country and day in public_holidays(country, day.year))


def last_day(terms: ReturnTerms, start: date) -> date:
    """The last day to return when the window starts on ``start``."""
    if not terms.business_days:
        return start + timedelta(days=terms.window_days)
    day, left = start, terms.window_days
    while left > 0:
        day += _ONE_DAY
        if _is_business_day(day, terms.country):
            left -= 1
    return day


def _window_start(terms: ReturnTerms, order: OrderFacts, now: datetime) -> date | None:
    zone = ZoneInfo(terms.timezone)
    if terms.counts_from == "fulfillment":
        return order.fulfilled_at.astimezone(zone).date() if order.fulfilled_at else None
    if order.delivered_at is not None:
        return order.delivered_at.astimezone(zone).date()
    if order.fulfilled_at is None:
        return None
    assumed = order.fulfilled_at + timedelta(days=terms.fallback_days)
    return assumed.astimezone(zone).date() if assumed <= now else None


def evaluate_line(terms: ReturnTerms, order: OrderFacts, line: LineFacts, now: datetime) -> LineEligibility:
    """One line's eligibility at ``now`` (timezone-aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    remaining = max(0, line.quantity - line.returned_quantity)
    why = exclusion(terms, line.tags, line.product_type, line.discounted)
    if why is None and remaining == 0:
        why = Exclusion.FULLY_RETURNED
    if why is not None:
        return LineEligibility(line.line_item_id, Status.EXCLUDED, reason=why)
    start = _window_start(terms, order, now)
    if start is None:
        return LineEligibility(line.line_item_id, Status.NOT_YET_DELIVERED, returnable_quantity=remaining)
    deadline = last_day(terms, start)
    today = now.astimezone(ZoneInfo(terms.timezone)).date()
    if today > deadline:
        return LineEligibility(line.line_item_id, Status.WINDOW_CLOSED, last_day=deadline,
                               closed_since=deadline + _ONE_DAY)
    return LineEligibility(line.line_item_id, Status.ELIGIBLE, returnable_quantity=remaining, last_day=deadline)


def evaluate(terms: ReturnTerms, order: OrderFacts, lines: Sequence[LineFacts], now: datetime) -> list[LineEligibility]:
    """Every line's eligibility at ``now``."""
    return [evaluate_line(terms, order, line, now) for line in lines]
