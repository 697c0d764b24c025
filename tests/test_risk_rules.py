"""The risk rules on hand-built shipment histories: the state an order is in at chosen moments."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from cxplugin.promise.calculator import PromiseSettings, Zone
from cxplugin.risk import rules
from cxplugin.risk.rules import OrderFacts, Scan, ShipmentFacts, Thresholds

# A São Paulo shop (UTC-3); carriers work Monday to Friday. Monday 2026-11-02 is a Brazilian public holiday.
SHOP = PromiseSettings(
    timezone="America/Sao_Paulo", origin_country="BR", cutoff=time(14, 0), processing_min=1, processing_max=1,
    dispatch_weekdays=frozenset(range(5)), closed_dates=frozenset(), carrier_weekdays=frozenset(range(5)),
    zones=(Zone("Domestic", ("BR",), 2, 4),), default_zone=None)
THRESHOLDS = Thresholds(stall_days=2, likely_late_below=0.5)


def local(day: str, hour: int = 10) -> datetime:
    """A shop-local wall time in São Paulo (UTC-3), as an aware UTC time."""
    return datetime.combine(date.fromisoformat(day), time(hour), tzinfo=UTC) + timedelta(hours=3)


def order(*shipments: ShipmentFacts, latest: str = "2026-11-10", dispatch: str = "2026-10-28",
          country: str = "BR", transit: tuple[tuple[int, float], ...] = (),
          hours: tuple[float, ...] = ()) -> OrderFacts:
    return OrderFacts(placed_at=local("2026-10-27"), promised_latest=date.fromisoformat(latest),
                      dispatch_latest=date.fromisoformat(dispatch), destination_country=country,
                      shipments=shipments, transit_distribution=transit, delivery_hours=hours)


# The shop's parcels arrive between 08:00 and 18:00, evenly.
OFFICE_HOURS = tuple(0.1 if 8 <= hour < 18 else 0.0 for hour in range(24))
SHIPPED_MONDAY = ShipmentFacts(shipped_at=local("2026-10-26"), scans=(Scan("in_transit", local("2026-10-28")),))
SLOW_TAIL = ((2, 0.5), (3, 0.4), (10, 0.1))

SHIPPED_WED_SCANNED_THU = ShipmentFacts(
    shipped_at=local("2026-10-28", 16), scans=(Scan("confirmed", local("2026-10-28", 16)),
                                               Scan("in_transit", local("2026-10-29", 9))))

# (name, order, moment, expected state, expected new date or None)
TABLE = [
    ("not shipped, dispatch day not over", order(), local("2026-10-28", 18), "on_track", None),
    ("not shipped the day after the latest dispatch day", order(), local("2026-10-29", 8), "late_dispatch", None),
    ("dispatched late but, by the route's transit, a parcel handed over today still arrives in time",
     order(transit=((1, 0.5), (2, 0.5))), local("2026-10-29", 8), "on_track", None),
    ("dispatched late, too little time left: expected two carrier days on, past the weekend and the holiday",
     order(latest="2026-10-30", transit=((2, 0.5), (3, 0.5))), local("2026-10-29", 8), "late_dispatch",
     date(2026, 11, 3)),
    ("only a cancelled shipment counts as not shipped",
     order(ShipmentFacts(shipped_at=local("2026-10-28"), fulfillment_status="cancelled")), local("2026-10-29"),
     "late_dispatch", None),
    ("scanned Thursday, quiet over the weekend and the Monday holiday: one business day",
     order(SHIPPED_WED_SCANNED_THU), local("2026-11-03", 9), "on_track", None),
    ("scanned Thursday, quiet Friday and Tuesday: stalled on Wednesday",
     order(SHIPPED_WED_SCANNED_THU), local("2026-11-04", 9), "stalled", None),
    ("to a country without the holiday the same silence stalls a day earlier",
     order(SHIPPED_WED_SCANNED_THU, country="US"), local("2026-11-03", 9), "stalled", None),
    ("scans out of order and repeated read the same",
     order(ShipmentFacts(shipped_at=local("2026-10-28", 16), scans=(
         Scan("in_transit", local("2026-10-29", 9)), Scan("confirmed", local("2026-10-28", 16)),
         Scan("in_transit", local("2026-10-29", 9))))), local("2026-11-03", 9), "on_track", None),
    ("a scan stamped after the moment asked about is not known yet",
     order(ShipmentFacts(shipped_at=local("2026-10-28", 16), scans=(Scan("in_transit", local("2026-11-04", 9)),))),
     local("2026-11-03", 9), "stalled", None),
    ("carrier estimate after the promised date",
     order(ShipmentFacts(shipped_at=local("2026-10-28"), estimated_delivery_at=local("2026-11-12"),
                         scans=(Scan("in_transit", local("2026-10-29")),))),
     local("2026-10-29", 12), "carrier_eta_late", date(2026, 11, 12)),
    ("failed delivery attempt is a delivery problem",
     order(ShipmentFacts(shipped_at=local("2026-10-28"), scans=(Scan("in_transit", local("2026-10-29")),
                                                                Scan("attempted_delivery", local("2026-10-30"))))),
     local("2026-10-30", 15), "delivery_problem", None),
    ("a failed attempt followed by a new scan is back on its way",
     order(ShipmentFacts(shipped_at=local("2026-10-28"), scans=(Scan("attempted_delivery", local("2026-10-30")),
                                                                Scan("in_transit", local("2026-10-30", 12))))),
     local("2026-10-30", 15), "on_track", None),
    ("promise passed, not delivered", order(SHIPPED_WED_SCANNED_THU, latest="2026-11-03"),
     local("2026-11-04", 1), "late", None),
    ("delivered after the promise", order(ShipmentFacts(shipped_at=local("2026-10-28"),
                                                        delivered_at=local("2026-11-05")), latest="2026-11-03"),
     local("2026-11-06"), "delivered_late", date(2026, 11, 5)),
    ("delivered on the promised day", order(ShipmentFacts(shipped_at=local("2026-10-28"),
                                                          delivered_at=local("2026-11-03", 20)), latest="2026-11-03"),
     local("2026-11-06"), "on_track", date(2026, 11, 3)),
    # Learned transit: 2 days (50 %), 3 days (40 %), 10 days (10 %). Shipped Monday 26, promised Friday 30.
    ("two carrier days in, 80 % still arrive in time",
     order(ShipmentFacts(shipped_at=local("2026-10-26"), scans=(Scan("in_transit", local("2026-10-28")),)),
           latest="2026-10-30", dispatch="2026-10-26", transit=((2, 0.5), (3, 0.4), (10, 0.1))),
     local("2026-10-29", 8), "on_track", None),
    ("three carrier days in, only the slow tail is left: likely late, expected after ten carrier days",
     order(ShipmentFacts(shipped_at=local("2026-10-26"), scans=(Scan("in_transit", local("2026-10-29")),)),
           latest="2026-10-30", dispatch="2026-10-26", transit=((2, 0.5), (3, 0.4), (10, 0.1))),
     local("2026-10-30", 8), "likely_late", date(2026, 11, 10)),
    # The same parcel promised by Thursday 29, its third carrier day, judged by the hour.
    ("on its last day at 09:00 most of the day's deliveries are still ahead",
     order(SHIPPED_MONDAY, latest="2026-10-29", dispatch="2026-10-26", transit=SLOW_TAIL, hours=OFFICE_HOURS),
     local("2026-10-29", 9), "on_track", None),
    ("on its last day at 17:00, nine tenths of the day's deliveries made without it: likely late",
     order(SHIPPED_MONDAY, latest="2026-10-29", dispatch="2026-10-26", transit=SLOW_TAIL, hours=OFFICE_HOURS),
     local("2026-10-29", 17), "likely_late", date(2026, 11, 10)),
    ("without learned hours the whole last day counts as ahead",
     order(SHIPPED_MONDAY, latest="2026-10-29", dispatch="2026-10-26", transit=SLOW_TAIL),
     local("2026-10-29", 17), "on_track", None),
]


@pytest.mark.parametrize(("name", "facts", "now", "state", "new_date"), TABLE, ids=[row[0] for row in TABLE])
def test_risk_state_at_a_moment(name: str, facts: OrderFacts, now: datetime, state: str,
                                new_date: date | None) -> None:
    verdict = rules.assess(SHOP, facts, now, THRESHOLDS)
    assert verdict.state == state, verdict.reason
    assert verdict.new_expected == new_date


def test_a_higher_stall_threshold_waits_longer() -> None:
    facts = order(SHIPPED_WED_SCANNED_THU)
    assert rules.assess(SHOP, facts, local("2026-11-04", 9), Thresholds(stall_days=3)).state == "on_track"
    assert rules.assess(SHOP, facts, local("2026-11-05", 9), Thresholds(stall_days=3)).state == "stalled"


def test_the_likely_late_threshold_is_the_merchants_to_set() -> None:
    # Two carrier days in, 80 % chance: below a 0.9 threshold it is flagged, below 0.5 it is not.
    facts = order(ShipmentFacts(shipped_at=local("2026-10-26"), scans=(Scan("in_transit", local("2026-10-28")),)),
                  latest="2026-10-30", dispatch="2026-10-26", transit=((2, 0.5), (3, 0.4), (10, 0.1)))
    assert rules.assess(SHOP, facts, local("2026-10-29", 8), Thresholds(likely_late_below=0.9)).state == "likely_late"
    assert rules.assess(SHOP, facts, local("2026-10-29", 8), Thresholds(likely_late_below=0.5)).state == "on_track"
