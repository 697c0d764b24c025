"""Throughput of the delivery-promise calculator, ``cxplugin.promise.calculator.compute``, in-process on one core.

Goal: at least 20,000 calls/s for a typical case (a domestic order, 1-3 processing days, 2-5 transit days). Measured
twice: a product page (one item) and a cart of three items with tag rules. ``now`` walks through 2026 in uneven
steps, so cutoffs, weekends, public holidays and both DST changes all come up; the holiday calendars are warmed
first (they are cached per country and year, as in a running app).

    .venv/bin/python benchmarks/promise_calculator.py [--seconds 3] [--check]

``--check`` exits 1 when a case is below the goal.
"""

from __future__ import annotations

import argparse
import sys
import time as clock
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cxplugin.promise.calculator import Destination, PromiseSettings, TagRule, Zone, compute  # noqa: E402

GOAL = 20_000  # compute calls per second, one core

SETTINGS = PromiseSettings(
    timezone="Europe/Amsterdam",
    origin_country="NL",
    cutoff=time(15, 0),
    processing_min=1,
    processing_max=3,
    dispatch_weekdays=frozenset(range(5)),
    closed_dates=frozenset({date(2026, 8, 3), date(2026, 8, 4), date(2026, 12, 31)}),
    carrier_weekdays=frozenset(range(6)),
    zones=(
        Zone("Domestic", ("NL",), 2, 5, {"express": (1, 1)}),
        Zone("Benelux", ("BE", "LU"), 2, 4),
        Zone("EU", ("DE", "FR", "AT"), 3, 6),
    ),
    default_zone=Zone("World", (), 7, 14),
    tag_rules=(TagRule("pre-order", processing=(14, 21)), TagRule("engraving", add_days=2)),
)
DESTINATION = Destination("NL", None, "1012 AB")
CART = (["sale", "summer"], ["Engraving", "gift"], ["basics"])
# 997 minutes is coprime with a week, so the moments cover every weekday and time of day.
MOMENTS = [datetime(2026, 1, 1, tzinfo=ZoneInfo("Europe/Amsterdam")) + timedelta(minutes=997 * i) for i in range(500)]


def run(seconds: float, call: Callable[[datetime], object]) -> tuple[int, float]:
    """Calls ``call`` over MOMENTS for about ``seconds``; returns (calls, elapsed seconds)."""
    calls = 0
    started = clock.perf_counter()
    deadline = started + seconds
    while True:
        for moment in MOMENTS:
            call(moment)
        calls += len(MOMENTS)
        now = clock.perf_counter()
        if now >= deadline:
            return calls, now - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="total measuring time, split over the cases")
    parser.add_argument("--check", action="store_true", help="exit 1 when a case is below the goal")
    args = parser.parse_args(argv)

    cases: dict[str, Callable[[datetime], object]] = {
        "product page (1 item, domestic, 1-3 + 2-5 days)": lambda now: compute(
            SETTINGS, now, DESTINATION, item_tags=(["basics"],)
        ),
        "cart of 3 items (tag rules, express method)": lambda now: compute(
            SETTINGS, now, DESTINATION, method="express", item_tags=CART
        ),
    }
    for call in cases.values():  # warm the holiday caches, as a running app would have them
        for moment in MOMENTS:
            call(moment)

    print(f"cxplugin.promise.compute, one process (= one core); goal >= {GOAL:,} calls/s")
    below = False
    for name, call in cases.items():
        calls, elapsed = run(args.seconds / len(cases), call)
        rate = calls / elapsed
        below |= rate < GOAL
        verdict = "meets" if rate >= GOAL else "BELOW"
        print(f"  {name}: {rate:,.0f} calls/s ({calls:,} calls in {elapsed:.2f} s, {verdict} the goal)")
    return 1 if args.check and below else 0


if __name__ == "__main__":
    sys.exit(main())
