"""The small arithmetic of the scores page: buckets, rates, NPS, the date range. PURE: no I/O, no clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

# Punctuality buckets of a delivered order that had a promise, in the order the page shows them.
BUCKETS = ("on_time", "1_day_late", "2_3_days_late", "4_plus_days_late")
# A rate, score or mean over fewer than this many is "not enough answers", not a figure.
MIN_COUNT = 5
# Repeat purchase: an order placed within this many days after a delivery; only deliveries this old count.
RETURN_DAYS = 90
DEFAULT_RANGE_DAYS = 30
MAX_RANGE_YEARS = 5
FOLLOW_UP_MARKS = ("open", "contacted", "resolved", "ignored")


def bucket(days_late: int) -> str:
    """The punctuality bucket of a delivery ``days_late`` days after the promised latest date (0 = on time)."""
    if days_late <= 0:
        return "on_time"
    if days_late == 1:
        return "1_day_late"
    if days_late <= 3:
        return "2_3_days_late"
    return "4_plus_days_late"


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` as a fraction, or None when ``whole`` is below MIN_COUNT."""
    return round(part / whole, 4) if whole >= MIN_COUNT else None


def mean(total: int, count: int) -> float | None:
    return round(total / count, 2) if count >= MIN_COUNT else None


def nps_group(score: int) -> str:
    """promoter (9–10), passive (7–8) or detractor (0–6)."""
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def nps_score(promoters: int, detractors: int, answers: int) -> float | None:
    """% promoters − % detractors, −100..100, or None when there are fewer than MIN_COUNT answers."""
    return round(100 * (promoters - detractors) / answers, 1) if answers >= MIN_COUNT else None


def satisfied(csat: int) -> bool:
    """CSAT counts as satisfied at 4 or 5."""
    return csat >= 4


def week_of(day: date) -> date:
    """The Monday that starts ``day``'s week."""
    return day - timedelta(days=day.weekday())


def matured_until(today: date) -> date:
    """The last delivery date whose RETURN_DAYS days after it have all passed (shop-local)."""
    return today - timedelta(days=RETURN_DAYS + 1)


class RangeError(ValueError):
    """A date range a merchant cannot ask for; the message says why."""


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date  # inclusive


def date_range(start: str | None, end: str | None, today: date) -> DateRange:
    """Parse ``from``/``to`` (``YYYY-MM-DD``, shop-local, both inclusive); the last 30 days by default."""
    try:
        last = date.fromisoformat(end) if end else today
        first = date.fromisoformat(start) if start else last - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    except ValueError as exc:
        raise RangeError("Dates must be written YYYY-MM-DD.") from exc
    if first > last:
        raise RangeError("'from' must not be after 'to'.")
    try:
        limit = first.replace(year=first.year + MAX_RANGE_YEARS)
    except ValueError:  # 29 February
        limit = first.replace(year=first.year + MAX_RANGE_YEARS, day=28)
    if last >= limit:
        raise RangeError(f"A range can cover at most {MAX_RANGE_YEARS} years.")
    return DateRange(first, last)
