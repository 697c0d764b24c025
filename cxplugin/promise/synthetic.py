"""A made-up but realistic delivery history, for the demo, the tests and the benchmarks. PURE: seeded randomness.

Several fulfilment locations, regions with their own transit, two carriers, heavy tails (a few parcels take
three times as long), a slow fortnight before the year's end and a random strike week: the shapes a learned
promise must cope with, with the truth known.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta, timezone

from cxplugin.promise.model import Delivery

# (region, typical transit days, spread): far regions are slower and less predictable.
REGIONS = [("SP", 3.0, 0.35), ("RJ", 5.0, 0.4), ("MG", 6.0, 0.4), ("RS", 8.0, 0.45), ("BA", 10.0, 0.5),
           ("PE", 12.0, 0.5), ("AM", 16.0, 0.55)]
REGION_SHARE = [0.38, 0.16, 0.14, 0.1, 0.09, 0.08, 0.05]
ORIGINS = [("sao-paulo", 1.0), ("curitiba", 1.25), ("recife", 1.1)]
CARRIERS = [("correios", 1.15), ("jadlog", 0.9)]
ZIP_PREFIX = {"SP": "01", "RJ": "20", "MG": "30", "RS": "90", "BA": "40", "PE": "50", "AM": "69"}


def history(orders: int, *, start: datetime = datetime(2025, 1, 6, 12, tzinfo=UTC), days: int = 540,
            seed: int = 7, daytime: bool = True) -> Iterator[Delivery]:
    """``orders`` deliveries placed over ``days`` days from ``start``, in order of placement.

    With ``daytime`` a parcel is delivered on the day its transit ends, in the carriers' working hours (most
    between 08:00 and 20:00 São Paulo time, one in ten logged at any hour); without it, at whatever time its
    transit ends, which spreads deliveries evenly over the clock."""
    rng = random.Random(seed)
    strike = start + timedelta(days=rng.randrange(days // 4, days - days // 4))
    placed = sorted(start + timedelta(seconds=rng.uniform(0, days * 86400)) for _ in range(orders))
    for n, at in enumerate(placed):
        region, typical, spread = rng.choices(REGIONS, REGION_SHARE)[0]
        origin, origin_factor = rng.choice(ORIGINS)
        carrier, carrier_factor = rng.choice(CARRIERS)
        processing_hours = rng.choice([4, 20, 28, 44, 52]) + rng.expovariate(1 / 6)
        if rng.random() < 0.03:
            processing_hours += rng.uniform(48, 120)  # out of stock for a while
        shipped = at + timedelta(hours=processing_hours)
        slow = 1.0
        if shipped.month == 12 and shipped.day >= 10:
            slow = 1.5  # the year-end rush
        if strike <= shipped < strike + timedelta(days=7):
            slow = 2.2
        transit_days = typical * origin_factor * carrier_factor * slow * math.exp(rng.gauss(0, spread))
        if rng.random() < 0.02:
            transit_days *= 3  # lost for a while, then found
        # Transit counts calendar days here; carriers do not deliver on Sundays.
        delivered = shipped + timedelta(days=transit_days)
        if daytime:
            delivered = _in_working_hours(rng, delivered, shipped)
        if delivered.weekday() == 6:
            delivered += timedelta(days=1)
        yield Delivery(order_id=f"S{n + 1:06d}", placed_at=at, shipped_at=shipped, delivered_at=delivered,
                       country="BR", region=region, zip=f"{ZIP_PREFIX[region]}{rng.randrange(100, 999)}-000",
                       origin=origin, carrier=carrier)


_SAO_PAULO = timezone(timedelta(hours=-3))


def _in_working_hours(rng: random.Random, moment: datetime, shipped: datetime) -> datetime:
    """The same São Paulo day at an hour a carrier delivers (or logs) parcels, never before the hand-off."""
    local = moment.astimezone(_SAO_PAULO)
    hour = rng.uniform(0, 24) if rng.random() < 0.1 else rng.triangular(8, 20, 14)
    delivered = datetime.combine(local.date(), time(), tzinfo=_SAO_PAULO) + timedelta(hours=hour)
    if delivered <= shipped:
        delivered += timedelta(days=1)
    return delivered.astimezone(UTC)
