"""Return eligibility follows rules a merchant can check against a wall calendar.

Deadlines below were counted by hand from the 2026 calendar. NL public holidays per the ``holidays`` library:
Christmas Friday 12-25 and Saturday 12-26. November 2026 starts on a Sunday; December 2026 on a Tuesday.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxplugin.returns.eligibility import (
    Exclusion,
    LineFacts,
    OrderFacts,
    ReturnTerms,
    Status,
    evaluate_line,
)

NYC = ZoneInfo("America/New_York")
AMS = ZoneInfo("Europe/Amsterdam")
US_30 = ReturnTerms(timezone="America/New_York", country="US")
NL_BUSINESS_10 = ReturnTerms(timezone="Europe/Amsterdam", country="NL", window_days=10, business_days=True)
NL_14_FALLBACK_5 = ReturnTerms(timezone="Europe/Amsterdam", country="NL", window_days=14, fallback_days=5)
LINE = LineFacts(line_item_id=1, quantity=1)


def at(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)  # type: ignore[misc]


def delivered(moment: datetime) -> OrderFacts:
    return OrderFacts(delivered_at=moment, fulfilled_at=moment - timedelta(days=2))


def test_delivery_at_23_30_shop_time_counts_from_that_shop_day_not_the_utc_day() -> None:
    # Fri 13 Nov 23:30 in New York is already Sat 14 Nov in UTC. 30 calendar days from Fri 13 Nov: Sun 13 Dec.
    order = delivered(at(NYC, 2026, 11, 13, 23, 30))
    last_evening = evaluate_line(US_30, order, LINE, at(NYC, 2026, 12, 13, 23, 59))
    assert (last_evening.status, last_evening.last_day) == (Status.ELIGIBLE, date(2026, 12, 13))
    midnight = evaluate_line(US_30, order, LINE, at(NYC, 2026, 12, 14, 0, 0))
    assert (midnight.status, midnight.closed_since) == (Status.WINDOW_CLOSED, date(2026, 12, 14))


def test_a_business_day_window_steps_over_christmas_in_the_netherlands() -> None:
    # Delivered Fri 11 Dec. Business days: Mon 14 (1) … Fri 18 (5), Mon 21 (6) … Thu 24 (9); Fri 25 and Sat 26 are
    # Christmas, Sun 27 a Sunday; Mon 28 Dec is the 10th.
    order = delivered(at(AMS, 2026, 12, 11, 10, 0))
    result = evaluate_line(NL_BUSINESS_10, order, LINE, at(AMS, 2026, 12, 25, 12, 0))
    assert (result.status, result.last_day) == (Status.ELIGIBLE, date(2026, 12, 28))


def test_a_calendar_window_may_end_on_a_holiday() -> None:
    # 14 calendar days from Fri 11 Dec: Fri 25 Dec, Christmas; calendar days do not move for holidays.
    order = delivered(at(AMS, 2026, 12, 11, 10, 0))
    terms = ReturnTerms(timezone="Europe/Amsterdam", country="NL", window_days=14)
    assert evaluate_line(terms, order, LINE, at(AMS, 2026, 12, 20, 9, 0)).last_day == date(2026, 12, 25)


def test_without_a_delivery_event_the_window_starts_fulfilment_plus_the_buffer() -> None:
    # Fulfilled Mon 2 Nov 15:00; assumed delivered 5 days later, Sat 7 Nov 15:00; 14 days on: Sat 21 Nov.
    order = OrderFacts(delivered_at=None, fulfilled_at=at(AMS, 2026, 11, 2, 15, 0))
    before = evaluate_line(NL_14_FALLBACK_5, order, LINE, at(AMS, 2026, 11, 7, 14, 59))
    assert before.status is Status.NOT_YET_DELIVERED
    after = evaluate_line(NL_14_FALLBACK_5, order, LINE, at(AMS, 2026, 11, 7, 15, 0))
    assert (after.status, after.last_day) == (Status.ELIGIBLE, date(2026, 11, 21))


def test_an_order_neither_fulfilled_nor_delivered_is_not_yet_delivered() -> None:
    order = OrderFacts(delivered_at=None, fulfilled_at=None)
    assert evaluate_line(US_30, order, LINE, at(NYC, 2026, 11, 20, 9, 0)).status is Status.NOT_YET_DELIVERED


def test_a_final_sale_tag_excludes_the_line_whatever_its_case() -> None:
    line = LineFacts(line_item_id=7, quantity=1, tags=("Summer", "Final-Sale"))
    result = evaluate_line(US_30, delivered(at(NYC, 2026, 11, 13, 12, 0)), line, at(NYC, 2026, 11, 14, 9, 0))
    assert (result.status, result.reason, result.returnable_quantity) == (Status.EXCLUDED, Exclusion.EXCLUDED_TAG, 0)


def test_an_excluded_product_type_is_final_sale() -> None:
    terms = ReturnTerms(timezone="America/New_York", excluded_product_types=frozenset({"Gift Card"}))
    line = LineFacts(line_item_id=7, quantity=1, product_type="gift card")
    result = evaluate_line(terms, delivered(at(NYC, 2026, 11, 13, 12, 0)), line, at(NYC, 2026, 11, 14, 9, 0))
    assert result.reason is Exclusion.EXCLUDED_TYPE


def test_a_discounted_item_is_final_sale_only_when_the_shop_says_so() -> None:
    order, now = delivered(at(NYC, 2026, 11, 13, 12, 0)), at(NYC, 2026, 11, 14, 9, 0)
    line = LineFacts(line_item_id=3, quantity=1, discounted=True)
    assert evaluate_line(US_30, order, line, now).status is Status.ELIGIBLE
    strict = ReturnTerms(timezone="America/New_York", discounted_final_sale=True)
    assert evaluate_line(strict, order, line, now).reason is Exclusion.DISCOUNTED


def test_a_partly_returned_line_can_return_what_remains_and_a_fully_returned_one_nothing() -> None:
    order, now = delivered(at(NYC, 2026, 11, 13, 12, 0)), at(NYC, 2026, 11, 14, 9, 0)
    partly = evaluate_line(US_30, order, LineFacts(line_item_id=2, quantity=3, returned_quantity=1), now)
    assert (partly.status, partly.returnable_quantity, partly.last_day) == (Status.ELIGIBLE, 2, date(2026, 12, 13))
    fully = evaluate_line(US_30, order, LineFacts(line_item_id=2, quantity=3, returned_quantity=3), now)
    assert (fully.status, fully.reason) == (Status.EXCLUDED, Exclusion.FULLY_RETURNED)


def test_returns_turned_off_excludes_every_line() -> None:
    terms = ReturnTerms(timezone="America/New_York", enabled=False)
    result = evaluate_line(terms, delivered(at(NYC, 2026, 11, 13, 12, 0)), LINE, at(NYC, 2026, 11, 14, 9, 0))
    assert result.reason is Exclusion.RETURNS_OFF


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError):
        evaluate_line(US_30, delivered(at(NYC, 2026, 11, 13, 12, 0)), LINE, datetime(2026, 11, 14))


# ---- properties -----------------------------------------------------------------------------------

moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))
terms_strategy = st.builds(
    ReturnTerms, timezone=st.sampled_from(["Europe/Amsterdam", "America/New_York", "Pacific/Auckland"]),
    country=st.sampled_from(["NL", "US", "NZ"]), window_days=st.integers(1, 60), business_days=st.booleans(),
    fallback_days=st.integers(0, 14))


@settings(max_examples=200, deadline=None)
@given(terms=terms_strategy, delivered_at=moments, later=st.integers(0, 200 * 24 * 60),
       more=st.integers(0, 60 * 24 * 60))
def test_a_line_is_eligible_until_its_deadline_and_closed_after_it(terms: ReturnTerms, delivered_at: datetime,
                                                                  later: int, more: int) -> None:
    order = delivered(delivered_at)
    first = delivered_at + timedelta(minutes=later)
    second = first + timedelta(minutes=more)
    one, two = evaluate_line(terms, order, LINE, first), evaluate_line(terms, order, LINE, second)
    assert one.last_day is not None and one.last_day == two.last_day
    today = first.astimezone(ZoneInfo(terms.timezone)).date()
    assert one.eligible == (today <= one.last_day)
    # monotone in time: once closed, never eligible again
    assert not (one.status is Status.WINDOW_CLOSED and two.eligible)
    # business days are never fewer calendar days than the same count of calendar days
    start = delivered_at.astimezone(ZoneInfo(terms.timezone)).date()
    assert one.last_day >= start + timedelta(days=terms.window_days)
