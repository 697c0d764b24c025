"""The promise learned from a shop's own deliveries. PURE: no I/O, no clock (``as_of`` is an argument).

From delivered shipments it learns, per route, two distributions counted with the calculator's calendars:

* processing — dispatch days from the day processing started (the calculator's start day: the order day before
  the cutoff, else the next dispatch day) to the hand-off to the carrier;
* transit — carrier days from the hand-off to the delivery (destination holidays excluded when the shop says so).

Routes run from narrow to wide: zip area → region → country (each with the carrier, then without), then the
promise zone of the settings, then the settings themselves (a uniform prior over their fixed range). A route that
knows little borrows from the wider one in proportion to how little it knows (``PRIOR_WEIGHT`` deliveries' worth),
and recent deliveries weigh more (half-life ``HALF_LIFE_DAYS``). The promise is then the pair of ranges whose
sum meets the target on-time rate on the learned total (processing + transit) across the shop's routes together:
each route promises up to where one more day stops buying enough on-time share (:meth:`Model._price`), a little
under the target where the tail is long, a little over where it is short; the earliest date is a low quantile.
:meth:`Model.route` answers in microseconds once built: nothing is learned per request.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from cxplugin.promise.calculator import (
    Destination,
    NoQualifyingDay,
    PromiseSettings,
    Zone,
    _cutoff_moment,
    public_holidays,
    start_day,
)

MAX_DAYS = 120
"""Longest processing or transit the model learns; a longer span is taken as bad data and dropped."""
HALF_LIFE_DAYS = 90.0
PRIOR_WEIGHT = 8.0
"""How many deliveries' worth of belief a route gives to its wider route."""
EARLIEST_QUANTILE = 0.10
DEFAULT_TARGET = 0.95
ANY = "*"
_LOG2 = math.log(2)


@dataclass(frozen=True)
class Delivery:
    """One delivered shipment as the model reads it (times timezone-aware)."""

    order_id: str
    placed_at: datetime
    shipped_at: datetime
    delivered_at: datetime
    country: str
    region: str = ""
    zip: str = ""
    origin: str = ""
    carrier: str = ""


@dataclass(frozen=True)
class Spans:
    """A delivery in the calendars' units, or why it cannot be learned from."""

    processing: int | None
    transit: int | None
    problem: str | None = None


@dataclass(frozen=True)
class RoutePromise:
    """The learned ranges for one route, and where they came from."""

    processing: tuple[int, int]
    transit: tuple[int, int]
    deliveries: int  # deliveries on the narrowest route that had any
    route: str  # e.g. "BR-SP by correios"
    explanation: str
    # The learned transit: (carrier days, probability), for judging parcels on their way (see arrival_probability).
    transit_distribution: tuple[tuple[int, float], ...] = ()
    # The shop's deliveries by local hour of the day (24 shares), or () when none are learned (see day_done).
    delivery_hours: tuple[float, ...] = ()

    def zone(self, name: str, regions: tuple[str, ...]) -> Zone:
        return Zone(name=name, regions=regions, transit_min=self.transit[0], transit_max=self.transit[1])


# ---- counting days with the calculator's calendars ---------------------------------------------------

class _DayCounter:
    """Counts qualifying days in (a, b]: weekdays in a set, minus closed dates and holidays, by arithmetic."""

    def __init__(self, weekdays: frozenset[int], closed: frozenset[date], country: str | None) -> None:
        self.weekdays = weekdays
        self.closed = closed
        self.country = country
        self._excluded: dict[int, list[date]] = {}

    def _excluded_in(self, year: int) -> list[date]:
        held = self._excluded.get(year)
        if held is None:
            days = {d for d in self.closed if d.year == year}
            if self.country:
                days |= public_holidays(self.country, year)
            held = sorted(d for d in days if d.weekday() in self.weekdays)
            self._excluded[year] = held
        return held

    def on_or_after(self, day: date) -> date:
        """``day`` when it qualifies, else the next day that does (a week of closed days is looked past)."""
        for _ in range(MAX_DAYS):
            if day.weekday() in self.weekdays and day not in self._excluded_in(day.year):
                return day
            day += timedelta(days=1)
        return day

    def count(self, a: date, b: date) -> int:
        span = (b - a).days
        if span <= 0:
            return 0
        weeks, rest = divmod(span, 7)
        first = a.weekday()
        total = weeks * len(self.weekdays) + sum(1 for i in range(1, rest + 1) if (first + i) % 7 in self.weekdays)
        for year in range(a.year, b.year + 1):
            excluded = self._excluded_in(year)
            total -= bisect.bisect_right(excluded, b) - bisect.bisect_right(excluded, a)
        return total


@lru_cache(maxsize=256)
def day_counter(weekdays: frozenset[int], closed: frozenset[date], country: str | None) -> _DayCounter:
    return _DayCounter(weekdays, closed, country)


def spans(settings: PromiseSettings, delivery: Delivery) -> Spans:
    """Processing dispatch days and transit carrier days of ``delivery``; a problem instead when its times
    contradict each other (delivered before shipped, shipped before ordered) or run past ``MAX_DAYS``."""
    measured = _Calendars(settings).measure(delivery)
    if isinstance(measured, str):
        return Spans(None, None, measured)
    return Spans(measured[0], measured[1])


class _Calendars:
    """The settings' calendars with every count kept, keyed by the dates it was made from: a big history has
    far fewer distinct days than deliveries, so learning from it counts each (start, hand-off) and (hand-off,
    delivery) pair once. Lives as long as the model it feeds."""

    def __init__(self, settings: PromiseSettings) -> None:
        self.settings = settings
        self.tz = settings._tz
        origin = settings.origin_country if settings.observe_origin_holidays else None
        self.dispatch = day_counter(settings.dispatch_weekdays, settings.closed_dates, origin)
        self._carriers: dict[str, _DayCounter] = {}
        self._cutoffs: dict[date, datetime] = {}
        self._starts: dict[tuple[date, bool], date | None] = {}
        self._processing: dict[tuple[date, date], tuple[date, int]] = {}
        self._transit: dict[tuple[date, date, str], int] = {}

    def measure(self, delivery: Delivery) -> tuple[int, int, int] | str:
        """(processing days, transit days, local hour of the delivery), or the problem (see :func:`spans`)."""
        if delivery.delivered_at < delivery.shipped_at:
            return "delivered_before_shipped"
        if delivery.shipped_at < delivery.placed_at:
            return "shipped_before_ordered"
        tz = self.tz
        placed = delivery.placed_at.astimezone(tz)
        today = placed.date()
        cutoff = self._cutoffs.get(today)
        if cutoff is None:
            cutoff = self._cutoffs[today] = _cutoff_moment(today, self.settings.cutoff, tz)
        # The calculator's start day depends only on the local day and which side of its cutoff the order fell.
        before = placed < cutoff
        try:
            start = self._starts[today, before]
        except KeyError:
            try:
                start = start_day(self.settings, delivery.placed_at)
            except NoQualifyingDay:
                start = None
            self._starts[today, before] = start
        if start is None:
            return "no_dispatch_day"
        shipped_on = delivery.shipped_at.astimezone(tz).date()
        delivered = delivery.delivered_at.astimezone(tz)
        delivered_on = delivered.date()
        try:
            handed_over, processing = self._processing[start, shipped_on]
        except KeyError:
            # A hand-off or a delivery on a day the calendar skips (a Saturday scan, a Sunday drop) counts as the
            # next day it keeps: then the calculator, given these counts, lands exactly on or after the real
            # dates, never before.
            handed_over = self.dispatch.on_or_after(shipped_on)
            processing = self.dispatch.count(start, handed_over)
            self._processing[start, shipped_on] = handed_over, processing
        country = delivery.country
        try:
            transit = self._transit[handed_over, delivered_on, country]
        except KeyError:
            carrier = self._carrier(country)
            transit = carrier.count(handed_over, carrier.on_or_after(delivered_on))
            self._transit[handed_over, delivered_on, country] = transit
        if processing > MAX_DAYS or transit > MAX_DAYS:
            return "too_long"
        return processing, transit, delivered.hour

    def _carrier(self, country: str) -> _DayCounter:
        counter = self._carriers.get(country)
        if counter is None:
            settings = self.settings
            destination = country.upper() if settings.observe_destination_holidays and country else None
            counter = day_counter(settings.carrier_weekdays, frozenset(), destination)
            self._carriers[country] = counter
        return counter


# ---- distributions ------------------------------------------------------------------------------------

@dataclass(slots=True)
class _Histogram:
    """Recency-weighted counts per day; weights are stored grown by 2**(t/half-life) so adding never rescales."""

    weights: dict[int, float] = field(default_factory=dict)
    grown: float = 0.0
    count: int = 0

    def add(self, days: int, grown_weight: float) -> None:
        self.weights[days] = self.weights.get(days, 0.0) + grown_weight
        self.grown += grown_weight
        self.count += 1


def _add_to_all(histograms: list[_Histogram], days: int, grown_weight: float) -> None:
    """:meth:`_Histogram.add` on each, inlined: learning runs it a dozen times per delivery."""
    for histogram in histograms:
        weights = histogram.weights
        weights[days] = weights.get(days, 0.0) + grown_weight
        histogram.grown += grown_weight
        histogram.count += 1


Distribution = dict[int, float]  # day → probability


def _mix(own: _Histogram | None, scale: float, wider: Distribution) -> Distribution:
    """The route's own evidence (decayed by ``scale``) plus PRIOR_WEIGHT deliveries' worth of the wider route."""
    if own is None or own.grown == 0.0:
        return wider
    n = own.grown * scale
    total = n + PRIOR_WEIGHT
    mixed = {day: PRIOR_WEIGHT * p / total for day, p in wider.items()}
    for day, w in own.weights.items():
        mixed[day] = mixed.get(day, 0.0) + w * scale / total
    return mixed


def _uniform(low: int, high: int) -> Distribution:
    return {d: 1.0 / (high - low + 1) for d in range(low, high + 1)}


def _convolve(a: Distribution, b: Distribution) -> Distribution:
    out: Distribution = {}
    for da, pa in a.items():
        for db, pb in b.items():
            out[da + db] = out.get(da + db, 0.0) + pa * pb
    return out


ALLOCATION_SPREAD = (0.05, 0.04)
"""How far below and above the target a single route's share on time may be set (see :meth:`Model._price`)."""
PRICE_MARGIN = 0.05
"""How much below the shop-wide price a route still lengthens its promise (see :meth:`Model._price`)."""


def _upper_hull(distribution: Distribution) -> list[tuple[int, float]]:
    """The corners of the upper concave hull of (day, cumulative probability): the only days worth promising."""
    hull: list[tuple[int, float]] = []
    running = 0.0
    for day in sorted(distribution):
        running += distribution[day]
        point = (day, running)
        while len(hull) >= 2 and ((hull[-1][1] - hull[-2][1]) * (point[0] - hull[-2][0])
                                  <= (point[1] - hull[-2][1]) * (hull[-1][0] - hull[-2][0])):
            hull.pop()
        hull.append(point)
    return hull


def _hull_point(hull: list[tuple[int, float]], slope: float) -> tuple[int, float]:
    """The latest corner still gaining at least ``slope`` of on-time share per day over the one before."""
    chosen = hull[0]
    for before, after in zip(hull, hull[1:], strict=False):
        if after[1] - before[1] >= slope * (after[0] - before[0]) - 1e-12:
            chosen = after
        else:
            break
    return chosen


def _allocated(total: Distribution, price: float | None, target: float) -> int:
    """The route's latest total day: where its on-time share stops being worth ``price`` per day, kept within
    ``ALLOCATION_SPREAD`` of the target; the target's quantile when there is no price."""
    if price is None:
        return quantile(total, target)
    day = _hull_point(_upper_hull(total), price)[0]
    low = quantile(total, max(target - ALLOCATION_SPREAD[0], 0.0))
    high = quantile(total, min(target + ALLOCATION_SPREAD[1], 0.999))
    return min(max(day, low), high)


def quantile(distribution: Distribution, q: float) -> int:
    """The smallest day whose cumulative probability reaches ``q`` (with a little slack for float sums)."""
    running = 0.0
    days = sorted(distribution)
    for day in days:
        running += distribution[day]
        if running >= q - 1e-9:
            return day
    return days[-1]


# ---- the model ----------------------------------------------------------------------------------------

def _transit_keys(origin: str, country: str, region: str, area: str, carrier: str) -> list[tuple[str, ...]]:
    """Narrow to wide, each once; the zone and the settings come after these."""
    keys: list[tuple[str, ...]] = []
    if area and region:
        keys.append(("zip", origin, country, region, area, carrier))
    if region:
        keys += [("region", origin, country, region, carrier), ("region", origin, country, region, ANY)]
    keys += [("country", origin, country, carrier), ("country", origin, country, ANY)]
    return list(dict.fromkeys(keys))


def zip_area(raw: str) -> str:
    """The first three characters of a postal code: wide enough to learn from, narrow enough to matter."""
    head = raw[:3]
    if head.isascii() and head.isalnum():  # the usual code, with no space or dash in its first three
        return head.upper()
    area = ""
    for ch in raw.upper():
        if ch.isalnum():
            area += ch
            if len(area) == 3:
                break
    return area


class Model:
    """Histograms per route, fed deliveries in any order; :meth:`route` reads them as of a moment.

    Feeding is incremental, so a walk-forward backtest adds each delivery once as time passes it."""

    def __init__(self, settings: PromiseSettings) -> None:
        self.settings = settings
        self._transit: dict[tuple[str, ...], _Histogram] = {}
        self._processing: dict[tuple[str, ...], _Histogram] = {}
        self._zone_transit: dict[str, _Histogram] = {}
        self._hours = _Histogram()
        self.learned = 0
        self.dropped: dict[str, int] = {}
        self.latest_delivery: datetime | None = None
        self._calendars = _Calendars(settings)
        # (origin, country, region, zip area, carrier) as the deliveries spell them → the histograms they feed.
        self._sinks: dict[tuple[str, str, str, str, str], tuple[list[_Histogram], list[_Histogram]]] = {}
        self._prices: dict[tuple[date, float], float | None] = {}

    def add(self, delivery: Delivery) -> bool:
        """Learn from one delivery; False (and counted in ``dropped``) when it cannot be learned from."""
        measured = self._calendars.measure(delivery)
        if isinstance(measured, str):
            self.dropped[measured] = self.dropped.get(measured, 0) + 1
            return False
        processing, transit, hour = measured
        grown = math.exp(_days_since_epoch(delivery.delivered_at) * _LOG2 / HALF_LIFE_DAYS)
        route = (delivery.origin, delivery.country, delivery.region, zip_area(delivery.zip), delivery.carrier)
        sinks = self._sinks.get(route)
        if sinks is None:
            sinks = self._sinks[route] = self._route_histograms(delivery, route[3])
        transit_sinks, processing_sinks = sinks
        _add_to_all(transit_sinks, transit, grown)
        _add_to_all(processing_sinks, processing, grown)
        self._hours.add(hour, grown)
        self.learned += 1
        if self.latest_delivery is None or delivery.delivered_at > self.latest_delivery:
            self.latest_delivery = delivery.delivered_at
        return True

    def _route_histograms(self, delivery: Delivery, area: str) -> tuple[list[_Histogram], list[_Histogram]]:
        """The transit histograms (every route key, narrow to wide, then the zone) and the processing histograms
        a delivery on this route feeds, made when first met: a route's keys are worked out once, not per
        delivery."""
        country, region = delivery.country.upper(), _region(delivery.country, delivery.region)
        carrier = delivery.carrier.strip().lower()
        transit: list[_Histogram] = []
        processing: list[_Histogram] = []
        for origin in {delivery.origin.strip().lower(), ANY}:
            for key in _transit_keys(origin, country, region, area, carrier):
                transit.append(self._transit.setdefault(key, _Histogram()))
            processing.append(self._processing.setdefault((origin, carrier), _Histogram()))
            processing.append(self._processing.setdefault((origin, ANY), _Histogram()))
        zone, _ = self.settings.zone_for(Destination(country, region))
        if zone is not None:
            transit.append(self._zone_transit.setdefault(zone.name, _Histogram()))
        return transit, processing

    def route(self, as_of: datetime, destination: Destination, *, carrier: str | None = None,
              origin: str | None = None, target: float = DEFAULT_TARGET) -> RoutePromise | None:
        """The learned ranges for an order placed at ``as_of`` to ``destination``; None when the settings do not
        serve the destination (the learned promise never serves what the merchant does not)."""
        zone, _ = self.settings.zone_for(destination)
        if zone is None:
            return None
        scale = math.exp(-_days_since_epoch(as_of) * _LOG2 / HALF_LIFE_DAYS)
        country = destination.country.upper()
        region = _region(destination.country, destination.region or "")
        route_origin = (origin or ANY).strip().lower() or ANY
        route_carrier = (carrier or ANY).strip().lower() or ANY

        area = zip_area(destination.zip or "")
        transit, processing, named, deliveries = self._distributions(scale, zone, country, region, area,
                                                                     route_origin, route_carrier)
        knows_route = any(self._transit.get(k) for k in _transit_keys(
            route_origin, country, region, area, route_carrier))
        if not knows_route and zone.name not in self._zone_transit and not self._processing:
            # Nothing learned that bears on this order: the merchant's fixed ranges, unchanged.
            return RoutePromise((self.settings.processing_min, self.settings.processing_max),
                                (zone.transit_min, zone.transit_max), 0, named,
                                f"no deliveries learned for {named}: the settings' ranges", _compact(transit),
                                self.delivery_hours())
        total = _convolve(processing, transit)
        latest_total = _allocated(total, self._price(as_of, target), target)
        earliest_total = min(quantile(total, EARLIEST_QUANTILE), latest_total)
        p_max = min(quantile(processing, target), latest_total)
        t_max = latest_total - p_max
        p_min = min(quantile(processing, EARLIEST_QUANTILE), p_max)
        t_min = min(max(earliest_total - p_min, 0), t_max)
        explanation = (f"learned from {deliveries} deliveries {named}" if deliveries
                       else f"no deliveries learned for {named}: the settings' ranges")
        return RoutePromise((p_min, p_max), (t_min, t_max), deliveries, named, explanation, _compact(transit),
                            self.delivery_hours())

    def _distributions(self, scale: float, zone: Zone, country: str, region: str, area: str, origin: str,
                       carrier: str) -> tuple[Distribution, Distribution, str, int]:
        """The route's transit and processing, each borrowing from its wider routes, with the narrowest route
        that had deliveries and how many."""
        transit = _mix(self._zone_transit.get(zone.name), scale, _uniform(zone.transit_min, zone.transit_max))
        named, deliveries = f"zone {zone.name}", 0
        for key in reversed(_transit_keys(origin, country, region, area, carrier)):
            own = self._transit.get(key)
            transit = _mix(own, scale, transit)
            if own is not None and own.count:
                named, deliveries = _describe(key), own.count
        processing = _mix(self._processing.get((ANY, ANY)), scale,
                          _uniform(self.settings.processing_min, self.settings.processing_max))
        processing = _mix(self._processing.get((origin, ANY)), scale, processing)
        processing = _mix(self._processing.get((origin, carrier)), scale, processing)
        return transit, processing, named, deliveries

    def _price(self, as_of: datetime, target: float) -> float | None:
        """The days one on-time point is worth across the shop's routes: the slope at which every route stops
        lengthening its promise, chosen so the routes together, weighted by their recent orders, meet ``target``.

        A route whose slow tail is long (a far region, a few parcels lost for weeks) then promises a little under
        the target, one whose tail is short a little over: the same share on time overall with fewer promised
        days than every route at the target. Computed once per day and target, from what was learned by its first
        question (as the stored model is held between rebuilds), never per request."""
        held = (as_of.astimezone(UTC).date(), target)
        if held in self._prices:
            return self._prices[held]
        scale = math.exp(-_days_since_epoch(as_of) * _LOG2 / HALF_LIFE_DAYS)
        hulls: list[tuple[float, list[tuple[int, float]]]] = []
        for key, histogram in self._transit.items():
            # Each delivery with a region lands on exactly one route of this kind: together they are the shop.
            if key[0] != "region" or ANY in (key[1], key[4]) or not histogram.count:
                continue
            zone, _ = self.settings.zone_for(Destination(key[2], key[3]))
            if zone is None:
                continue
            transit, processing, _, _ = self._distributions(scale, zone, key[2], key[3], "", key[1] or ANY,
                                                            key[4] or ANY)
            hulls.append((histogram.grown * scale, _upper_hull(_convolve(processing, transit))))
        price: float | None = None
        if hulls:
            weight = sum(w for w, _ in hulls)

            def on_time(slope: float) -> float:
                return sum(w * _hull_point(hull, slope)[1] for w, hull in hulls) / weight

            low, high = math.log(1e-5), math.log(1.0)  # log of on-time share per promised day
            for _ in range(40):
                mid = (low + high) / 2
                if on_time(math.exp(mid)) >= target - 1e-9:
                    low = mid
                else:
                    high = mid
            # A route asks of its own (narrower) distribution, a little off its region's: the price sits exactly on a
            # slope of the routes' hulls, so a margin keeps a route that ties with its region from falling short.
            price = math.exp(low) * (1 - PRICE_MARGIN)
        self._prices = {key: value for key, value in self._prices.items() if key[0] == held[0]}
        self._prices[held] = price
        return price

    def delivery_hours(self) -> tuple[float, ...]:
        """The share of the shop's deliveries made in each local hour of the day (recency-weighted); ()
        before any delivery is learned."""
        if self._hours.grown == 0.0:
            return ()
        return tuple(round(self._hours.weights.get(hour, 0.0) / self._hours.grown, 4) for hour in range(24))

    def routes(self) -> Iterator[tuple[str, str, str]]:
        """The (country, region, carrier) routes the model has seen without an origin, for storing its answers."""
        for key in self._transit:
            if key[1] != ANY:
                continue
            if key[0] == "region":
                yield key[2], key[3], key[4]
            elif key[0] == "country":
                yield key[2], "", key[3]


def _compact(distribution: Distribution) -> tuple[tuple[int, float], ...]:
    return tuple((day, round(p, 4)) for day, p in sorted(distribution.items()) if p >= 0.0001)


class TransitCurve:
    """A route's learned transit as the risk check reads it: smoothed, with a tail past the slowest day seen,
    and running totals so that the chance of arriving within a span of days is a lookup. Build it once per
    route (:func:`transit_curve`), not per question."""

    def __init__(self, transit: tuple[tuple[int, float], ...]) -> None:
        self.points = _smoothed(transit)
        self.days = [day for day, _ in self.points]
        self.totals: list[float] = []
        running = 0.0
        for _, p in self.points:
            running += p
            self.totals.append(running)
        # Past the slowest day seen: TAIL_SHARE of the parcels, arriving each day with probability 1 - q, so that
        # one slower than any seen takes about another median transit.
        self.seen = self.days[-1] if self.days else 0
        self.tail = TAIL_SHARE * running
        median = self.days[bisect.bisect_left(self.totals, running / 2)] if self.days else 1
        self.q = 1 - 1 / max(median, 2)

    def mass(self, first: int, last: int | None, *, tail: bool = True) -> float:
        """Probability of arriving on carrier day ``first`` through ``last`` (None: ever after)."""
        if not self.days:
            return 0.0
        below = bisect.bisect_left(self.days, first)
        through = len(self.days) if last is None else bisect.bisect_right(self.days, last)
        mass = self.totals[through - 1] - (self.totals[below - 1] if below else 0.0) if through > below else 0.0
        low = max(first, self.seen + 1)
        if tail and (last is None or last >= low):
            mass += self.tail * (self.q ** (low - self.seen - 1) - (self.q ** (last - self.seen) if last is not None
                                                                    else 0.0))
        return mass

    def arrival_probability(self, days_so_far: int, days_left: int, today_done: float = 0.0) -> float:
        """P(transit ≤ so_far + left | not delivered yet) for a parcel on its way ``days_so_far`` whole carrier
        days. ``today_done`` is the share of a day's deliveries already made by now when today is its next carrier
        day (:func:`day_done`): a parcel not delivered by 18:00 on its last day has missed most of that day's
        chances."""
        first = days_so_far + 1
        gone = today_done * self.mass(first, first)
        beyond = self.mass(first, None) - gone
        within = self.mass(first, days_so_far + days_left) - gone if days_left > 0 else 0.0
        return max(within, 0.0) / beyond if beyond > 1e-12 else 0.0

    def median_arrival(self, days_so_far: int, today_done: float = 0.0) -> int | None:
        """The carrier day by which half the parcels still on their way after ``days_so_far`` have arrived: by
        the days seen while any are left, else by the tail."""
        first = days_so_far + 1
        for tail in (False, True):
            remaining = self.mass(first, None, tail=tail) - today_done * self.mass(first, first, tail=tail)
            if remaining <= 1e-12:
                continue
            running = 0.0
            for day in range(first, first + 2 * MAX_DAYS):
                running += self.mass(day, day, tail=tail) * (1 - today_done if day == first else 1)
                if running >= remaining / 2 - 1e-9:
                    return day
        return None


SPREAD = 1.25
"""Transit varies by a factor, not by a number of days: each learned day is spread over the days within this
factor of it (a kernel in log-days), so a sparse route's slow tail has no gaps between the few parcels seen."""
TAIL_SHARE = 0.005
"""The learned transit is a finite sample: this share of parcels is taken to be slower than any seen, so a parcel
past every transit the route knows is not written off while it has days left."""


def _smoothed(transit: tuple[tuple[int, float], ...]) -> tuple[tuple[int, float], ...]:
    out: dict[int, float] = {}
    width = math.log(SPREAD)
    for day, p in transit:
        centre = math.log(day + 0.5)
        near = range(max(0, math.floor(day / SPREAD)), math.ceil(day * SPREAD) + 1)
        weights = [max(0.0, 1 - abs(math.log(k + 0.5) - centre) / width) for k in near]
        total = sum(weights)
        for k, w in zip(near, weights, strict=True):
            if w > 0:
                out[k] = out.get(k, 0.0) + p * w / total
    return tuple(sorted(out.items()))


@lru_cache(maxsize=1024)
def transit_curve(transit: tuple[tuple[int, float], ...]) -> TransitCurve:
    return TransitCurve(transit)


def arrival_probability(transit: tuple[tuple[int, float], ...], days_so_far: int, days_left: int,
                        today_done: float = 0.0) -> float:
    """:meth:`TransitCurve.arrival_probability` of a learned transit."""
    return transit_curve(transit).arrival_probability(days_so_far, days_left, today_done)


def day_done(delivery_hours: Sequence[float], moment: time) -> float:
    """The share of a day's deliveries made before ``moment`` (local), by the learned hours; 0 when none are
    learned (the whole day is then taken as still ahead, as a day-by-day judgement would)."""
    if len(delivery_hours) != 24:
        return 0.0
    total = sum(delivery_hours)
    if total <= 0:
        return 0.0
    before = sum(delivery_hours[:moment.hour]) + delivery_hours[moment.hour] * (moment.minute / 60)
    return min(before / total, 1.0)


def _region(country: str, region: str) -> str:
    region = region.strip().upper()
    prefix = country.strip().upper() + "-"
    return region[len(prefix):] if region.startswith(prefix) else region


def _describe(key: tuple[str, ...]) -> str:
    kind = key[0]
    place = {"zip": lambda k: f"to {k[2]}-{k[3]} {k[4]}xx", "region": lambda k: f"to {k[2]}-{k[3]}",
             "country": lambda k: f"to {k[2]}"}[kind](key)
    carrier = key[-1]
    origin = key[1]
    text = place + (f" by {carrier}" if carrier not in (ANY, "") else "")
    return text + (f" from {origin}" if origin not in (ANY, "") else "")


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _days_since_epoch(moment: datetime) -> float:
    return (moment - _EPOCH) / timedelta(days=1)


def learn(settings: PromiseSettings, deliveries: Iterable[Delivery]) -> Model:
    """A model fed with every delivery given."""
    model = Model(settings)
    for delivery in deliveries:
        model.add(delivery)
    return model
