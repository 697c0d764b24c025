"""Replay a shop's delivered history through the risk rules and count how early late deliveries were seen.
PURE: no I/O, no clock.

Time runs forward: each day the model learns, at shop-local midnight, every delivery completed before it
(walk-forward, as the promise backtest does); each order gets the promise it was — or would have been — made
under when it was placed, and open orders are judged every hour (the worker does every 15 minutes) and at their
hand-off to the carrier, until delivered. Imported history has no intermediate scans, so the flags it can raise
are ``late_dispatch``, ``likely_late`` and ``late``.

What limits the figures: with only a hand-off and a delivery, the signal is how long a parcel has been on its
way against the route's transit and, on its last day, how much of that day's deliveries have been made without
it. A promise set at the route's 95 % quantile leaves the late parcels hard to tell from the slow on-time ones
until that last day, so most late deliveries are seen hours, not days, ahead; a higher threshold warns earlier
at the price of false alarms (README, "Orders at risk", has the measured curve).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from cxplugin.promise.backtest import learned_settings
from cxplugin.promise.calculator import Destination, PromiseSettings, compute
from cxplugin.promise.model import DEFAULT_TARGET, Delivery, Model, RoutePromise, zip_area
from cxplugin.risk import rules

TICK = timedelta(hours=1)
"""How often the replay judges open orders (the worker does every 15 minutes; an hour keeps a replay quick)."""


@dataclass(frozen=True)
class Replayed:
    """One delivered order: its promise, when it arrived and the first time (and kind) it was flagged."""

    order_id: str
    promised_latest: date
    delivered_on: date
    first_flag_at: datetime | None
    first_flag_kind: str | None
    flagged_in_time: bool  # flagged before the promised latest day ended

    @property
    def late(self) -> bool:
        return self.delivered_on > self.promised_latest


@dataclass(frozen=True)
class Figures:
    orders: int
    late: int
    late_flagged_in_time: int
    median_lead_days: float | None  # from the first flag to the end of the promised latest day
    flagged: int
    false_alarms: int
    late_flagged_a_day_ahead: int = 0  # of the late deliveries flagged in time, those flagged 24 hours or more ahead

    @property
    def caught_rate(self) -> float | None:
        return self.late_flagged_in_time / self.late if self.late else None

    @property
    def false_alarm_rate(self) -> float | None:
        return self.false_alarms / self.flagged if self.flagged else None


@dataclass
class _Open:
    delivery: Delivery
    facts: rules.OrderFacts
    first_flag_at: datetime | None = None
    first_flag_kind: str | None = None


def replay(settings: PromiseSettings, deliveries: Iterable[Delivery], *,
           thresholds: rules.Thresholds = rules.DEFAULT_THRESHOLDS, target: float = DEFAULT_TARGET,
           judge_from: date | None = None, judge_to: date | None = None,
           step: timedelta = TICK) -> Iterator[Replayed]:
    """Every order placed in [judge_from, judge_to] (shop-local) that got a promise, in order of delivery."""
    everything = [d for d in deliveries if d.placed_at <= d.shipped_at <= d.delivered_at]
    if not everything:
        return
    tz = settings._tz
    by_delivery = sorted(everything, key=lambda d: d.delivered_at)
    by_order = sorted(everything, key=lambda d: d.placed_at)
    model = Model(settings)
    fed = placed = 0
    held: dict[tuple[str, ...], RoutePromise | None] = {}
    open_orders: dict[str, _Open] = {}
    day = by_order[0].placed_at.astimezone(tz).date()
    last_day = by_delivery[-1].delivered_at.astimezone(tz).date()
    while day <= last_day + timedelta(days=1):
        # The model learns once a day, at shop-local midnight, from deliveries completed before it: an order is
        # promised only from what had arrived before the day it was placed.
        day_start = rules.day_end(settings, day - timedelta(days=1))
        while fed < len(by_delivery) and by_delivery[fed].delivered_at < day_start:
            model.add(by_delivery[fed])
            fed += 1
        held.clear()
        tick = day_start
        previous = tick - step
        while tick < rules.day_end(settings, day):
            # Orders placed since the last tick get their promise; everything open is judged at its hand-off,
            # if it came since the last tick, and at the tick.
            while placed < len(by_order) and by_order[placed].placed_at < tick:
                order = by_order[placed]
                placed += 1
                ordered_on = order.placed_at.astimezone(tz).date()
                if (judge_from and ordered_on < judge_from) or (judge_to and ordered_on > judge_to):
                    continue
                facts = _facts(settings, model, held, order, target)
                if facts is not None:
                    open_orders[order.order_id] = _Open(order, facts)
            for key in list(open_orders):
                held_open = open_orders[key]
                order = held_open.delivery
                if held_open.first_flag_at is None:
                    moments = [m for m in (order.shipped_at,) if previous <= m < tick] + [tick]
                    for moment in moments:
                        if order.delivered_at <= moment:
                            break
                        verdict = rules.assess(settings, held_open.facts, moment, thresholds)
                        if verdict.at_risk:
                            held_open.first_flag_at, held_open.first_flag_kind = moment, verdict.state
                            break
                if order.delivered_at < tick:
                    del open_orders[key]
                    yield _result(settings, held_open)
            previous, tick = tick, tick + step
        day += timedelta(days=1)
    for held_open in open_orders.values():
        yield _result(settings, held_open)


def _facts(settings: PromiseSettings, model: Model, held: dict[tuple[str, ...], RoutePromise | None],
           order: Delivery, target: float) -> rules.OrderFacts | None:
    destination = Destination(order.country, order.region or None, order.zip or None)
    key = (order.country.upper(), order.region.upper(), zip_area(order.zip), order.carrier.lower(),
           order.origin.lower())
    if key not in held:
        held[key] = model.route(order.placed_at, destination, carrier=order.carrier or None,
                                origin=order.origin or None, target=target)
    route = held[key]
    if route is None:
        return None
    promise = compute(learned_settings(settings, route, destination), order.placed_at, destination)
    if not promise.latest:
        return None
    # Imported history knows only the hand-off and the delivery: one shipment, no scans in between.
    shipment = rules.ShipmentFacts(shipped_at=order.shipped_at, delivered_at=order.delivered_at,
                                    scans_known=False)
    return rules.OrderFacts(placed_at=order.placed_at, promised_latest=promise.latest,
                            dispatch_latest=promise.dispatch_latest, destination_country=order.country,
                            shipments=(shipment,), transit_distribution=route.transit_distribution,
                            delivery_hours=route.delivery_hours)


def _result(settings: PromiseSettings, held_open: _Open) -> Replayed:
    order = held_open.delivery
    due = rules.day_end(settings, held_open.facts.promised_latest)
    in_time = held_open.first_flag_at is not None and held_open.first_flag_at < due
    return Replayed(order.order_id, held_open.facts.promised_latest,
                    order.delivered_at.astimezone(settings._tz).date(), held_open.first_flag_at,
                    held_open.first_flag_kind, in_time)


def figures(settings: PromiseSettings, replayed: Iterable[Replayed]) -> Figures:
    """The two measures: late deliveries flagged in time (and how early), and flags that were false alarms."""
    orders = late = caught = flagged = false_alarms = 0
    leads: list[float] = []
    for r in replayed:
        orders += 1
        if r.first_flag_at is not None:
            flagged += 1
            false_alarms += not r.late
        if r.late:
            late += 1
            if r.flagged_in_time:
                caught += 1
                assert r.first_flag_at is not None
                leads.append((rules.day_end(settings, r.promised_latest) - r.first_flag_at) / timedelta(days=1))
    return Figures(orders, late, caught, statistics.median(leads) if leads else None, flagged, false_alarms,
                   sum(lead >= 1 for lead in leads))


CSV_COLUMNS = ("order_id", "promised_latest", "delivered_on", "late", "first_flag_at", "first_flag_kind")


def csv_rows(replayed: Iterable[Replayed]) -> Iterator[tuple[str, ...]]:
    for r in replayed:
        yield (r.order_id, r.promised_latest.isoformat(), r.delivered_on.isoformat(), "true" if r.late else "false",
               r.first_flag_at.isoformat() if r.first_flag_at else "", r.first_flag_kind or "")


def report_lines(result: Figures) -> list[str]:
    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.1%}"

    lead = "-" if result.median_lead_days is None else f"{result.median_lead_days:.1f} days"
    return [f"orders replayed: {result.orders}; delivered late: {result.late}",
            f"late deliveries flagged before their promised latest day ended: {result.late_flagged_in_time} "
            f"({pct(result.caught_rate)}), median lead time {lead}; a day or more ahead: "
            f"{result.late_flagged_a_day_ahead}",
            f"orders flagged: {result.flagged}; false alarms (delivered on time): {result.false_alarms} "
            f"({pct(result.false_alarm_rate)})"]
