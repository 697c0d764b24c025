"""Walk-forward backtest of the learned promise against the fixed one. PURE: no I/O, no clock.

Orders are judged in the order they were placed; before each is judged, the model learns every delivery completed
before that order was placed, and nothing later. The promise an order gets is what the storefront would have
shown at that moment (learned ranges through the calculator's calendars), then compared with its delivery.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from cxplugin.promise.calculator import Destination, PromiseSettings, compute
from cxplugin.promise.model import DEFAULT_TARGET, Delivery, Model, RoutePromise, zip_area


@dataclass(frozen=True)
class Judged:
    """One order's promise and what happened (dates shop-local)."""

    order_id: str
    route: str
    ordered_on: date
    promised_earliest: date
    promised_latest: date
    delivered_on: date

    @property
    def on_time(self) -> bool:
        return self.delivered_on <= self.promised_latest

    @property
    def promised_days(self) -> int:
        return (self.promised_latest - self.ordered_on).days

    @property
    def actual_days(self) -> int:
        return (self.delivered_on - self.ordered_on).days


@dataclass(frozen=True)
class Summary:
    orders: int
    on_time_rate: float | None
    mean_promised_days: float | None
    mean_actual_days: float | None


def summarise(judged: Sequence[Judged]) -> Summary:
    if not judged:
        return Summary(0, None, None, None)
    n = len(judged)
    return Summary(n, sum(j.on_time for j in judged) / n, sum(j.promised_days for j in judged) / n,
                   sum(j.actual_days for j in judged) / n)


@dataclass(frozen=True)
class Result:
    learned: list[Judged]
    fixed: list[Judged]
    dropped: dict[str, int]
    # The plain reference: the target quantile of calendar days order → delivery per destination region.
    region_quantile: list[Judged] = dataclasses.field(default_factory=list)


def route_label(delivery: Delivery) -> str:
    place = delivery.country.upper() + (f"-{delivery.region.upper()}" if delivery.region else "")
    return place + (f" by {delivery.carrier.lower()}" if delivery.carrier else "")


@lru_cache(maxsize=4096)
def learned_settings(settings: PromiseSettings, route: RoutePromise, destination: Destination) -> PromiseSettings:
    """The shop's settings with the route's learned ranges in place of the fixed ones (same calendars and rules)."""
    regions = (destination.country.upper() + (f"-{destination.region.upper()}" if destination.region else ""),)
    return dataclasses.replace(settings, processing_min=route.processing[0], processing_max=route.processing[1],
                               zones=(route.zone("learned", regions),), default_zone=None)


def walk_forward(settings: PromiseSettings, deliveries: Iterable[Delivery], *, target: float = DEFAULT_TARGET,
                 judge_from: date | None = None, judge_to: date | None = None) -> Result:
    """Judge every delivered order placed in [judge_from, judge_to] (shop-local dates) under the learned promise
    (learned only from deliveries completed before the order was placed) and under the fixed settings."""
    everything = list(deliveries)
    by_delivery = sorted(everything, key=lambda d: d.delivered_at)
    by_order = sorted(everything, key=lambda d: d.placed_at)
    model = Model(settings)
    tz = settings._tz
    fed = 0
    days_by_region: dict[str, list[int]] = {}
    region_quantile: list[Judged] = []
    held: dict[tuple[date, str, str, str, str, str], RoutePromise | None] = {}
    learned: list[Judged] = []
    fixed: list[Judged] = []
    for order in by_order:
        while fed < len(by_delivery) and by_delivery[fed].delivered_at < order.placed_at:
            done = by_delivery[fed]
            model.add(done)
            days = (done.delivered_at.astimezone(tz).date() - done.placed_at.astimezone(tz).date()).days
            bisect.insort(days_by_region.setdefault(_region_key(done), []), days)
            if done.region:
                bisect.insort(days_by_region.setdefault(done.country.upper(), []), days)
            fed += 1
        ordered_on = order.placed_at.astimezone(tz).date()
        if (judge_from and ordered_on < judge_from) or (judge_to and ordered_on > judge_to):
            continue
        if order.delivered_at < order.shipped_at or order.shipped_at < order.placed_at:
            continue  # the model drops these too: nothing to judge a promise against
        destination = Destination(order.country, order.region or None, order.zip or None)
        delivered_on = order.delivered_at.astimezone(tz).date()
        label = route_label(order)
        fixed_promise = compute(settings, order.placed_at, destination, order.carrier or None)
        if fixed_promise.served and fixed_promise.earliest and fixed_promise.latest:
            fixed.append(Judged(order.order_id, label, ordered_on, fixed_promise.earliest, fixed_promise.latest,
                                delivered_on))
        seen = days_by_region.get(_region_key(order)) or days_by_region.get(order.country.upper())
        if seen:
            latest = ordered_on + timedelta(days=seen[min(len(seen) - 1, math.ceil(target * len(seen)) - 1)])
            region_quantile.append(Judged(order.order_id, label, ordered_on, ordered_on, latest, delivered_on))
        # The model changes only as deliveries complete; within a day, a route's answer is held (as the stored
        # model is between rebuilds), so the walk stays fast and never looks ahead.
        key = (ordered_on, order.country.upper(), order.region.upper(), zip_area(order.zip), order.carrier.lower(),
               order.origin.lower())
        if key not in held:
            held[key] = model.route(order.placed_at, destination, carrier=order.carrier or None,
                                    origin=order.origin or None, target=target)
        route = held[key]
        if route is None:
            continue
        promise = compute(learned_settings(settings, route, destination), order.placed_at, destination)
        if promise.earliest and promise.latest:
            learned.append(Judged(order.order_id, label, ordered_on, promise.earliest, promise.latest, delivered_on))
    return Result(learned, fixed, dict(model.dropped), region_quantile)


def _region_key(delivery: Delivery) -> str:
    return delivery.country.upper() + (f"-{delivery.region.upper()}" if delivery.region else "")


CSV_COLUMNS = ("order_id", "created_at", "promised_earliest", "promised_latest", "delivered_on", "on_time")


def csv_rows(judged: Iterable[Judged]) -> Iterable[tuple[str, ...]]:
    """One row per order in the columns of the public contract (dates shop-local)."""
    for j in judged:
        yield (j.order_id, j.ordered_on.isoformat(), j.promised_earliest.isoformat(), j.promised_latest.isoformat(),
               j.delivered_on.isoformat(), "true" if j.on_time else "false")


def report_lines(result: Result, *, target: float, routes: int = 15) -> list[str]:
    """The comparison as a table: overall, then the busiest routes, learned beside fixed."""

    def cells(s: Summary) -> str:
        if not s.orders:
            return f"{'-':>6} {'-':>8} {'-':>8} {'-':>8}"
        assert s.on_time_rate is not None and s.mean_promised_days is not None and s.mean_actual_days is not None
        return (f"{s.orders:>6} {s.on_time_rate * 100:>7.1f}% {s.mean_promised_days:>8.1f} "
                f"{s.mean_actual_days:>8.1f}")

    by_route: dict[str, tuple[list[Judged], list[Judged]]] = {}
    for j in result.learned:
        by_route.setdefault(j.route, ([], []))[0].append(j)
    for j in result.fixed:
        by_route.setdefault(j.route, ([], []))[1].append(j)
    head = f"{'orders':>6} {'on time':>8} {'promised':>8} {'actual':>8}"
    lines = [f"target on-time rate {target:.1%}; days are calendar days from the order date",
             f"{'route':<28} | learned: {head} | fixed: {head}",
             f"{'all routes':<28} | learned: {cells(summarise(result.learned))} | "
             f"fixed: {cells(summarise(result.fixed))}"]
    lines.append(f"{'(per-region quantile)':<28} | plain:   {cells(summarise(result.region_quantile))}")
    busiest = sorted(by_route.items(), key=lambda item: -len(item[1][0]))[:routes]
    for name, (learned, fixed) in busiest:
        lines.append(f"{name[:28]:<28} | learned: {cells(summarise(learned))} | fixed: {cells(summarise(fixed))}")
    if len(by_route) > routes:
        lines.append(f"… and {len(by_route) - routes} more routes")
    if result.dropped:
        lines.append("not learned from: " + ", ".join(f"{n} {why}" for why, n in sorted(result.dropped.items())))
    return lines
