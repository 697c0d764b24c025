"""The delivery-promise calculator: "order in the next 2 h 14 min, delivered Tue 14 – Thu 16 April".

Pure computation. :func:`compute` turns a shop's :class:`PromiseSettings`, the moment of the order (``now``, an
argument: this module never reads the clock), a :class:`Destination` and optionally a shipping method and the cart's
product tags into a :class:`Promise`. It does no I/O and imports nothing from Flask or SQLAlchemy; the only state is an
``lru_cache`` of public-holiday dates per (country, year), which is a pure function of its key.

The counting rules, which every shop must be able to predict by hand from a calendar:

* A *dispatch day* has its weekday in ``dispatch_weekdays``, is not in ``closed_dates`` and (when
  ``observe_origin_holidays``) is not a public holiday of ``origin_country`` per the ``holidays`` library.
* "Today" is ``now`` in the shop's ``timezone``. An order placed on a dispatch day strictly before that day's cutoff
  moment starts processing that day (the *start day*); otherwise processing starts on the next dispatch day.
* Dispatch date = the start day advanced by the processing days, counting dispatch days only (0 = same-day dispatch,
  N = the Nth dispatch day after the start day).
* Delivery date = the dispatch date advanced by the transit days, counting only days whose weekday is in
  ``carrier_weekdays`` and (when ``observe_destination_holidays``) that are not national public holidays of the
  destination country. Transit 0 = delivered on the dispatch date itself.
* Earliest uses the minimums (processing and transit), latest the maximums.
* Transit comes from the first zone (in order) listing the destination's exact ``"CC-RR"`` or bare ``"CC"``, or from
  ``default_zone``; a ``method`` listed in that zone's ``methods`` overrides the zone's transit.
* Tag rules: for each cart item, every rule whose tag the item carries applies (rules stack): the item's processing
  is the shop's, or the slowest ``processing`` replacement among its matching rules (component-wise maximum), plus
  the sum of their ``add_days``. The slowest item decides: earliest uses the maximum of the items' minimums and
  latest the maximum of their maximums (both dates are monotone in the processing days).

Guards against endless loops: settings are validated at construction (``__post_init__`` raises ``ValueError`` for
empty or out-of-range weekday sets, negative or inverted day ranges, an unknown time zone, ...), and any day search
that finds no valid day within :data:`MAX_SEARCH_DAYS` consecutive days (say every date of a year is closed) gives
up: :func:`compute` then answers a promise with ``served=False`` and the reason ``"no_dispatch_day"`` (or
``"no_delivery_day"``). A shop's settings never make :func:`compute` raise; only a naive ``now`` does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

__all__ = [
    "MAX_SEARCH_DAYS",
    "Destination",
    "NoQualifyingDay",
    "Promise",
    "PromiseSettings",
    "TagRule",
    "Zone",
    "compute",
    "public_holidays",
    "start_day",
]

MAX_SEARCH_DAYS = 366
"""How many consecutive days a search for the next dispatch or delivery day may look at before giving up."""

_ONE_DAY = timedelta(days=1)
_ONE_SECOND = timedelta(seconds=1)
_WEEKDAYS = frozenset(range(7))
_NO_DATES: frozenset[date] = frozenset()


def _check_days(what: str, low: int, high: int) -> tuple[int, int]:
    if isinstance(low, bool) or isinstance(high, bool) or not isinstance(low, int) or not isinstance(high, int):
        raise ValueError(f"{what}: day counts must be integers, got ({low!r}, {high!r})")
    if low < 0 or high < low:
        raise ValueError(f"{what}: need 0 <= min <= max, got ({low}, {high})")
    return low, high


def _check_weekdays(what: str, days: Iterable[int]) -> frozenset[int]:
    result = frozenset(days)
    if not result:
        raise ValueError(f"{what} is empty: no day would ever qualify")
    if not result <= _WEEKDAYS:
        raise ValueError(f"{what} must hold weekdays 0 (Monday) to 6 (Sunday), got {sorted(result)}")
    return result


def _tuple_of_str(what: str, values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str):  # tuple("US") would silently become ("U", "S")
        raise ValueError(f"{what} must be a collection of strings, not the single string {values!r}")
    return tuple(values)


@lru_cache(maxsize=1024)
def public_holidays(country: str, year: int) -> frozenset[date]:
    """Dates of the national public holidays of ``country`` (ISO 3166-1 alpha-2) in ``year``, per the ``holidays``
    library (including its "observed" days, e.g. US Independence Day observed on Friday 2026-07-03). A country the
    library does not know has no public holidays."""
    try:
        calendar = holidays.country_holidays(country, years=year)
    except NotImplementedError:
        return _NO_DATES
    return frozenset(calendar.keys())


@dataclass(frozen=True)
class Zone:
    """A shipping zone: the destinations it serves and their transit days.

    ``regions`` holds ISO country codes (``"US"``) and country-region codes (``"US-CA"``, ``"CA-QC"``); they are
    normalised to upper case. ``methods`` maps a shipping method handle (matched exactly) to its (min, max) transit
    days; it is stored as a read-only mapping and left out of the hash (equal zones still hash equal)."""

    name: str
    regions: tuple[str, ...]
    transit_min: int
    transit_max: int
    methods: Mapping[str, tuple[int, int]] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        regions = tuple(r.strip().upper() for r in _tuple_of_str(f"zone {self.name!r} regions", self.regions))
        object.__setattr__(self, "regions", regions)
        _check_days(f"zone {self.name!r} transit", self.transit_min, self.transit_max)
        methods = {
            handle: _check_days(f"zone {self.name!r} method {handle!r} transit", *days)
            for handle, days in dict(self.methods).items()
        }
        object.__setattr__(self, "methods", MappingProxyType(methods))


@dataclass(frozen=True)
class TagRule:
    """Processing for products carrying ``tag`` (normalised: trimmed, case-folded).

    ``processing`` replaces the shop's (min, max) processing days (pre-order, made to order); ``add_days`` is then
    added to both."""

    tag: str
    add_days: int = 0
    processing: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        tag = self.tag.strip().casefold()
        if not tag:
            raise ValueError("tag rule: the tag is empty")
        object.__setattr__(self, "tag", tag)
        if isinstance(self.add_days, bool) or not isinstance(self.add_days, int) or self.add_days < 0:
            raise ValueError(f"tag rule {tag!r}: add_days must be an integer >= 0, got {self.add_days!r}")
        if self.processing is not None:
            object.__setattr__(self, "processing", _check_days(f"tag rule {tag!r} processing", *self.processing))


@dataclass(frozen=True)
class PromiseSettings:
    """A shop's promise configuration. Validated at construction; see the module docstring for the counting rules.

    ``cutoff`` is a naive shop-local wall time. ``zones`` are tried in order; the first zone listing the
    destination's exact ``"CC-RR"`` or its bare ``"CC"`` wins (so put a ``"US-HI"`` zone before a ``"US"`` zone).
    ``default_zone`` serves everything else; ``None`` means other destinations are not served."""

    timezone: str
    origin_country: str
    cutoff: time
    processing_min: int
    processing_max: int
    dispatch_weekdays: frozenset[int]
    closed_dates: frozenset[date]
    carrier_weekdays: frozenset[int]
    zones: tuple[Zone, ...]
    default_zone: Zone | None
    tag_rules: tuple[TagRule, ...] = ()
    observe_origin_holidays: bool = True
    observe_destination_holidays: bool = True
    # Derived at construction, for speed; not part of equality, hash or repr.
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)
    _zone_index: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            tz = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        object.__setattr__(self, "_tz", tz)
        object.__setattr__(self, "origin_country", self.origin_country.strip().upper())
        if self.cutoff.tzinfo is not None:
            raise ValueError("cutoff must be a naive shop-local wall time (no tzinfo)")
        object.__setattr__(self, "cutoff", self.cutoff.replace(fold=0))
        _check_days("processing", self.processing_min, self.processing_max)
        object.__setattr__(self, "dispatch_weekdays", _check_weekdays("dispatch_weekdays", self.dispatch_weekdays))
        object.__setattr__(self, "carrier_weekdays", _check_weekdays("carrier_weekdays", self.carrier_weekdays))
        object.__setattr__(self, "closed_dates", frozenset(self.closed_dates))
        object.__setattr__(self, "zones", tuple(self.zones))
        object.__setattr__(self, "tag_rules", tuple(self.tag_rules))
        index: dict[str, int] = {}
        for position, zone in enumerate(self.zones):
            for region in zone.regions:
                index.setdefault(region, position)
        object.__setattr__(self, "_zone_index", MappingProxyType(index))

    def zone_for(self, destination: Destination) -> tuple[Zone | None, bool]:
        """The zone serving ``destination`` and whether it is the default zone; ``(None, False)`` if not served."""
        country = destination.country.strip().upper()
        position = self._zone_index.get(country)
        if destination.region:
            region = destination.region.strip().upper()
            if not region.startswith(country + "-"):
                region = f"{country}-{region}"
            exact = self._zone_index.get(region)
            if exact is not None and (position is None or exact < position):
                position = exact
        if position is not None:
            return self.zones[position], False
        return self.default_zone, self.default_zone is not None


@dataclass(frozen=True)
class Destination:
    """Where the order goes. ``region`` is the province/state code without the country (``"CA"`` for California);
    a ``"US-CA"`` form is accepted too."""

    country: str
    region: str | None = None
    zip: str | None = None


@dataclass(frozen=True)
class Promise:
    """The answer. Dates are shop-local. ``cutoff_at`` (aware, shop zone) is when the countdown for an order placed
    now ends: the cutoff moment of the day processing starts. ``rule`` explains the decision to the merchant, e.g.
    ``"zone:Domestic"``, ``"zone:Domestic+method:express"``, ``"default zone+tag:pre-order"``, ``"not served"``."""

    served: bool
    reason: str | None
    earliest: date | None
    latest: date | None
    dispatch_earliest: date | None
    dispatch_latest: date | None
    cutoff_at: datetime | None
    seconds_to_cutoff: int | None
    zone: str | None
    rule: str


def _unserved(reason: str, zone: str | None = None) -> Promise:
    # The rule says why to the merchant: "not served" (no zone), or which day could not be found.
    rule = "not served" if zone is None else f"zone:{zone}: {reason.replace('_', ' ')} within {MAX_SEARCH_DAYS} days"
    return Promise(served=False, reason=reason, earliest=None, latest=None, dispatch_earliest=None,
                   dispatch_latest=None, cutoff_at=None, seconds_to_cutoff=None, zone=zone, rule=rule)


_NOT_SERVED = _unserved("destination_not_served")


def _is_open(day: date, weekdays: frozenset[int], closed: frozenset[date], country: str | None) -> bool:
    return (
        day.weekday() in weekdays
        and day not in closed
        and (country is None or day not in public_holidays(country, day.year))
    )


class NoQualifyingDay(Exception):
    """A day search found nothing within MAX_SEARCH_DAYS days; compute turns it into an unserved promise."""


def _advance(day: date, count: int, weekdays: frozenset[int], closed: frozenset[date], country: str | None) -> date:
    """The ``count``-th qualifying day after ``day`` (``day`` itself when ``count`` is 0)."""
    year = day.year
    holidays_ = public_holidays(country, year) if country is not None else _NO_DATES
    for _ in range(count):
        for _ in range(MAX_SEARCH_DAYS):
            day += _ONE_DAY
            if day.year != year:
                year = day.year
                holidays_ = public_holidays(country, year) if country is not None else _NO_DATES
            if day.weekday() in weekdays and day not in closed and day not in holidays_:
                break
        else:
            raise NoQualifyingDay(
                f"no qualifying day within {MAX_SEARCH_DAYS} days after {day - MAX_SEARCH_DAYS * _ONE_DAY} "
                f"(weekdays {sorted(weekdays)}, {len(closed)} closed dates, holidays of {country or 'nowhere'})"
            )
    return day


@lru_cache(maxsize=4096)
def _cutoff_moment(day: date, cutoff: time, tz: ZoneInfo) -> datetime:
    """The cutoff moment of ``day`` as an aware UTC datetime.

    DST: on a fall-back day an ambiguous cutoff wall time means its first occurrence (``fold=0``, the earlier
    instant). On a spring-forward day a cutoff wall time inside the gap does not exist; it means the moment right
    after the gap, i.e. the transition instant itself (e.g. 02:30 on 2026-03-29 in Europe/Amsterdam is 03:00 CEST).
    """
    wall = datetime.combine(day, cutoff, tzinfo=tz)  # fold=0
    moment = wall.astimezone(UTC)
    if moment.astimezone(tz).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return moment
    # In a gap, fold=0 applies the offset from before the transition and fold=1 the one after, so the transition
    # instant lies in (fold=1 moment, fold=0 moment]. Binary search it to the second; this path runs a few times a
    # year at most.
    low = wall.replace(fold=1).astimezone(UTC)  # before the transition
    high = moment  # at or after the transition
    after = high.astimezone(tz).utcoffset()
    while high - low > _ONE_SECOND:
        middle = low + ((high - low) // 2 // _ONE_SECOND) * _ONE_SECOND
        if middle.astimezone(tz).utcoffset() == after:
            high = middle
        else:
            low = middle
    return high


def _item_processing(settings: PromiseSettings, tags: Iterable[str]) -> tuple[int, int, tuple[str, ...]]:
    if isinstance(tags, str):  # Shopify's REST "tags" field: one comma-separated string
        tags = tags.split(",")
    carried = {tag.strip().casefold() for tag in tags}
    matched = [rule for rule in settings.tag_rules if rule.tag in carried]
    if not matched:
        return settings.processing_min, settings.processing_max, ()
    low, high = settings.processing_min, settings.processing_max
    replacements = [rule.processing for rule in matched if rule.processing is not None]
    if replacements:
        low = max(p[0] for p in replacements)
        high = max(p[1] for p in replacements)
    extra = sum(rule.add_days for rule in matched)
    return low + extra, high + extra, tuple(rule.tag for rule in matched)


def _cart_processing(settings: PromiseSettings, item_tags: Sequence[Iterable[str]]) -> tuple[int, int, list[str]]:
    """(min, max, tags of the deciding rules): the slowest item decides. The rules named are those of the item
    setting the latest date and, when another item sets the earliest date, that item's too."""
    if not settings.tag_rules or not item_tags:
        return settings.processing_min, settings.processing_max, []
    items = [_item_processing(settings, tags) for tags in item_tags]
    # max() keeps the first of equal items; among equals prefer one whose tag rules applied, to name them.
    by_latest = max(items, key=lambda item: (item[1], item[0], bool(item[2])))
    by_earliest = max(items, key=lambda item: (item[0], item[1], bool(item[2])))
    names = list(by_latest[2])
    if by_earliest[0] > by_latest[0]:
        names += [tag for tag in by_earliest[2] if tag not in names]
    return by_earliest[0], by_latest[1], names


def start_day(settings: PromiseSettings, now: datetime) -> date:
    """The day processing starts for an order placed at ``now`` (aware): that day when it is a dispatch day and
    ``now`` is before its cutoff moment, else the next dispatch day. Raises :class:`NoQualifyingDay` when no dispatch
    day comes within :data:`MAX_SEARCH_DAYS` days."""
    tz = settings._tz
    now_utc = now.astimezone(UTC)
    today = now_utc.astimezone(tz).date()
    origin = settings.origin_country if settings.observe_origin_holidays else None
    # "Before the cutoff" compares instants, not wall times: the same in ordinary hours, and right across DST changes
    # (after a fall-back, 01:30 the second time round is past a 01:45 cutoff that already happened).
    if _is_open(today, settings.dispatch_weekdays, settings.closed_dates, origin) \
            and now_utc < _cutoff_moment(today, settings.cutoff, tz):
        return today
    return _advance(today, 1, settings.dispatch_weekdays, settings.closed_dates, origin)


def compute(
    settings: PromiseSettings,
    now: datetime,
    destination: Destination,
    method: str | None = None,
    item_tags: Sequence[Iterable[str]] = (),
) -> Promise:
    """The delivery promise for an order placed at ``now`` (timezone-aware) to ``destination``.

    ``method`` is a shipping method handle; when the matching zone lists it, its transit days replace the zone's.
    ``item_tags`` holds one tag collection per cart item (a product page is one item; a comma-separated string is
    accepted as one item's tags); no items means no tag rules. When no dispatch (or delivery) day exists within
    :data:`MAX_SEARCH_DAYS` days, the answer is unserved with reason ``"no_dispatch_day"`` (``"no_delivery_day"``).
    Raises ``ValueError`` for a naive ``now`` only."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    zone, is_default = settings.zone_for(destination)
    if zone is None:
        return _NOT_SERVED

    tz = settings._tz
    now_utc = now.astimezone(UTC)
    dispatch_days = settings.dispatch_weekdays
    closed = settings.closed_dates
    origin = settings.origin_country if settings.observe_origin_holidays else None

    processing_min, processing_max, tags = _cart_processing(settings, item_tags)
    try:
        start = start_day(settings, now)
        dispatch_earliest = _advance(start, processing_min, dispatch_days, closed, origin)
        dispatch_latest = _advance(dispatch_earliest, processing_max - processing_min, dispatch_days, closed, origin)
    except NoQualifyingDay:
        return _unserved("no_dispatch_day", zone.name)
    cutoff_utc = _cutoff_moment(start, settings.cutoff, tz)

    parts = ["default zone" if is_default else f"zone:{zone.name}"]
    transit = zone.methods.get(method) if method is not None else None
    if transit is None:
        transit = (zone.transit_min, zone.transit_max)
    else:
        parts.append(f"method:{method}")
    parts += [f"tag:{tag}" for tag in tags]

    carrier_days = settings.carrier_weekdays
    destination_country = destination.country.strip().upper() if settings.observe_destination_holidays else None
    try:
        earliest = _advance(dispatch_earliest, transit[0], carrier_days, _NO_DATES, destination_country)
        latest = _advance(dispatch_latest, transit[1], carrier_days, _NO_DATES, destination_country)
    except NoQualifyingDay:
        return _unserved("no_delivery_day", zone.name)

    return Promise(
        served=True,
        reason=None,
        earliest=earliest,
        latest=latest,
        dispatch_earliest=dispatch_earliest,
        dispatch_latest=dispatch_latest,
        cutoff_at=cutoff_utc.astimezone(tz),
        seconds_to_cutoff=(cutoff_utc - now_utc) // _ONE_SECOND,
        zone=zone.name,
        rule="+".join(parts),
    )
