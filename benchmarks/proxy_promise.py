"""The storefront's promise: GET /proxy/promise under gunicorn, beside a bare endpoint in the same run.

The request is signed as Shopify's app proxy signs it (valid for 90 s, so each wrk run gets a freshly signed
URL). Goal: at least 75 % of the bare endpoint's requests/s, p99 under 20 ms at 32 connections.

With ``--learned`` a second shop, the same in every other way, uses the learned promise (``promise.mode =
learned``) built from a synthetic history of deliveries to the question's destination, and the same server
answers both shops in interleaved rounds: the learned answer must be as fast as the fixed one.

    .venv/bin/python benchmarks/proxy_promise.py [--duration 15] [--rounds 1] [--learned] [--postgres]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.webhook_intake import (  # noqa: E402
    SHOP,
    Server,
    base_env,
    busiest_share,
    evenly_spread,
    flask_cli,
    group_pids,
    gunicorn,
    process_cpu,
    workers_cpu,
)
from tests.shopify_signing import proxy_query  # noqa: E402

SECRET = "bench-secret-long-enough-for-hs256-signing-000"
LEARNED_SHOP = "bench-learned.myshopify.com"
PRODUCT_ID = 7001
QUESTION: dict[str, str | list[str]] = {"product_id": str(PRODUCT_ID), "country": "US", "locale": "en"}
MIN_RATIO, MAX_P99_MS = 0.75, 20.0
# The synthetic history's Brazilian regions, relabelled as US states so that the question's destination (US)
# is a route the model learned.
US_REGIONS = {"SP": "NY", "RJ": "NJ", "MG": "PA", "RS": "OH", "BA": "IL", "PE": "TX", "AM": "CA"}
HISTORY_COLUMNS = "order_id,created_at,shipped_at,delivered_at,origin,country,region,zip,carrier,method"


@dataclass(frozen=True)
class Run:
    """One measured wrk run: requests/s, p50 and p99 in ms, non-2xx answers, the busiest worker's CPU share and
    the workers' CPU per request in µs (less disturbed by other work on the machine than the times are)."""

    rps: float
    p50: float
    p99: float
    bad: int
    share: float
    cpu_us: float


@dataclass(frozen=True)
class Case:
    name: str
    server: Server
    shop: str


def wrk(url: str, seconds: int) -> tuple[float, float, float, int]:
    """requests/s, p50 ms, p99 ms and non-2xx count from `wrk --latency`."""
    done = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", url], capture_output=True,
                          text=True, timeout=seconds + 60, check=True)
    out = done.stdout

    def ms(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        assert match, out
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, ms("50"), ms("99"), int(bad.group(1)) if bad else 0


def promise_url(case: Case) -> str:
    """A URL signed now: Shopify's signature is good for 90 s, so every wrk run signs its own."""
    query = proxy_query(QUESTION, shop=case.shop, secret=SECRET, timestamp=int(time.time()))
    return f"{case.server.base}/proxy/promise?{query}"


def measure(case: Case, seconds: int) -> Run:
    """One wrk run of ``case``, run again with fresh connections when one worker served (nearly) all of it."""
    def once(_attempt: int) -> tuple[tuple[float, float, float, int], list[float]]:
        pids = group_pids(case.server.pgid)
        before = process_cpu(pids)
        figures = wrk(promise_url(case), seconds)
        return figures, workers_cpu(case.server, before, process_cpu(pids))

    ((rps, p50, p99, bad), workers), _ = evenly_spread(case.name, once, lambda run: run[1])
    return Run(rps, p50, p99, bad, busiest_share(workers), sum(workers) / (rps * seconds) * 1e6)


def write_history(path: Path, orders: int, now: datetime) -> None:
    """``orders`` synthetic deliveries over the last year, to US states, as a history CSV."""
    from cxplugin.promise import synthetic

    with path.open("w") as f:
        f.write(HISTORY_COLUMNS + "\n")
        for d in synthetic.history(orders, start=now - timedelta(days=365), days=360):
            f.write(f"{d.order_id},{d.placed_at.isoformat()},{d.shipped_at.isoformat()},{d.delivered_at.isoformat()},"
                    f"{d.origin},US,{US_REGIONS[d.region]},{10000 + int(d.zip[:2]) * 100},{d.carrier},\n")


def prepare(env: dict[str, str], workdir: Path, learned_orders: int | None) -> str | None:
    """The shops with their cached product; with ``learned_orders``, the learned shop too: history imported,
    mode learned, model built. Returns the learned route's explanation."""
    shops = [SHOP] + ([LEARNED_SHOP] if learned_orders else [])
    for domain in shops:
        flask_cli(env, "cx", "shops", "add", domain, "--token", "shpat_bench", "--timezone", "America/New_York",
                  "--country", "US")
    if learned_orders:
        history_file = workdir / "history.csv"
        write_history(history_file, learned_orders, datetime.now(UTC))
        flask_cli(env, "cx", "history", "import", str(history_file), "--shop", LEARNED_SHOP)
    os.environ.update(env)
    from cxplugin import create_app
    from cxplugin.extensions import db
    from cxplugin.models import Product, Shop
    from cxplugin.promise import learning
    from cxplugin.promise.calculator import Destination
    from cxplugin.shops import settings as shop_settings

    with create_app().app_context():
        for domain in shops:  # a cached product, as products webhooks leave it
            shop = db.session.query(Shop).filter_by(domain=domain).one()
            db.session.add(Product(shop_id=shop.id, shopify_id=PRODUCT_ID, tags=["summer"]))
        db.session.commit()
        if not learned_orders:
            return None
        shop = db.session.query(Shop).filter_by(domain=LEARNED_SHOP).one()
        shop_settings.update(shop, {"promise": {"mode": "learned"}})
        flask_cli(env, "cx", "promise", "learn", "--shop", LEARNED_SHOP)
        model = learning.latest(shop.id)
        route = model.find(Destination("US", None)) if model else None
        assert route is not None, "the learned model has no route for the benchmark's destination"
        return route.explanation


def cold_costs(calls: int, repeats: int = 5) -> tuple[dict[str, float], float]:
    """In process: µs per promise answer built afresh, per shop (what a question not held costs: the settings
    chosen, the calculator, the sentences), and µs per read of the stored model (what loading a learned shop's
    view adds, at most every 30 s per process). Medians of ``repeats`` interleaved blocks of ``calls``."""
    from werkzeug.datastructures import MultiDict

    from cxplugin import create_app
    from cxplugin.promise import learning
    from cxplugin.promise.answers import promise_answer
    from cxplugin.schemas.storefront import PromiseQuery
    from cxplugin.shops.snapshot import shop_view

    def per_call(work: Callable[[], object]) -> float:
        started = time.perf_counter()
        for _ in range(calls):
            work()
        return (time.perf_counter() - started) / calls * 1e6

    with create_app().app_context():
        query = PromiseQuery().load(MultiDict(QUESTION))
        now = datetime.now(UTC)
        views = {"fixed": shop_view(SHOP), "learned": shop_view(LEARNED_SHOP)}
        work: dict[str, Callable[[], object]] = {
            name: functools.partial(promise_answer, view, query, now) for name, view in views.items() if view}
        learned_view = views["learned"]
        assert learned_view is not None and learned_view.learned is not None
        work["model read"] = functools.partial(learning.latest, learned_view.id)
        times: dict[str, list[float]] = {name: [] for name in work}
        for _ in range(repeats):
            for name, call in work.items():
                times[name].append(per_call(call))
    read = median(times.pop("model read"))
    return {name: median(values) for name, values in times.items()}, read


def answer(case: Case) -> dict[str, Any]:
    with urllib.request.urlopen(promise_url(case), timeout=10) as response:
        data: dict[str, Any] = json.loads(response.read())
    return data


def check_answers(cases: list[Case]) -> None:
    """Before measuring: the fixed shop answers in fixed mode, the learned one in learned mode with other dates."""
    answers = {case.name: answer(case) for case in cases if case.name != "bare"}
    for name, data in answers.items():
        print(f"  {name:<7} answer: mode {data.get('mode')}, {data.get('earliest')} – {data.get('latest')}")
        assert data.get("served") and data.get("mode") == name, f"{name}: unexpected answer {data}"
    if "learned" in answers:
        fixed, learned = answers["fixed"], answers["learned"]
        assert (learned["earliest"], learned["latest"]) != (fixed["earliest"], fixed["latest"]), \
            "the learned answer promises the fixed dates: the learned route is not in use"


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=15, help="seconds of each measured wrk run (default 15)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds (default 1)")
    parser.add_argument("--learned", action="store_true",
                        help="also measure a shop in learned mode, interleaved with the fixed one")
    parser.add_argument("--history", type=int, default=3000, help="synthetic deliveries the learned shop learns from")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--pg-database", default="cx_bench_proxy", help="dropped and recreated (with --postgres)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="the queue (with --postgres)")
    args = parser.parse_args()
    if args.rounds < 1 or args.duration < 1:
        parser.error("--rounds and --duration must be at least 1")

    workdir = Path(tempfile.mkdtemp(prefix="cx-bench-proxy-"))
    env = base_env(SECRET, f"bench-proxy-{os.getpid()}") | {
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}", "CX_QUEUE_PATH": str(workdir / "queue.db")}
    if args.postgres:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.pg_database):
            parser.error("--pg-database: lower-case letters, digits and _ only")
        for sql in (f"DROP DATABASE IF EXISTS {args.pg_database}", f"CREATE DATABASE {args.pg_database}"):
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc", sql], check=True)
        env |= {"DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{args.pg_database}",
                "REDIS_URL": args.redis_url}
    flask_cli(env, "db", "upgrade")
    explanation = prepare(env, workdir, args.history if args.learned else None)

    with gunicorn("benchmarks.bare_app:app", env, "/healthz", workdir / "bare.log") as bare, \
            gunicorn("wsgi:app", env, "/healthz", workdir / "app.log") as app:
        cases = [Case("bare", bare, SHOP), Case("fixed", app, SHOP)]
        cases += [Case("learned", app, LEARNED_SHOP)] if args.learned else []
        check_answers(cases)
        if explanation:
            print(f"  learned route: {explanation}")
        for case in cases:
            wrk(promise_url(case), 2)  # warm-up
        runs: dict[str, list[Run]] = {case.name: [] for case in cases}
        loads: list[float] = []
        for n in range(args.rounds):
            loads.append(os.getloadavg()[0])
            for case in cases[n % len(cases):] + cases[:n % len(cases)]:  # each round starts with the next one
                runs[case.name].append(measure(case, args.duration))
        check_answers(cases)  # still the same modes after the load
    code = report(runs, loads, args)
    if args.learned:
        built, read = cold_costs(500)
        print("In process, an answer built afresh (a question not held): "
              + ", ".join(f"{name} {us:.0f} µs" for name, us in built.items())
              + f"; reading the stored model (a learned shop's view, reloaded every 30 s at most): {read:.0f} µs")
    return code


def report(runs: dict[str, list[Run]], loads: list[float], args: argparse.Namespace) -> int:
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"/proxy/promise under gunicorn ({backend}), 32 connections, {args.rounds} interleaved round(s) of "
          f"{args.duration} s per server")
    names = list(runs)

    def ratio(top: str, bottom: str) -> Callable[[int], float]:
        return lambda n: runs[top][n].rps / runs[bottom][n].rps

    ratios = {f"{name}/bare": ratio(name, "bare") for name in names if name != "bare"}
    ratios |= {"learned/fixed": ratio("learned", "fixed")} if "learned" in runs else {}
    header = f"  {'round':<6} {'load':>5} " + " ".join(f"{name + ' req/s':>13} {'p50':>6} {'p99':>6}" for name in names)
    print(header + " " + " ".join(f"{label:>13}" for label in ratios))
    for n, load in enumerate(loads):
        cells = " ".join(f"{r.rps:13.0f} {r.p50:6.1f} {r.p99:6.1f}" for r in (runs[name][n] for name in names))
        print(f"  {n + 1:<6} {load:5.1f} {cells} " + " ".join(f"{f(n):13.0%}" for f in ratios.values()))
    medians = {name: Run(median([r.rps for r in runs[name]]), median([r.p50 for r in runs[name]]),
                         median([r.p99 for r in runs[name]]), sum(r.bad for r in runs[name]),
                         median([r.share for r in runs[name]]), median([r.cpu_us for r in runs[name]]))
               for name in names}
    cells = " ".join(f"{r.rps:13.0f} {r.p50:6.1f} {r.p99:6.1f}" for r in medians.values())
    median_ratios = {label: median([f(n) for n in range(len(loads))]) for label, f in ratios.items()}
    print(f"  {'median':<6} {median(loads):5.1f} {cells} " + " ".join(f"{v:13.0%}" for v in median_ratios.values()))
    extras: list[tuple[str, Callable[[Run], str]]] = [
        ("workers' CPU per request", lambda r: f"{r.cpu_us:.0f} µs"),
        ("busiest worker's share of the workers' CPU", lambda r: f"{r.share:.0%}")]
    for label, figure in extras:
        print(f"  {label}, per round: " + "; ".join(
            f"{name} " + " ".join(figure(r) for r in runs[name]) + f" (median {figure(medians[name])})"
            for name in names))
    bad = {name: medians[name].bad for name in names}
    ok = all(median_ratios[f"{name}/bare"] >= MIN_RATIO and medians[name].p99 < MAX_P99_MS and not bad[name]
             for name in names if name != "bare")
    print(f"  goal: promise ≥ {MIN_RATIO:.0%} of bare req/s, p99 < {MAX_P99_MS:.0f} ms, no non-2xx "
          f"(non-2xx: {', '.join(f'{name} {count}' for name, count in bad.items())})")
    print("  result: " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 2


if __name__ == "__main__":
    raise SystemExit(main())
