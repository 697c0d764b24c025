"""When to ask and whom not to ask. PURE: no I/O, no clock (``now`` is an argument)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

# Why sending gave a survey up (see sending.py); planning again from a later webhook must not revive it.
GIVEN_UP = frozenset({"bounced", "rejected", "failed"})


@dataclass(frozen=True)
class SurveyFacts:
    cancelled: bool
    refunded: bool
    has_email: bool
    suppressed: bool
    last_surveyed_at: datetime | None  # the newest survey sent to this address by this shop (another order)
    arrived_at: datetime  # delivery time, or shipment time when no delivery event ever came


@dataclass(frozen=True)
class SurveyPolicy:
    throttle_days: int
    max_age_days: int


def skip_reason(facts: SurveyFacts, policy: SurveyPolicy, now: datetime) -> str | None:
    """Why this order must not be surveyed (checked when scheduling and again when sending)."""
    if facts.cancelled:
        return "cancelled"
    if facts.refunded:
        return "refunded"
    if not facts.has_email:
        return "no_email"
    if facts.suppressed:
        return "unsubscribed"
    if facts.last_surveyed_at is not None and now - facts.last_surveyed_at < timedelta(days=policy.throttle_days):
        return "recently_surveyed"
    if now - facts.arrived_at > timedelta(days=policy.max_age_days):
        return "too_old"
    return None


def into_send_window(moment: datetime, timezone: str, start: time, end: time) -> datetime:
    """The first moment at or after ``moment`` that falls in the shop's daytime window [start, end)."""
    tz = ZoneInfo(timezone)
    local = moment.astimezone(tz)
    if start <= local.time().replace(tzinfo=None) < end:
        return moment
    day = local.date() if local.time().replace(tzinfo=None) < start else local.date() + timedelta(days=1)
    # Through UTC so a window start inside a DST gap still lands on a real instant.
    opening = datetime.combine(day, start, tzinfo=tz)
    return opening.astimezone(ZoneInfo("UTC")).astimezone(moment.tzinfo)


def is_detractor(csat: int | None, nps: int | None) -> bool:
    """CSAT 1–2 or NPS 0–6: the shopper is unhappy and the merchant should hear of it."""
    return (csat is not None and csat <= 2) or (nps is not None and nps <= 6)


def valid_score(question: str, score: int) -> bool:
    return 1 <= score <= 5 if question == "csat" else 0 <= score <= 10


def scores(question: str) -> range:
    return range(1, 6) if question == "csat" else range(0, 11)


def questions(kind: str) -> tuple[str, ...]:
    """The questions a survey of this kind asks, in order ("csat_nps": CSAT in the e-mail, NPS on the page)."""
    return ("csat", "nps") if kind == "csat_nps" else ("nps",) if kind == "nps" else ("csat",)


def parse_score(question: str, raw: str) -> int | None:
    """The score a link or form gives, or None when it is not one: ASCII digits only (``"²".isdigit()`` is
    true, and ``int("٣")`` is 3), in the question's range."""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 2):
        return None
    score = int(raw)
    return score if valid_score(question, score) else None


def backoff_seconds(attempts: int, base: float = 60.0, cap: float = 3600.0) -> float:
    delay: float = base * 2 ** max(attempts - 1, 0)
    return min(delay, cap)
