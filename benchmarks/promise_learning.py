"""Learning the promise from many deliveries: time and peak memory, in-process on one core.

What it measures: building the model (``Model.add`` for every delivery: the calendar counting and the route
histograms) and then answering every route the model knows, as a nightly rebuild does. The reference in the same
run is a bare pass over the same deliveries that only counts calendar days order → delivery per region (what a
plain per-region quantile needs at least), so the figure says what the routes, calendars and borrowing cost.

    .venv/bin/python benchmarks/promise_learning.py [--deliveries 1000000] [--memory]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from datetime import time as clock
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cxplugin.promise.calculator import Destination, PromiseSettings, Zone  # noqa: E402
from cxplugin.promise.model import ANY, Model  # noqa: E402
from cxplugin.promise.synthetic import history  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--memory", action="store_true", help="trace peak memory (and time nothing)")
    args = parser.parse_args()
    settings = PromiseSettings(timezone="America/Sao_Paulo", origin_country="BR", cutoff=clock(14), processing_min=1,
                               processing_max=2, dispatch_weekdays=frozenset(range(5)), closed_dates=frozenset(),
                               carrier_weekdays=frozenset(range(6)), zones=(Zone("Domestic", ("BR",), 2, 8),),
                               default_zone=None)
    started = time.perf_counter()
    deliveries = list(history(args.deliveries, days=720))
    print(f"generated {len(deliveries):,} deliveries in {time.perf_counter() - started:.1f} s (not measured below)")

    started = time.perf_counter()
    per_region: dict[str, list[int]] = {}
    for d in deliveries:
        per_region.setdefault(d.region, []).append((d.delivered_at - d.placed_at).days)
    bare = time.perf_counter() - started

    if args.memory:
        tracemalloc.start()  # slows learning several times over: the timed figures below then mean nothing
    started = time.perf_counter()
    model = Model(settings)
    for d in deliveries:
        model.add(d)
    learned = time.perf_counter() - started
    started = time.perf_counter()
    now = datetime(2027, 1, 1, tzinfo=UTC)
    routes = 0
    for country, region, carrier in set(model.routes()):
        model.route(now, Destination(country, region or None), carrier=None if carrier == ANY else carrier)
        routes += 1
    answered = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if args.memory else 0
    rate = len(deliveries) / learned
    print(f"reference: per-region day counts           {bare:7.2f} s")
    print(f"learning:  Model.add for every delivery     {learned:7.2f} s  ({rate:,.0f} deliveries/s, "
          f"{learned / bare:.1f}x the reference)")
    print(f"answering: {routes} routes                      {answered:7.2f} s")
    bins = sum(len(h.weights) for h in (*model._transit.values(), *model._processing.values()))
    print(f"model size: {len(model._transit) + len(model._processing)} route histograms, {bins} day bins "
          "(grows with routes, not with deliveries)")
    if args.memory:
        print(f"peak memory of learning and answering: {peak / 2**20:.1f} MiB (the deliveries themselves excluded)")
    print(f"learned {model.learned:,}, dropped {sum(model.dropped.values()):,}")


if __name__ == "__main__":
    main()
