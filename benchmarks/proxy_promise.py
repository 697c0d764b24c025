"""The storefront's promise: GET /proxy/promise under gunicorn, beside a bare endpoint in the same run.

The request is signed as Shopify's app proxy signs it (valid for 90 s, so one signed URL serves a
run). Goal: at least 75 % of the bare endpoint's requests/s, p99 under 20 ms at 32 connections.

    .venv/bin/python benchmarks/proxy_promise.py [--duration 15] [--postgres]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
PRODUCT_ID = 7001
MIN_RATIO, MAX_P99_MS = 0.75, 20.0


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


def wrk_on(server: Server, url: str, seconds: int) -> tuple[tuple[float, float, float, int], list[float]]:
    """wrk()'s figures, and the CPU each gunicorn worker used meanwhile."""
    pids = group_pids(server.pgid)
    before = process_cpu(pids)
    figures = wrk(url, seconds)
    return figures, workers_cpu(server, before, process_cpu(pids))


def measure(target: str, env: dict[str, str], log_file: Path,
            seconds: int) -> tuple[tuple[float, float, float, int], float]:
    """Serve ``target`` and load one signed promise URL: warm-up, then a run that both workers served.
    wrk's figures, and the busiest worker's share of the workers' CPU in that run."""
    with gunicorn(target, env, "/healthz", log_file) as server:
        query = proxy_query({"product_id": str(PRODUCT_ID), "country": "US", "locale": "en"},
                            shop=SHOP, secret=SECRET, timestamp=int(time.time()))
        url = f"{server.base}/proxy/promise?{query}"
        wrk(url, 2)  # warm-up
        (figures, workers), _ = evenly_spread(target, lambda attempt: wrk_on(server, url, seconds), lambda run: run[1])
    return figures, busiest_share(workers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="cx-bench-proxy-"))
    env = base_env(SECRET, f"bench-proxy-{os.getpid()}") | {
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}", "CX_QUEUE_PATH": str(workdir / "queue.db")}
    if args.postgres:
        for sql in ("DROP DATABASE IF EXISTS cx_bench_proxy", "CREATE DATABASE cx_bench_proxy"):
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc", sql], check=True)
        env |= {"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/cx_bench_proxy",
                "REDIS_URL": "redis://127.0.0.1:6379/0"}
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "cx", "shops", "add", SHOP, "--token", "shpat_bench", "--timezone", "America/New_York",
              "--country", "US")
    os.environ.update(env)
    from cxplugin import create_app
    from cxplugin.extensions import db
    from cxplugin.models import Product, Shop

    with create_app().app_context():  # a cached product, as products webhooks leave it
        shop = db.session.query(Shop).filter_by(domain=SHOP).one()
        db.session.add(Product(shop_id=shop.id, shopify_id=PRODUCT_ID, tags=["summer"]))
        db.session.commit()

    results = {name: measure(target, env, workdir / f"{name}.log", args.duration)
               for name, target in (("bare", "benchmarks.bare_app:app"), ("promise", "wsgi:app"))}
    ((bare_rps, _, bare_p99, _), bare_share), ((rps, p50, p99, bad), share) = results["bare"], results["promise"]
    ratio = rps / bare_rps
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"/proxy/promise under gunicorn ({backend}), 32 connections, {args.duration} s")
    print(f"  bare endpoint : {bare_rps:8.0f} req/s, p99 {bare_p99:.1f} ms (busiest worker {bare_share:.0%} of CPU)")
    print(f"  promise       : {rps:8.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms, non-2xx {bad} "
          f"(busiest worker {share:.0%} of CPU)")
    print(f"  ratio         : {ratio:.0%} (goal ≥ {MIN_RATIO:.0%}, p99 < {MAX_P99_MS:.0f} ms)")
    ok = ratio >= MIN_RATIO and p99 < MAX_P99_MS and bad == 0
    print("  result        : " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 2


if __name__ == "__main__":
    raise SystemExit(main())
