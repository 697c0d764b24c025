"""Is an order's delivery promise at risk, and why. PURE: no I/O, no clock (``now`` is an argument).

From the promise an order was made under, its shipments' status history, the carrier's estimate, the shop's
calendars and the route's learned transit, :func:`assess` says which risk the order is in (most pressing first)
and, where one can be said, the new expected delivery date. Dates are shop-local; times are aware.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property

from cxplugin.promise.calculator import PromiseSettings, public_holidays
from cxplugin.promise.model import TransitCurve, day_counter, day_done, transit_curve

ON_TRACK = "on_track"
DELIVERED_LATE = "delivered_late"
# The kinds of risk, most pressing first: when several hold, the first one is the order's state.
KINDS = ("delivery_problem", "late", "carrier_eta_late", "likely_late", "stalled", "late_dispatch")
STATES = (ON_TRACK, *KINDS, DELIVERED_LATE)

# Carrier statuses that say the delivery went wrong (Shopify's shipment_status values and common carrier words).
PROBLEM_STATUSES = frozenset({"failure", "attempted_delivery", "exception", "returned", "returned_to_sender",
                              "delivery_failed", "undeliverable"})
DEAD_SHIPMENT = frozenset({"cancelled", "error"})

DEFAULT_STALL_DAYS = 3
DEFAULT_LIKELY_LATE_BELOW = 0.08


@dataclass(frozen=True)
class Thresholds:
    """The merchant's settings: business days without a scan that make a parcel stalled, and the arrival
    probability by the promised date below which a parcel is likely late."""

    stall_days: int = DEFAULT_STALL_DAYS
    likely_late_below: float = DEFAULT_LIKELY_LATE_BELOW


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Scan:
    status: str
    at: datetime


@dataclass(frozen=True)
class ShipmentFacts:
    """What we know of one shipment. ``scans`` may come in any order and repeat."""

    shipped_at: datetime | None
    delivered_at: datetime | None = None
    estimated_delivery_at: datetime | None = None
    scans: tuple[Scan, ...] = ()
    fulfillment_status: str | None = None
    # False for imported history, which knows only the hand-off and the delivery: silence there is no stall.
    scans_known: bool = True

    @property
    def live(self) -> bool:
        return (self.fulfillment_status or "").lower() not in DEAD_SHIPMENT


@dataclass(frozen=True)
class OrderFacts:
    placed_at: datetime
    promised_latest: date
    dispatch_latest: date | None
    destination_country: str | None
    shipments: tuple[ShipmentFacts, ...] = ()
    # The route's learned transit (carrier days, probability); empty when nothing is learned.
    transit_distribution: tuple[tuple[int, float], ...] = ()
    # The shop's deliveries by local hour (24 shares); with them a parcel is judged by the hour, not the day.
    delivery_hours: tuple[float, ...] = ()

    @cached_property
    def curve(self) -> TransitCurve:
        """The learned transit, smoothed and summed once per order rather than at every check."""
        return transit_curve(self.transit_distribution)


@dataclass(frozen=True)
class Assessment:
    state: str
    reason: str
    new_expected: date | None = None
    closed: bool = False  # delivered (or nothing left to follow): the order needs no more checks

    @property
    def at_risk(self) -> bool:
        return self.state in KINDS


def carrier_days(settings: PromiseSettings, country: str | None, after: date, through: date) -> int:
    """Carrier days in (after, through], destination holidays excluded when the shop observes them."""
    holidays_of = country.upper() if country and settings.observe_destination_holidays else None
    return day_counter(settings.carrier_weekdays, frozenset(), holidays_of).count(after, through)


def advance_carrier_days(settings: PromiseSettings, country: str | None, day: date, count: int) -> date:
    """The ``count``-th carrier day after ``day``."""
    holidays_of = country.upper() if country and settings.observe_destination_holidays else None
    for _ in range(count):
        for _ in range(366):
            day += timedelta(days=1)
            if day.weekday() in settings.carrier_weekdays and not (
                    holidays_of and day in public_holidays(holidays_of, day.year)):
                break
    return day


def _local(settings: PromiseSettings, moment: datetime) -> date:
    return moment.astimezone(settings._tz).date()


def day_end(settings: PromiseSettings, day: date) -> datetime:
    """The first instant after ``day`` ends, shop-local, in UTC."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=settings._tz).astimezone(UTC)


def assess(settings: PromiseSettings, order: OrderFacts, now: datetime, thresholds: Thresholds = DEFAULT_THRESHOLDS) \
        -> Assessment:
    """The order's risk state at ``now``: what is known by then and nothing later (events stamped after ``now``
    are ignored, so a replay can ask about any past moment)."""
    today = _local(settings, now)
    country = order.destination_country
    latest = order.promised_latest
    shipments = [s for s in order.shipments if s.live]

    def seen(moment: datetime | None) -> datetime | None:
        return moment if moment is not None and moment <= now else None

    delivered = [seen(s.delivered_at) for s in shipments]
    if shipments and all(delivered):
        arrived = max(d for d in delivered if d is not None)
        on = _local(settings, arrived)
        if on > latest:
            return Assessment(DELIVERED_LATE, f"delivered {on.isoformat()}, promised by {latest.isoformat()}",
                              on, closed=True)
        return Assessment(ON_TRACK, f"delivered {on.isoformat()}", on, closed=True)
    open_shipments = [s for s, d in zip(shipments, delivered, strict=True) if d is None]

    found: list[Assessment] = []
    for shipment in open_shipments:
        scans = sorted({(scan.at, scan.status) for scan in shipment.scans if scan.at <= now})
        problem = [status for at, status in scans if status.lower() in PROBLEM_STATUSES]
        if problem and scans and scans[-1][1].lower() in PROBLEM_STATUSES:
            found.append(Assessment("delivery_problem", f"carrier reported {problem[-1].replace('_', ' ')}"))

    if today > latest:
        found.append(Assessment("late", f"promised by {latest.isoformat()}, not delivered yet"))

    curve = order.curve
    shipped = [s for s in open_shipments if seen(s.shipped_at)]
    for shipment in shipped:
        eta = shipment.estimated_delivery_at
        if eta is not None and _local(settings, eta) > latest:
            found.append(Assessment("carrier_eta_late",
                                    f"carrier expects {_local(settings, eta).isoformat()}", _local(settings, eta)))

    for shipment in shipped:
        assert shipment.shipped_at is not None
        if not order.transit_distribution:
            continue
        handed = _local(settings, shipment.shipped_at)
        yesterday = today - timedelta(days=1)
        so_far = carrier_days(settings, country, handed, yesterday) if yesterday > handed else 0
        left = carrier_days(settings, country, max(handed, yesterday), latest)
        # Today is the parcel's next carrier day: the part of its deliveries already made today did not bring it.
        today_counts = today > handed and carrier_days(settings, country, yesterday, today) == 1
        done = day_done(order.delivery_hours, now.astimezone(settings._tz).time()) if today_counts else 0.0
        chance = curve.arrival_probability(so_far, left, done)
        if chance < thresholds.likely_late_below:
            expected = _expected(settings, country, curve, handed, so_far, today, done)
            found.append(Assessment("likely_late", f"{chance:.0%} chance to arrive by {latest.isoformat()} after "
                                                   f"{so_far} carrier days in transit", expected))

    for shipment in (s for s in shipped if s.scans_known):
        assert shipment.shipped_at is not None
        last = max([shipment.shipped_at, *(scan.at for scan in shipment.scans if scan.at <= now)])
        quiet = carrier_days(settings, country, _local(settings, last), today - timedelta(days=1))
        if quiet >= thresholds.stall_days:
            found.append(Assessment("stalled", f"no carrier scan for {quiet} business days"))

    if order.dispatch_latest is not None and today > order.dispatch_latest and (
            not open_shipments or any(seen(s.shipped_at) is None for s in open_shipments)):
        # Dispatched late is a risk to the promise only when a parcel handed over today would likely miss it by
        # the route's transit; with no transit learned, it always is.
        left = carrier_days(settings, country, today, latest)
        chance = curve.arrival_probability(0, left) if order.transit_distribution else 0.0
        if chance < thresholds.likely_late_below:
            expected = (_expected(settings, country, curve, today, 0, today)
                        if order.transit_distribution else None)
            found.append(Assessment("late_dispatch", f"not handed to the carrier by "
                                                     f"{order.dispatch_latest.isoformat()}", expected))

    if not found:
        return Assessment(ON_TRACK, "on track")
    found.sort(key=lambda a: KINDS.index(a.state))
    first = found[0]
    if first.new_expected is None:
        # Borrow the best date another finding can say (the carrier's estimate, then the learned transit).
        dated = [a.new_expected for a in found if a.new_expected is not None]
        if dated:
            first = Assessment(first.state, first.reason, dated[0])
    return first


def _expected(settings: PromiseSettings, country: str | None, curve: TransitCurve, handed: date, so_far: int,
              today: date, today_done: float = 0.0) -> date | None:
    """The median arrival of a parcel still on its way after ``so_far`` carrier days, by the learned transit."""
    day = curve.median_arrival(so_far, today_done)
    return None if day is None else max(advance_carrier_days(settings, country, handed, day), today)
