"""The delivery-promise calculator follows the counting rules a merchant can check against a wall calendar.

Every expected date below was worked out by hand from the 2026 calendar (comments show the counting), not by running
the code. Public holidays are those of the ``holidays`` library: NL 2026 includes Good Friday 04-03, Easter Monday
04-06, Whit Monday 05-25, Christmas Friday 12-25; US 2026 Labor Day 09-07, Veterans Day Wed 11-11, Thanksgiving Thu
11-26; Canada Day Wed 07-01; Austria National Day Mon 10-26; New Zealand Waitangi Day Fri 02-06.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxplugin.promise.calculator import (
    Destination,
    Promise,
    PromiseSettings,
    TagRule,
    Zone,
    compute,
    public_holidays,
)

AMS = ZoneInfo("Europe/Amsterdam")
NYC = ZoneInfo("America/New_York")
AKL = ZoneInfo("Pacific/Auckland")
TBU = ZoneInfo("Pacific/Tongatapu")
HNL = ZoneInfo("Pacific/Honolulu")

MON_FRI = frozenset(range(5))
MON_SAT = frozenset(range(6))
EVERY_DAY = frozenset(range(7))

# A Dutch shop: "order before 15:00, shipped today" (processing 0-1 days), PostNL-style delivery Mon-Sat.
NL_SHOP = PromiseSettings(
    timezone="Europe/Amsterdam",
    origin_country="NL",
    cutoff=time(15, 0),
    processing_min=0,
    processing_max=1,
    dispatch_weekdays=MON_FRI,
    closed_dates=frozenset(),
    carrier_weekdays=MON_SAT,
    zones=(
        Zone("Domestic", ("NL",), 1, 2, {"express": (1, 1), "same-day": (0, 0)}),
        Zone("Benelux", ("BE", "LU"), 1, 3),
        Zone("EU", ("DE", "AT"), 2, 4),
    ),
    default_zone=None,
    tag_rules=(
        TagRule("pre-order", processing=(14, 21)),
        TagRule("made-to-order", add_days=3),
        TagRule("engraving", add_days=2),
        TagRule("custom", processing=(2, 9)),
        TagRule("bundle", processing=(6, 6)),
    ),
)

# A New York shop: cutoff 13:00, processing 1-2 days, carrier Mon-Fri; Hawaii/Alaska listed before the rest of the US.
US_SHOP = PromiseSettings(
    timezone="America/New_York",
    origin_country="US",
    cutoff=time(13, 0),
    processing_min=1,
    processing_max=2,
    dispatch_weekdays=MON_FRI,
    closed_dates=frozenset(),
    carrier_weekdays=MON_FRI,
    zones=(
        Zone("Hawaii & Alaska", ("US-HI", "US-AK"), 4, 8),
        Zone("Contiguous US", ("US",), 2, 5, {"overnight": (1, 1)}),
        Zone("Canada", ("CA",), 2, 4),
    ),
    default_zone=None,
)

# Shops far from UTC: processing 0-1, cutoff 14:00, Mon-Fri dispatch and delivery, domestic transit 1-2.
NZ_SHOP = PromiseSettings(
    timezone="Pacific/Auckland",  # UTC+13 in the southern summer (NZDT until 2026-04-05)
    origin_country="NZ",
    cutoff=time(14, 0),
    processing_min=0,
    processing_max=1,
    dispatch_weekdays=MON_FRI,
    closed_dates=frozenset(),
    carrier_weekdays=MON_FRI,
    zones=(Zone("Domestic", ("NZ",), 1, 2),),
    default_zone=None,
)
TONGA_SHOP = replace(NZ_SHOP, timezone="Pacific/Tongatapu", origin_country="TO", zones=(Zone("Tonga", ("TO",), 1, 2),))
HAWAII_SHOP = PromiseSettings(
    timezone="Pacific/Honolulu",  # UTC-10, no DST
    origin_country="US",
    cutoff=time(17, 0),
    processing_min=0,
    processing_max=1,
    dispatch_weekdays=MON_FRI,
    closed_dates=frozenset(),
    carrier_weekdays=MON_SAT,
    zones=(Zone("Hawaii", ("US-HI",), 1, 2),),
    default_zone=None,
)
NL_SUMMER_CLOSED = replace(NL_SHOP, closed_dates=frozenset(date(2026, 8, day) for day in range(3, 8)))  # Mon-Fri
NL_WORLDWIDE = replace(NL_SHOP, default_zone=Zone("World", (), 5, 10, {"courier": (3, 4)}))
# Ships every day with a 02:30 cutoff, to put the cutoff inside the DST gap and the repeated hour.
NL_NIGHT_SHOP = replace(NL_SHOP, cutoff=time(2, 30), dispatch_weekdays=EVERY_DAY)

NL = Destination("NL", None, "1012 AB")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


class Case(NamedTuple):
    shop: PromiseSettings
    now: datetime
    destination: Destination
    method: str | None
    items: Sequence[Sequence[str]]
    dispatch: tuple[date, date]  # (dispatch_earliest, dispatch_latest)
    delivery: tuple[date, date]  # (earliest, latest)
    cutoff_utc: datetime  # the cutoff moment, as a UTC instant
    seconds: int
    rule: str


D = date
# fmt: off
CASES = {
    # Tue 06-09, 1 s before 15:00 CEST (13:00 UTC): starts today. Dispatch 0 -> Tue 9, 1 -> Wed 10.
    # Delivery: Tue 9 +1 carrier day = Wed 10; Wed 10 +2 = Thu 11, Fri 12.
    "just_before_cutoff_ships_today": Case(
        NL_SHOP, datetime(2026, 6, 9, 14, 59, 59, tzinfo=AMS), NL, None, (),
        (D(2026, 6, 9), D(2026, 6, 10)), (D(2026, 6, 10), D(2026, 6, 12)), utc(2026, 6, 9, 13), 1, "zone:Domestic",
    ),
    # Tue 15:00:00 is not before the cutoff: starts Wed 10; dispatch Wed 10 / Thu 11; delivery Thu 11 / Sat 13.
    "at_cutoff_starts_tomorrow": Case(
        NL_SHOP, datetime(2026, 6, 9, 15, 0, tzinfo=AMS), NL, None, (),
        (D(2026, 6, 10), D(2026, 6, 11)), (D(2026, 6, 11), D(2026, 6, 13)), utc(2026, 6, 10, 13), 86_400,
        "zone:Domestic",
    ),
    # Fri 06-12 10:00: dispatch Fri 12 / Mon 15; delivered Sat 13 (carrier delivers Saturdays) / Mon 15 +2 = Wed 17.
    "friday_before_cutoff_arrives_saturday": Case(
        NL_SHOP, datetime(2026, 6, 12, 10, 0, tzinfo=AMS), NL, None, (),
        (D(2026, 6, 12), D(2026, 6, 15)), (D(2026, 6, 13), D(2026, 6, 17)), utc(2026, 6, 12, 13), 5 * 3600,
        "zone:Domestic",
    ),
    # Fri 16:30: starts Mon 15; dispatch Mon 15 / Tue 16; delivery Tue 16 / Thu 18.
    # Countdown: Fri 14:30 UTC -> Mon 13:00 UTC = 70.5 h.
    "cutoff_passed_on_friday_moves_to_monday": Case(
        NL_SHOP, datetime(2026, 6, 12, 16, 30, tzinfo=AMS), NL, None, (),
        (D(2026, 6, 15), D(2026, 6, 16)), (D(2026, 6, 16), D(2026, 6, 18)), utc(2026, 6, 15, 13), 253_800,
        "zone:Domestic",
    ),
    # Thu 04-02 16:00: Good Friday 3, weekend, Easter Monday 6 -> starts Tue 7; dispatch Tue 7 / Wed 8;
    # delivery Wed 8 / Fri 10. Countdown Thu 14:00 UTC -> Tue 13:00 UTC = 119 h.
    "easter_monday_is_no_dispatch_day": Case(
        NL_SHOP, datetime(2026, 4, 2, 16, 0, tzinfo=AMS), NL, None, (),
        (D(2026, 4, 7), D(2026, 4, 8)), (D(2026, 4, 8), D(2026, 4, 10)), utc(2026, 4, 7, 13), 428_400,
        "zone:Domestic",
    ),
    # Thu 04-02 10:00: dispatch Thu 2 / (Fri 3, Mon 6 holidays) Tue 7. Delivery: Thu 2 +1 skips Good Friday -> Sat 4;
    # Tue 7 +2 = Wed 8, Thu 9.
    "easter_weekend_delivery_skips_good_friday": Case(
        NL_SHOP, datetime(2026, 4, 2, 10, 0, tzinfo=AMS), NL, None, (),
        (D(2026, 4, 2), D(2026, 4, 7)), (D(2026, 4, 4), D(2026, 4, 9)), utc(2026, 4, 2, 13), 5 * 3600,
        "zone:Domestic",
    ),
    # Fri 05-22 16:00: weekend, Whit Monday 25 -> starts Tue 26; dispatch Tue 26 / Wed 27; delivery Wed 27 / Fri 29.
    "whit_monday_moves_start_to_tuesday": Case(
        NL_SHOP, datetime(2026, 5, 22, 16, 0, tzinfo=AMS), NL, None, (),
        (D(2026, 5, 26), D(2026, 5, 27)), (D(2026, 5, 27), D(2026, 5, 29)), utc(2026, 5, 26, 13), 342_000,
        "zone:Domestic",
    ),
    # Thu 12-24 16:00 CET: Christmas Fri 25, Sat 26 -> starts Mon 28; delivery Tue 29 / Thu 31.
    "christmas_friday_moves_start_to_monday": Case(
        NL_SHOP, datetime(2026, 12, 24, 16, 0, tzinfo=AMS), NL, None, (),
        (D(2026, 12, 28), D(2026, 12, 29)), (D(2026, 12, 29), D(2026, 12, 31)), utc(2026, 12, 28, 14), 342_000,
        "zone:Domestic",
    ),
    # Wed 12-30 16:00: starts Thu 31; dispatch 1 skips New Year (Fri 2027-01-01) -> Mon 2027-01-04.
    # Delivery: Thu 31 +1 skips New Year -> Sat 2027-01-02; Mon 4 +2 = Tue 5, Wed 6.
    "new_year_counts_across_the_year_boundary": Case(
        NL_SHOP, datetime(2026, 12, 30, 16, 0, tzinfo=AMS), NL, None, (),
        (D(2026, 12, 31), D(2027, 1, 4)), (D(2027, 1, 2), D(2027, 1, 6)), utc(2026, 12, 31, 14), 23 * 3600,
        "zone:Domestic",
    ),
    # Fri 07-31 16:00, shop closed Mon 08-03 .. Fri 08-07: starts Mon 10; delivery Tue 11 / Thu 13.
    # Countdown Fri 14:00 UTC -> Mon 10 13:00 UTC = 239 h.
    "closed_week_postpones_dispatch": Case(
        NL_SUMMER_CLOSED, datetime(2026, 7, 31, 16, 0, tzinfo=AMS), NL, None, (),
        (D(2026, 8, 10), D(2026, 8, 11)), (D(2026, 8, 11), D(2026, 8, 13)), utc(2026, 8, 10, 13), 860_400,
        "zone:Domestic",
    ),
    # Thu 07-30 10:00: dispatch Thu 30 / Fri 31; the carrier still delivers while the shop is closed:
    # Fri 31 +2 = Sat 1, Mon 3.
    "closed_days_do_not_stop_the_carrier": Case(
        NL_SUMMER_CLOSED, datetime(2026, 7, 30, 10, 0, tzinfo=AMS), NL, None, (),
        (D(2026, 7, 30), D(2026, 7, 31)), (D(2026, 7, 31), D(2026, 8, 3)), utc(2026, 7, 30, 13), 5 * 3600,
        "zone:Domestic",
    ),
    # US, Fri 09-04 14:00 EDT (after 13:00): weekend, Labor Day Mon 7 -> starts Tue 8; processing 1-2: Wed 9 / Thu 10.
    # Delivery (Mon-Fri): Wed 9 +2 = Fri 11; Thu 10 +5 = Fri 11, Mon 14, Tue 15, Wed 16, Thu 17.
    "us_labor_day_monday_moves_start_to_tuesday": Case(
        US_SHOP, datetime(2026, 9, 4, 14, 0, tzinfo=NYC), Destination("US", "NY"), None, (),
        (D(2026, 9, 9), D(2026, 9, 10)), (D(2026, 9, 11), D(2026, 9, 17)), utc(2026, 9, 8, 17), 342_000,
        "zone:Contiguous US",
    ),
    # US, Wed 11-25 12:00 EST: starts Wed 25; dispatch 1 skips Thanksgiving Thu 26 -> Fri 27, 2 -> Mon 30.
    # Delivery: Fri 27 +2 = Mon 30, Tue 12-01; Mon 30 +5 = Tue 1, Wed 2, Thu 3, Fri 4, Mon 7.
    "us_thanksgiving_is_skipped": Case(
        US_SHOP, datetime(2026, 11, 25, 12, 0, tzinfo=NYC), Destination("US", "IL"), None, (),
        (D(2026, 11, 27), D(2026, 11, 30)), (D(2026, 12, 1), D(2026, 12, 7)), utc(2026, 11, 25, 18), 3600,
        "zone:Contiguous US",
    ),
    # US -> Canada, Mon 06-29 10:00 EDT: dispatch Tue 30 / Wed 07-01 (not a US holiday).
    # Delivery: Tue 30 +2 skips Canada Day Wed 1 -> Thu 2, Fri 3; Wed 1 +4 = Thu 2, Fri 3, Mon 6, Tue 7.
    "us_to_canada_skips_canada_day": Case(
        US_SHOP, datetime(2026, 6, 29, 10, 0, tzinfo=NYC), Destination("CA", "ON"), None, (),
        (D(2026, 6, 30), D(2026, 7, 1)), (D(2026, 7, 3), D(2026, 7, 7)), utc(2026, 6, 29, 17), 3 * 3600,
        "zone:Canada",
    ),
    # NL -> Austria, Thu 10-22 10:00: dispatch Thu 22 / Fri 23. Delivery (Mon-Sat): Thu 22 +2 = Fri 23, Sat 24;
    # Fri 23 +4 = Sat 24, (Mon 26 National Day) Tue 27, Wed 28, Thu 29.
    "nl_to_austria_skips_national_day": Case(
        NL_SHOP, datetime(2026, 10, 22, 10, 0, tzinfo=AMS), Destination("AT"), None, (),
        (D(2026, 10, 22), D(2026, 10, 23)), (D(2026, 10, 24), D(2026, 10, 29)), utc(2026, 10, 22, 13), 5 * 3600,
        "zone:EU",
    ),
    # The same order to Germany, same zone, no holiday: Fri 23 +4 = Sat 24, Mon 26, Tue 27, Wed 28.
    "nl_to_germany_same_week_no_holiday": Case(
        NL_SHOP, datetime(2026, 10, 22, 10, 0, tzinfo=AMS), Destination("DE"), None, (),
        (D(2026, 10, 22), D(2026, 10, 23)), (D(2026, 10, 24), D(2026, 10, 28)), utc(2026, 10, 22, 13), 5 * 3600,
        "zone:EU",
    ),
    # DST, Amsterdam spring forward Sun 03-29. Sat 03-28 12:00 CET (11:00 UTC) -> starts Mon 30, cutoff 15:00 CEST
    # = 13:00 UTC: 50 h, not the 51 h of wall clock. Dispatch Mon 30 / Tue 31; delivery Tue 31 / Thu 04-02.
    "amsterdam_spring_forward_weekend": Case(
        NL_SHOP, datetime(2026, 3, 28, 12, 0, tzinfo=AMS), NL, None, (),
        (D(2026, 3, 30), D(2026, 3, 31)), (D(2026, 3, 31), D(2026, 4, 2)), utc(2026, 3, 30, 13), 50 * 3600,
        "zone:Domestic",
    ),
    # DST, Amsterdam fall back Sun 10-25. Fri 10-23 16:00 CEST (14:00 UTC) -> Mon 26 15:00 CET = 14:00 UTC: 72 h.
    "amsterdam_fall_back_weekend": Case(
        NL_SHOP, datetime(2026, 10, 23, 16, 0, tzinfo=AMS), NL, None, (),
        (D(2026, 10, 26), D(2026, 10, 27)), (D(2026, 10, 27), D(2026, 10, 29)), utc(2026, 10, 26, 14), 72 * 3600,
        "zone:Domestic",
    ),
    # DST, New York spring forward Sun 03-08. Fri 03-06 14:00 EST (19:00 UTC) -> Mon 9 13:00 EDT = 17:00 UTC: 70 h.
    # Dispatch Tue 10 / Wed 11; delivery Wed 11, Thu 12 / Thu 12, Fri 13, Mon 16, Tue 17, Wed 18.
    "new_york_spring_forward_weekend": Case(
        US_SHOP, datetime(2026, 3, 6, 14, 0, tzinfo=NYC), Destination("US", "MA"), None, (),
        (D(2026, 3, 10), D(2026, 3, 11)), (D(2026, 3, 12), D(2026, 3, 18)), utc(2026, 3, 9, 17), 70 * 3600,
        "zone:Contiguous US",
    ),
    # DST, New York fall back Sun 11-01. Fri 10-30 14:00 EDT (18:00 UTC) -> Mon 11-02 13:00 EST = 18:00 UTC: 72 h.
    # Dispatch Tue 3 / Wed 4; delivery Thu 5 / Wed 4 +5 = Thu 5, Fri 6, Mon 9, Tue 10, (Veterans Day) Thu 12.
    "new_york_fall_back_weekend_and_veterans_day": Case(
        US_SHOP, datetime(2026, 10, 30, 14, 0, tzinfo=NYC), Destination("US", "MA"), None, (),
        (D(2026, 11, 3), D(2026, 11, 4)), (D(2026, 11, 5), D(2026, 11, 12)), utc(2026, 11, 2, 18), 72 * 3600,
        "zone:Contiguous US",
    ),
    # UTC+13: Mon 02-09 20:30 UTC is Tue 02-10 09:30 in Auckland, before the cutoff: starts Tue 10.
    # Cutoff Tue 14:00 NZDT = Tue 01:00 UTC: 4.5 h. Dispatch Tue 10 / Wed 11; delivery Wed 11 / Fri 13.
    "auckland_local_tuesday_while_utc_monday": Case(
        NZ_SHOP, utc(2026, 2, 9, 20, 30), Destination("NZ"), None, (),
        (D(2026, 2, 10), D(2026, 2, 11)), (D(2026, 2, 11), D(2026, 2, 13)), utc(2026, 2, 10, 1), 16_200,
        "zone:Domestic",
    ),
    # UTC+13: Thu 02-05 12:00 UTC is already Fri 02-06 01:00 in Auckland, Waitangi Day -> starts Mon 9.
    # Cutoff Mon 14:00 NZDT = Mon 01:00 UTC: 85 h. Delivery Tue 10 / Tue 10 +2 = Thu 12.
    "auckland_waitangi_day_starts_before_utc_does": Case(
        NZ_SHOP, utc(2026, 2, 5, 12), Destination("NZ"), None, (),
        (D(2026, 2, 9), D(2026, 2, 10)), (D(2026, 2, 10), D(2026, 2, 12)), utc(2026, 2, 9, 1), 85 * 3600,
        "zone:Domestic",
    ),
    # UTC+13 all year: Fri 06-12 12:00 UTC is Sat 06-13 01:00 in Tonga (no dispatch) -> starts Mon 15.
    # Cutoff Mon 14:00 = Mon 01:00 UTC: 61 h. Dispatch Mon 15 / Tue 16; delivery Tue 16 / Thu 18.
    "tonga_local_saturday_while_utc_friday": Case(
        TONGA_SHOP, utc(2026, 6, 12, 12), Destination("TO"), None, (),
        (D(2026, 6, 15), D(2026, 6, 16)), (D(2026, 6, 16), D(2026, 6, 18)), utc(2026, 6, 15, 1), 61 * 3600,
        "zone:Tonga",
    ),
    # UTC-10: Sat 06-13 01:30 UTC is Fri 06-12 15:30 in Honolulu, before its 17:00 cutoff: ships Friday.
    # Cutoff Fri 17:00 HST = Sat 03:00 UTC: 1.5 h. Dispatch Fri 12 / Mon 15; delivery Sat 13 / Wed 17.
    "honolulu_local_friday_while_utc_saturday": Case(
        HAWAII_SHOP, utc(2026, 6, 13, 1, 30), Destination("US", "HI"), None, (),
        (D(2026, 6, 12), D(2026, 6, 15)), (D(2026, 6, 13), D(2026, 6, 17)), utc(2026, 6, 13, 3), 5400,
        "zone:Hawaii",
    ),
    # Tue 06-09 10:00, pre-order replaces processing with 14-21 dispatch days (no NL holidays in June/July):
    # 14th dispatch day after Tue 9 = Mon 29, 21st = Wed 07-08. Delivery Tue 30 / Wed 8 +2 = Fri 07-10.
    "pre_order_replaces_processing": Case(
        NL_SHOP, datetime(2026, 6, 9, 10, 0, tzinfo=AMS), NL, None, [[" Pre-Order "]],
        (D(2026, 6, 29), D(2026, 7, 8)), (D(2026, 6, 30), D(2026, 7, 10)), utc(2026, 6, 9, 13), 5 * 3600,
        "zone:Domestic+tag:pre-order",
    ),
    # made-to-order adds 3 days: processing 3-4 -> dispatch Fri 12 / Mon 15; delivery Sat 13 / Wed 17.
    "made_to_order_adds_days": Case(
        NL_SHOP, datetime(2026, 6, 9, 10, 0, tzinfo=AMS), NL, None, [["made-to-order", "linen"]],
        (D(2026, 6, 12), D(2026, 6, 15)), (D(2026, 6, 13), D(2026, 6, 17)), utc(2026, 6, 9, 13), 5 * 3600,
        "zone:Domestic+tag:made-to-order",
    ),
    # Rules on one item stack: +3 and +2 -> processing 5-6 -> dispatch Tue 16 / Wed 17; delivery Wed 17 / Fri 19.
    "add_days_of_several_tags_stack": Case(
        NL_SHOP, datetime(2026, 6, 9, 10, 0, tzinfo=AMS), NL, None, [["Engraving", "made-to-order"]],
        (D(2026, 6, 16), D(2026, 6, 17)), (D(2026, 6, 17), D(2026, 6, 19)), utc(2026, 6, 9, 13), 5 * 3600,
        "zone:Domestic+tag:made-to-order+tag:engraving",
    ),
    # A cart: the pre-order item is the slowest and decides (same dates as the pre-order case).
    "slowest_item_in_the_cart_decides": Case(
        NL_SHOP, datetime(2026, 6, 9, 10, 0, tzinfo=AMS), NL, None,
        [["basics"], ["made-to-order"], ["pre-order"]],
        (D(2026, 6, 29), D(2026, 7, 8)), (D(2026, 6, 30), D(2026, 7, 10)), utc(2026, 6, 9, 13), 5 * 3600,
        "zone:Domestic+tag:pre-order",
    ),
    # bundle 6-6 and custom 2-9: earliest from the bundle (6), latest from custom (9).
    # 6th dispatch day after Tue 9 = Wed 17, 9th = Mon 22. Delivery Thu 18 / Mon 22 +2 = Wed 24.
    "earliest_and_latest_can_come_from_different_items": Case(
        NL_SHOP, datetime(2026, 6, 9, 10, 0, tzinfo=AMS), NL, None, [["bundle"], ["custom"]],
        (D(2026, 6, 17), D(2026, 6, 22)), (D(2026, 6, 18), D(2026, 6, 24)), utc(2026, 6, 9, 13), 5 * 3600,
        "zone:Domestic+tag:custom+tag:bundle",
    ),
    # express overrides the zone's 1-2 with 1-1: delivery Wed 10 / Thu 11.
    "shipping_method_overrides_zone_transit": Case(
        NL_SHOP, datetime(2026, 6, 9, 10, 0, tzinfo=AMS), NL, "express", (),
        (D(2026, 6, 9), D(2026, 6, 10)), (D(2026, 6, 10), D(2026, 6, 11)), utc(2026, 6, 9, 13), 5 * 3600,
        "zone:Domestic+method:express",
    ),
    # A method the zone does not list falls back to the zone's transit.
    "unknown_method_uses_zone_transit": Case(
        NL_SHOP, datetime(2026, 6, 9, 10, 0, tzinfo=AMS), NL, "freight", (),
        (D(2026, 6, 9), D(2026, 6, 10)), (D(2026, 6, 10), D(2026, 6, 12)), utc(2026, 6, 9, 13), 5 * 3600,
        "zone:Domestic",
    ),
    # Transit 0 = delivered on the dispatch date: Fri 12 / Mon 15.
    "same_day_transit_delivers_on_dispatch_date": Case(
        NL_SHOP, datetime(2026, 6, 12, 10, 0, tzinfo=AMS), NL, "same-day", (),
        (D(2026, 6, 12), D(2026, 6, 15)), (D(2026, 6, 12), D(2026, 6, 15)), utc(2026, 6, 12, 13), 5 * 3600,
        "zone:Domestic+method:same-day",
    ),
    # Japan is in no zone: the default zone (5-10, Mon-Sat, no JP holidays in June). Tue 9 +5 = Wed 10, Thu 11,
    # Fri 12, Sat 13, Mon 15; Wed 10 +10 = Thu 11 .. Sat 13 (3), Mon 15 .. Sat 20 (9), Mon 22.
    "default_zone_serves_other_countries": Case(
        NL_WORLDWIDE, datetime(2026, 6, 9, 10, 0, tzinfo=AMS), Destination("JP"), None, (),
        (D(2026, 6, 9), D(2026, 6, 10)), (D(2026, 6, 15), D(2026, 6, 22)), utc(2026, 6, 9, 13), 5 * 3600,
        "default zone",
    ),
    "default_zone_method_override": Case(  # courier 3-4: Tue 9 +3 = Fri 12; Wed 10 +4 = Thu 11 .. Sat 13, Mon 15.
        NL_WORLDWIDE, datetime(2026, 6, 9, 10, 0, tzinfo=AMS), Destination("JP"), "courier", (),
        (D(2026, 6, 9), D(2026, 6, 10)), (D(2026, 6, 12), D(2026, 6, 15)), utc(2026, 6, 9, 13), 5 * 3600,
        "default zone+method:courier",
    ),
    # US-HI is listed in a zone before "US": Hawaii & Alaska, 4-8. Tue 06-09 10:00 EDT: dispatch Wed 10 / Thu 11.
    # Wed 10 +4 = Thu 11, Fri 12, Mon 15, Tue 16; Thu 11 +8 = Fri 12, Mon 15-Thu 18 (5), (Juneteenth Fri 19),
    # Mon 22, Tue 23, Wed 24.
    "hawaii_zone_listed_before_us_wins": Case(
        US_SHOP, datetime(2026, 6, 9, 10, 0, tzinfo=NYC), Destination("US", "HI"), None, (),
        (D(2026, 6, 10), D(2026, 6, 11)), (D(2026, 6, 16), D(2026, 6, 24)), utc(2026, 6, 9, 17), 3 * 3600,
        "zone:Hawaii & Alaska",
    ),
}
# fmt: on


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_hand_computed_dates(case: Case) -> None:
    promise = compute(case.shop, case.now, case.destination, case.method, case.items)

    assert promise.served and promise.reason is None
    assert (promise.dispatch_earliest, promise.dispatch_latest) == case.dispatch
    assert (promise.earliest, promise.latest) == case.delivery
    assert promise.cutoff_at is not None
    assert promise.cutoff_at.tzinfo == ZoneInfo(case.shop.timezone)
    assert promise.cutoff_at.astimezone(UTC) == case.cutoff_utc
    assert promise.seconds_to_cutoff == case.seconds
    assert promise.rule == case.rule


# --- cutoff and DST ------------------------------------------------------------------------------------------------


def test_cutoff_passed_on_friday_moves_to_monday() -> None:
    promise = compute(NL_SHOP, datetime(2026, 6, 12, 15, 0, 1, tzinfo=AMS), NL)  # Fri, 1 s past 15:00
    assert promise.dispatch_earliest == date(2026, 6, 15)  # Monday
    assert promise.cutoff_at == datetime(2026, 6, 15, 15, 0, tzinfo=AMS)
    assert promise.seconds_to_cutoff == 3 * 86_400 - 1


def test_countdown_uses_whole_seconds_rounded_down() -> None:
    promise = compute(NL_SHOP, datetime(2026, 6, 9, 14, 59, 58, 999_999, tzinfo=AMS), NL)
    assert promise.seconds_to_cutoff == 1  # 1.000001 s left


def test_cutoff_in_the_spring_forward_gap_is_the_moment_after_the_gap() -> None:
    # 02:30 does not exist on Sun 2026-03-29 in Amsterdam (02:00 CET -> 03:00 CEST): the cutoff is 03:00 CEST.
    promise = compute(NL_NIGHT_SHOP, datetime(2026, 3, 29, 0, 30, tzinfo=AMS), NL)  # 00:30 CET = Sat 23:30 UTC
    assert promise.cutoff_at is not None
    assert promise.cutoff_at.astimezone(UTC) == utc(2026, 3, 29, 1)
    assert (promise.cutoff_at.hour, promise.cutoff_at.minute) == (3, 0)
    assert promise.seconds_to_cutoff == 90 * 60
    # Ships Sunday (every day is a dispatch day here); delivered Mon 30 / Mon 30 +2 = Wed 04-01.
    assert (promise.dispatch_earliest, promise.dispatch_latest) == (date(2026, 3, 29), date(2026, 3, 30))
    assert (promise.earliest, promise.latest) == (date(2026, 3, 30), date(2026, 4, 1))


def test_order_after_the_gap_counts_down_to_the_next_day() -> None:
    promise = compute(NL_NIGHT_SHOP, utc(2026, 3, 29, 1, 10), NL)  # 03:10 CEST, past the (03:00) cutoff
    assert promise.cutoff_at == datetime(2026, 3, 30, 2, 30, tzinfo=AMS)  # 00:30 UTC
    assert promise.seconds_to_cutoff == 23 * 3600 + 20 * 60
    assert promise.dispatch_earliest == date(2026, 3, 30)


def test_ambiguous_cutoff_on_fall_back_is_the_first_occurrence() -> None:
    # 02:30 happens twice on Sun 2026-10-25 in Amsterdam; the cutoff is the first, 02:30 CEST = 00:30 UTC.
    promise = compute(NL_NIGHT_SHOP, utc(2026, 10, 25, 0, 0), NL)  # 02:00 CEST
    assert promise.cutoff_at is not None
    assert promise.cutoff_at.astimezone(UTC) == utc(2026, 10, 25, 0, 30)
    assert promise.cutoff_at.utcoffset() == timedelta(hours=2)
    assert promise.seconds_to_cutoff == 1800
    assert promise.dispatch_earliest == date(2026, 10, 25)


def test_second_pass_of_the_repeated_hour_is_after_the_cutoff() -> None:
    # 01:15 UTC is 02:15 CET, wall time before 02:30 but after the cutoff moment (00:30 UTC) already passed.
    promise = compute(NL_NIGHT_SHOP, utc(2026, 10, 25, 1, 15), NL)
    assert promise.dispatch_earliest == date(2026, 10, 26)
    assert promise.cutoff_at is not None
    assert promise.cutoff_at.astimezone(UTC) == utc(2026, 10, 26, 1, 30)  # Mon 02:30 CET
    assert promise.seconds_to_cutoff == 24 * 3600 + 15 * 60


def test_new_york_ambiguous_cutoff_is_the_daylight_time_one() -> None:
    night = replace(US_SHOP, cutoff=time(1, 30), dispatch_weekdays=EVERY_DAY)
    promise = compute(night, utc(2026, 11, 1, 5, 0), Destination("US"))  # 01:00 EDT
    assert promise.cutoff_at is not None
    assert promise.cutoff_at.astimezone(UTC) == utc(2026, 11, 1, 5, 30)  # 01:30 EDT, not 01:30 EST (06:30 UTC)
    assert promise.seconds_to_cutoff == 1800


def test_now_in_any_timezone_gives_the_same_promise() -> None:
    local = datetime(2026, 6, 12, 16, 30, tzinfo=AMS)
    assert compute(NL_SHOP, local, NL) == compute(NL_SHOP, local.astimezone(UTC), NL)
    assert compute(NL_SHOP, local, NL) == compute(NL_SHOP, local.astimezone(HNL), NL)


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        compute(NL_SHOP, datetime(2026, 6, 9, 10, 0), NL)


# --- holidays ------------------------------------------------------------------------------------------------------


def test_origin_holidays_can_be_ignored() -> None:
    # Thu 04-02 16:00 without NL holidays: starts Good Friday 04-03, dispatch Fri 3 / Mon 6.
    shop = replace(NL_SHOP, observe_origin_holidays=False)
    promise = compute(shop, datetime(2026, 4, 2, 16, 0, tzinfo=AMS), NL)
    assert (promise.dispatch_earliest, promise.dispatch_latest) == (date(2026, 4, 3), date(2026, 4, 6))
    # Destination holidays still apply: Fri 3 +1 -> Sat 4; Mon 6 (Easter Monday) +2 -> Tue 7, Wed 8.
    assert (promise.earliest, promise.latest) == (date(2026, 4, 4), date(2026, 4, 8))


def test_destination_holidays_can_be_ignored() -> None:
    # The Canada Day order: Tue 06-30 +2 = Wed 07-01, Thu 2 when the carrier works through Canada Day.
    shop = replace(US_SHOP, observe_destination_holidays=False)
    promise = compute(shop, datetime(2026, 6, 29, 10, 0, tzinfo=NYC), Destination("CA", "ON"))
    assert (promise.earliest, promise.latest) == (date(2026, 7, 2), date(2026, 7, 7))


def test_unknown_country_has_no_holidays() -> None:
    assert public_holidays("XX", 2026) == frozenset()
    assert date(2026, 4, 6) in public_holidays("NL", 2026)


# --- zones ---------------------------------------------------------------------------------------------------------


def test_country_not_served_without_default_zone() -> None:
    promise = compute(NL_SHOP, datetime(2026, 6, 9, 10, 0, tzinfo=AMS), Destination("JP"), "express", [["pre-order"]])
    assert promise == Promise(
        served=False,
        reason="destination_not_served",
        earliest=None,
        latest=None,
        dispatch_earliest=None,
        dispatch_latest=None,
        cutoff_at=None,
        seconds_to_cutoff=None,
        zone=None,
        rule="not served",
    )


@pytest.mark.parametrize(
    ("destination", "zone"),
    [
        (Destination("US", "HI"), "Hawaii & Alaska"),
        (Destination("us", "hi"), "Hawaii & Alaska"),
        (Destination("US", "US-AK"), "Hawaii & Alaska"),
        (Destination("US", "CA"), "Contiguous US"),
        (Destination("US"), "Contiguous US"),
        (Destination("CA", "QC"), "Canada"),
    ],
)
def test_zone_matching_by_country_and_region(destination: Destination, zone: str) -> None:
    promise = compute(US_SHOP, datetime(2026, 6, 9, 10, 0, tzinfo=NYC), destination)
    assert promise.zone == zone
    assert promise.rule == f"zone:{zone}"


def test_first_matching_zone_wins_even_if_less_specific() -> None:
    shop = replace(US_SHOP, zones=(US_SHOP.zones[1], US_SHOP.zones[0]))  # "US" now listed before "US-HI"
    assert compute(shop, datetime(2026, 6, 9, 10, 0, tzinfo=NYC), Destination("US", "HI")).zone == "Contiguous US"


def test_region_zone_serves_only_that_region() -> None:
    shop = replace(US_SHOP, zones=(Zone("Québec", ("CA-QC",), 3, 6),))
    now = datetime(2026, 6, 9, 10, 0, tzinfo=NYC)
    assert compute(shop, now, Destination("CA", "QC")).zone == "Québec"
    assert not compute(shop, now, Destination("CA", "ON")).served
    assert not compute(shop, now, Destination("CA")).served


def test_default_zone_is_named_in_zone_field() -> None:
    promise = compute(NL_WORLDWIDE, datetime(2026, 6, 9, 10, 0, tzinfo=AMS), Destination("JP"))
    assert (promise.zone, promise.rule) == ("World", "default zone")


# --- tag rules -----------------------------------------------------------------------------------------------------


def test_tags_match_trimmed_and_case_insensitive() -> None:
    now = datetime(2026, 6, 9, 10, 0, tzinfo=AMS)
    expected = compute(NL_SHOP, now, NL, item_tags=[["pre-order"]])
    assert compute(NL_SHOP, now, NL, item_tags=[["  PRE-ORDER"]]) == expected
    assert compute(NL_SHOP, now, NL, item_tags=["sale, Pre-Order"]) == expected  # Shopify's comma-separated form
    assert TagRule(" Pre-Order ").tag == "pre-order"


def test_no_items_or_untagged_items_use_shop_processing() -> None:
    now = datetime(2026, 6, 9, 10, 0, tzinfo=AMS)
    plain = compute(NL_SHOP, now, NL)
    assert compute(NL_SHOP, now, NL, item_tags=[["sale"], []]) == plain
    assert plain.rule == "zone:Domestic"


def test_pre_order_with_add_days_applies_replacement_first() -> None:
    # processing (2, 2) then +1 = 3-3: 3rd dispatch day after Tue 06-09 = Fri 12.
    shop = replace(NL_SHOP, tag_rules=(TagRule("preorder-plus", add_days=1, processing=(2, 2)),))
    promise = compute(shop, datetime(2026, 6, 9, 10, 0, tzinfo=AMS), NL, item_tags=[["preorder-plus"]])
    assert (promise.dispatch_earliest, promise.dispatch_latest) == (date(2026, 6, 12), date(2026, 6, 12))


# --- validation ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"dispatch_weekdays": frozenset()}, "dispatch_weekdays is empty"),
        ({"carrier_weekdays": frozenset()}, "carrier_weekdays is empty"),
        ({"dispatch_weekdays": frozenset({7})}, "weekdays 0"),
        ({"processing_min": 3, "processing_max": 2}, "processing"),
        ({"processing_min": -1}, "processing"),
        ({"timezone": "Mars/Olympus_Mons"}, "unknown time zone"),
        ({"cutoff": time(15, 0, tzinfo=UTC)}, "naive"),
    ],
)
def test_invalid_settings_are_rejected_at_construction(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(NL_SHOP, **changes)  # type: ignore[arg-type]


def test_invalid_zones_and_rules_are_rejected() -> None:
    with pytest.raises(ValueError, match="transit"):
        Zone("Bad", ("NL",), 3, 1)
    with pytest.raises(ValueError, match="single string"):
        Zone("Bad", "NL", 1, 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="method 'x'"):
        Zone("Bad", ("NL",), 1, 2, {"x": (2, 1)})
    with pytest.raises(ValueError, match="add_days"):
        TagRule("x", add_days=-1)
    with pytest.raises(ValueError, match="processing"):
        TagRule("x", processing=(5, 4))


def test_a_year_without_dispatch_days_is_an_unserved_promise_not_an_error() -> None:
    shop = replace(NL_SHOP, closed_dates=frozenset(date(2026, 11, 1) + timedelta(days=n) for n in range(800)))
    promise = compute(shop, datetime(2026, 11, 30, 10, 0, tzinfo=AMS), NL)
    assert (promise.served, promise.reason, promise.earliest, promise.latest) == (False, "no_dispatch_day", None, None)
    assert promise.rule == "zone:Domestic: no dispatch day within 366 days"


def test_processing_longer_than_the_open_days_of_a_year_is_an_unserved_promise() -> None:
    # Closed for ten months starting a week after the order: the 30 processing days cannot be counted.
    shop = replace(NL_SHOP, processing_min=30, processing_max=30,
                   closed_dates=frozenset(date(2026, 6, 15) + timedelta(days=n) for n in range(370)))
    assert compute(shop, datetime(2026, 6, 8, 10, 0, tzinfo=AMS), NL).reason == "no_dispatch_day"


def test_settings_and_zones_are_hashable_values() -> None:
    zone = Zone("Domestic", ["nl"], 1, 2, {"express": (1, 1)})  # type: ignore[arg-type]
    same = Zone("Domestic", ("NL",), 1, 2, {"express": (1, 1)})
    assert zone == same and hash(zone) == hash(same)
    assert zone.regions == ("NL",)
    with pytest.raises(TypeError):
        zone.methods["x"] = (1, 1)  # type: ignore[index]
    assert hash(NL_SHOP) == hash(replace(NL_SHOP))


# --- properties ----------------------------------------------------------------------------------------------------

# Lord Howe moves its clocks by 30 min; Santiago changes at midnight, so a local date repeats or is cut short.
SHOP_ZONES = [AMS, NYC, AKL, TBU, HNL, ZoneInfo("Australia/Lord_Howe"), ZoneInfo("America/Santiago")]
ZONES: list[tzinfo] = [*SHOP_ZONES, UTC]
COUNTRIES = ["NL", "US", "NZ", "DE", "AT", "CA", "CL", "JP"]
TAGS = ["pre-order", "made-to-order", "engraving", "sale"]
PROPERTY_SETTINGS = settings(
    max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def day_ranges(low: int, high: int) -> st.SearchStrategy[tuple[int, int]]:
    return st.tuples(st.integers(low, high), st.integers(low, high)).map(lambda pair: (min(pair), max(pair)))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[PromiseSettings, datetime, Destination, str | None, list[list[str]]]:
    now = draw(
        st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 6, 30), timezones=st.sampled_from(ZONES))
    )
    shop_zone = draw(st.sampled_from(SHOP_ZONES))
    today = now.astimezone(shop_zone).date()
    processing = draw(day_ranges(0, 6))
    transit = draw(day_ranges(1, 6))  # transit 0 delivers on the dispatch date, whatever day that is
    express = draw(day_ranges(1, 3))
    country = draw(st.sampled_from(COUNTRIES))
    shop = PromiseSettings(
        timezone=shop_zone.key,
        origin_country=draw(st.sampled_from(COUNTRIES)),
        cutoff=draw(st.times()),
        processing_min=processing[0],
        processing_max=processing[1],
        dispatch_weekdays=draw(st.frozensets(st.integers(0, 6), min_size=1)),
        closed_dates=frozenset(today + timedelta(days=n) for n in draw(st.sets(st.integers(-5, 40), max_size=25))),
        carrier_weekdays=draw(st.frozensets(st.integers(0, 6), min_size=1)),
        zones=(Zone("Main", (country,), transit[0], transit[1], {"express": express}),),
        default_zone=draw(st.none() | st.builds(lambda t: Zone("World", (), t[0], t[1]), day_ranges(1, 9))),
        tag_rules=(
            TagRule("pre-order", processing=draw(day_ranges(5, 25))),
            TagRule("made-to-order", add_days=draw(st.integers(0, 5))),
            TagRule("engraving", add_days=draw(st.integers(0, 3))),
        ),
        observe_origin_holidays=draw(st.booleans()),
        observe_destination_holidays=draw(st.booleans()),
    )
    destination = Destination(draw(st.sampled_from([country, country, "BR"])))
    method = draw(st.sampled_from([None, "express", "unknown"]))
    items = draw(st.lists(st.lists(st.sampled_from(TAGS), max_size=3), max_size=4))
    return shop, now, destination, method, items


Scenario = tuple[PromiseSettings, datetime, Destination, str | None, list[list[str]]]


def served(scenario: Scenario) -> Promise:
    shop, now, destination, method, items = scenario
    promise = compute(shop, now, destination, method, items)
    if not promise.served:
        assert shop.default_zone is None and destination.country == "BR"
        assert promise.earliest is None and promise.cutoff_at is None and promise.rule == "not served"
    return promise


@PROPERTY_SETTINGS
@given(scenarios())
def test_property_delivery_only_on_carrier_days_outside_destination_holidays(scenario: Scenario) -> None:
    promise = served(scenario)
    shop, _, destination, _, _ = scenario
    for day in (promise.earliest, promise.latest):
        if day is None:
            continue
        assert day.weekday() in shop.carrier_weekdays
        if shop.observe_destination_holidays:
            assert day not in public_holidays(destination.country, day.year)


@PROPERTY_SETTINGS
@given(scenarios())
def test_property_dispatch_only_on_open_dispatch_days(scenario: Scenario) -> None:
    promise = served(scenario)
    shop = scenario[0]
    for day in (promise.dispatch_earliest, promise.dispatch_latest):
        if day is None:
            continue
        assert day.weekday() in shop.dispatch_weekdays
        assert day not in shop.closed_dates
        if shop.observe_origin_holidays:
            assert day not in public_holidays(shop.origin_country, day.year)


@PROPERTY_SETTINGS
@given(scenarios())
def test_property_dates_are_ordered_and_not_before_local_today(scenario: Scenario) -> None:
    promise = served(scenario)
    shop, now, *_ = scenario
    if not promise.served:
        return
    assert promise.earliest and promise.latest and promise.dispatch_earliest and promise.dispatch_latest
    today = now.astimezone(ZoneInfo(shop.timezone)).date()
    assert today <= promise.dispatch_earliest <= promise.dispatch_latest <= promise.latest
    assert promise.dispatch_earliest <= promise.earliest <= promise.latest


@PROPERTY_SETTINGS
@given(scenarios())
def test_property_countdown_is_positive_and_exact(scenario: Scenario) -> None:
    promise = served(scenario)
    _, now, *_ = scenario
    if not promise.served:
        return
    assert promise.cutoff_at is not None and promise.seconds_to_cutoff is not None
    left = promise.cutoff_at.astimezone(UTC) - now.astimezone(UTC)
    assert left > timedelta(0)
    assert promise.seconds_to_cutoff >= 0
    assert promise.seconds_to_cutoff == math.floor(left.total_seconds())


@PROPERTY_SETTINGS
@given(scenarios(), st.integers(1, 40 * 86_400_000_000))
def test_property_never_earlier_when_ordering_later(scenario: Scenario, later_us: int) -> None:
    shop, now, destination, method, items = scenario
    before = compute(shop, now, destination, method, items)
    after = compute(shop, now.astimezone(UTC) + timedelta(microseconds=later_us), destination, method, items)
    if not before.served:
        return
    assert before.earliest and after.earliest and before.latest and after.latest
    assert before.cutoff_at and after.cutoff_at and before.dispatch_earliest and after.dispatch_earliest
    assert after.earliest >= before.earliest
    assert after.latest >= before.latest
    assert after.dispatch_earliest >= before.dispatch_earliest
    assert after.cutoff_at.astimezone(UTC) >= before.cutoff_at.astimezone(UTC)


@PROPERTY_SETTINGS
@given(scenarios(), st.floats(0, 1, exclude_max=True))
def test_property_countdown_target_holds_until_it_passes(scenario: Scenario, fraction: float) -> None:
    shop, now, destination, method, items = scenario
    before = compute(shop, now, destination, method, items)
    if not before.served:
        return
    assert before.cutoff_at is not None
    cutoff = before.cutoff_at.astimezone(UTC)
    start = now.astimezone(UTC)
    total = (cutoff - start) // timedelta(microseconds=1)
    meanwhile = start + timedelta(microseconds=min(int(total * fraction), total - 1))
    during = compute(shop, meanwhile, destination, method, items)
    assert during == replace(before, seconds_to_cutoff=during.seconds_to_cutoff)
    at_cutoff = compute(shop, cutoff, destination, method, items)
    assert at_cutoff.cutoff_at is not None and at_cutoff.dispatch_earliest and before.dispatch_earliest
    assert at_cutoff.cutoff_at.astimezone(UTC) > cutoff
    assert at_cutoff.dispatch_earliest > before.dispatch_earliest


@PROPERTY_SETTINGS
@given(scenarios())
def test_property_slowest_item_decides_the_cart(scenario: Scenario) -> None:
    shop, now, destination, method, items = scenario
    cart = compute(shop, now, destination, method, items)
    if not cart.served or len(items) < 2:
        return
    singles = [compute(shop, now, destination, method, [item]) for item in items]
    assert cart.earliest == max(single.earliest for single in singles if single.earliest)
    assert cart.latest == max(single.latest for single in singles if single.latest)


@PROPERTY_SETTINGS
@given(scenarios(), st.sampled_from(ZONES))
def test_property_the_zone_now_is_expressed_in_does_not_matter(scenario: Scenario, other: tzinfo) -> None:
    shop, now, destination, method, items = scenario
    assert compute(shop, now, destination, method, items) == compute(
        shop, now.astimezone(other), destination, method, items
    )
