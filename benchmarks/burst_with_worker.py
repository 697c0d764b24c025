"""A burst of order webhooks with the worker running: intake latency while it processes, and events/s.

For each backend: the app under gunicorn (gunicorn.conf.py) and ``flask cx worker`` on a fresh database;
then, for N orders, orders/create + fulfillments/create + fulfillments/update (delivered) — each order's own
ids and products, signed as Shopify signs them — sent as fast as CONNECTIONS keep-alive connections allow.
Prints intake p50/p95/p99 and the processing rate until every event is done (or failed). Product tags are
asked of an Admin API origin that refuses connections, as when Shopify cannot be reached: what the burst
measured before was each orders/create making a failing call inside its transaction.

    .venv/bin/python benchmarks/burst_with_worker.py [--orders N | --full] [--postgres] [--runs K]

--postgres runs on PostgreSQL (the database of --pg-url, whose public schema is emptied first) with the Redis
queue, after SQLite; --only-postgres skips SQLite.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.webhook_intake import (  # noqa: E402
    API_VERSION,
    CONNECTIONS,
    ROOT,
    SHOP,
    VENV_BIN,
    base_env,
    flask_cli,
    free_port,
    group_pids,
    gunicorn,
    process_cpu,
    say,
    stop,
)
from tests.shopify_signing import webhook_hmac  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "webhooks"
FULL_BURST_ORDERS = 5164  # the replayed burst: 15,492 webhooks
PRODUCTS = 300  # distinct products across the burst: some tag fetches, mostly known (or known to fail)
GOAL_P95_MS, GOAL_EVENTS_PER_S = 250.0, 200.0


@dataclass(frozen=True)
class Delivery:
    topic: str
    body: bytes
    headers: dict[str, str]


def burst(orders: int, run: str) -> list[Delivery]:
    """Each order's three webhooks, in the order Shopify sends them, orders interleaved as they come."""
    create = json.loads((FIXTURES / "orders_create__basic.json").read_text())
    shipped = json.loads((FIXTURES / "fulfillments_create__basic.json").read_text())
    delivered = json.loads((FIXTURES / "fulfillments_update__delivered.json").read_text())
    create["note_attributes"] = []  # no promise from the cart: computed, product tags looked up
    out: list[Delivery] = []
    for n in range(orders):
        order_id = 5_000_000_000 + n
        create["id"], create["name"], create["order_number"] = order_id, f"#B{n}", 10_000 + n
        for k, item in enumerate(create["line_items"]):
            item["product_id"] = 7_000_000 + (n * 7 + k) % PRODUCTS
        for payload in (shipped, delivered):
            payload["id"], payload["order_id"] = 9_000_000_000 + n, order_id
        for topic, payload in (("orders/create", create), ("fulfillments/create", shipped),
                               ("fulfillments/update", delivered)):
            body = json.dumps(payload).encode()
            out.append(Delivery(topic, body, {
                "Content-Type": "application/json", "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": webhook_hmac(body, SECRET), "X-Shopify-Shop-Domain": SHOP,
                "X-Shopify-API-Version": API_VERSION, "X-Shopify-Webhook-Id": f"{run}-{len(out)}",
                "X-Shopify-Event-Id": f"{run}-{len(out)}",
                "X-Shopify-Triggered-At": time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime()),
            }))
    return out


SECRET = "bench-secret-" + secrets.token_hex(8)


def send_all(base: str, deliveries: Sequence[Delivery]) -> tuple[list[float], dict[int, int]]:
    """POST every delivery over CONNECTIONS keep-alive connections; each one's latency (ms) and the statuses."""
    host, port = base.removeprefix("http://").split(":")
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    feed = iter(deliveries)

    def connection() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        while True:
            with lock:
                d = next(feed, None)
            if d is None:
                break
            started = time.perf_counter()
            for attempt in (1, 2):
                try:
                    conn.request("POST", "/webhooks", body=d.body, headers=d.headers)
                    response = conn.getresponse()
                    response.read()
                    break
                except (ConnectionError, http.client.HTTPException):
                    conn.close()  # the server closed a kept-alive connection: once more on a new one
                    conn = http.client.HTTPConnection(host, int(port), timeout=30)
                    if attempt == 2:
                        raise
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                statuses[response.status] = statuses.get(response.status, 0) + 1
        conn.close()

    threads = [threading.Thread(target=connection) for _ in range(CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, statuses


def settled(database_url: str) -> tuple[int, int]:
    """(events no longer pending, of which failed)."""
    sql = "SELECT count(*) FILTER (WHERE status <> 'pending'), count(*) FILTER (WHERE status = 'failed') " \
          "FROM webhook_events"
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=30) as conn:
            row = conn.execute(sql).fetchone()
    else:
        import psycopg

        with psycopg.connect(database_url) as conn:
            row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


@contextmanager
def worker(env: dict[str, str], log_file: Path) -> Iterator[int]:
    """``flask cx worker`` running; yields its process group."""
    with log_file.open("wb") as log:
        proc = subprocess.Popen([str(VENV_BIN / "flask"), "--app", "wsgi", "cx", "worker"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            time.sleep(1.0)
            if proc.poll() is not None:
                raise RuntimeError(f"the worker exited with {proc.returncode}; see {log_file}")
            yield proc.pid
        finally:
            stop(proc)


def group_cpu(pgid: int) -> float:
    return sum(process_cpu(group_pids(pgid)).values())


def percentile(values: Sequence[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]


def run_once(backend: str, orders: int, pg_url: str, redis_url: str) -> dict[str, Any]:
    run = f"b{secrets.token_hex(3)}"
    workdir = Path(tempfile.mkdtemp(prefix=f"cxburst-{backend}-"))
    env = base_env(SECRET, f"cxburst-{run}") | {
        # Nothing answers here: a product-tag fetch fails at once, as when Shopify cannot be reached.
        "SHOPIFY_ADMIN_ORIGIN": f"http://127.0.0.1:{free_port()}",
    }
    if backend == "postgresql":
        import psycopg

        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
        env |= {"DATABASE_URL": pg_url, "REDIS_URL": redis_url}
    else:
        env |= {"DATABASE_URL": f"sqlite:///{workdir / 'cxplugin.db'}", "CX_QUEUE_PATH": str(workdir / "queue.db")}
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "cx", "shops", "add", SHOP, "--token", "shpat_bench", "--timezone", "America/New_York",
              "--country", "US")
    deliveries = burst(orders, run)
    database_url = env["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    say(f"[{backend}] {len(deliveries)} webhooks for {orders} orders; worker running")
    with gunicorn("wsgi:app", env, "/healthz", workdir / "gunicorn.log") as server, \
            worker(env, workdir / "worker.log") as worker_pgid:
        cpu_before = group_cpu(server.pgid), group_cpu(worker_pgid)
        started = time.perf_counter()
        latencies, statuses = send_all(server.base, deliveries)
        sent_in = time.perf_counter() - started
        done = failed = 0
        while done < len(deliveries):
            done, failed = settled(database_url)
            if time.perf_counter() - started > 1800:
                raise RuntimeError(f"only {done} of {len(deliveries)} events done after 30 min; see {workdir}")
            time.sleep(0.2)
        processed_in = time.perf_counter() - started
        intake_cpu, worker_cpu = group_cpu(server.pgid) - cpu_before[0], group_cpu(worker_pgid) - cpu_before[1]
    if backend == "postgresql":
        from huey.storage import RedisStorage

        RedisStorage(f"cxburst-{run}", url=redis_url).flush_all()
    return {
        "backend": backend, "webhooks": len(deliveries), "statuses": statuses,
        "intake_p50_ms": round(percentile(latencies, 50), 1), "intake_p95_ms": round(percentile(latencies, 95), 1),
        "intake_p99_ms": round(percentile(latencies, 99), 1), "sent_in_s": round(sent_in, 1),
        "all_done_in_s": round(processed_in, 1), "events_per_s": round(len(deliveries) / processed_in, 1),
        "failed": failed, "workdir": str(workdir),
        # CPU, less sensitive than wall time to other work on the machine (database CPU not included).
        "intake_cpu_ms_per_webhook": round(1000 * intake_cpu / len(deliveries), 2),
        "worker_cpu_ms_per_event": round(1000 * worker_cpu / len(deliveries), 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=1000, help="orders in the burst, 3 webhooks each (1000)")
    parser.add_argument("--full", action="store_true", help=f"the replayed burst: {FULL_BURST_ORDERS} orders")
    parser.add_argument("--runs", type=int, default=1, help="runs per backend (1)")
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL + Redis")
    parser.add_argument("--only-postgres", action="store_true", help="run on PostgreSQL + Redis only")
    parser.add_argument("--pg-url", default=os.environ.get("CX_BENCH_PG_URL",
                                                           "postgresql://postgres@127.0.0.1:5432/cx_tokens"),
                        help="the PostgreSQL database to use (its public schema is emptied first)")
    parser.add_argument("--redis-url", default=os.environ.get("CX_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args(argv)
    orders = FULL_BURST_ORDERS if args.full else args.orders
    backends = (["sqlite"] if not args.only_postgres else []) + (["postgresql"] if args.postgres
                                                                 or args.only_postgres else [])
    results = [run_once(b, orders, args.pg_url, args.redis_url) for b in backends for _ in range(args.runs)]
    print(f"{'backend':<11} {'webhooks':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'sent s':>7} "
          f"{'done s':>7} {'events/s':>9} {'failed':>6} {'intake cpu ms':>13} {'worker cpu ms':>13}  statuses")
    for r in results:
        print(f"{r['backend']:<11} {r['webhooks']:>8} {r['intake_p50_ms']:>7} {r['intake_p95_ms']:>7} "
              f"{r['intake_p99_ms']:>7} {r['sent_in_s']:>7} {r['all_done_in_s']:>7} {r['events_per_s']:>9} "
              f"{r['failed']:>6} {r['intake_cpu_ms_per_webhook']:>13} {r['worker_cpu_ms_per_event']:>13}  "
              f"{r['statuses']}")
    met = all(r["intake_p95_ms"] < GOAL_P95_MS and r["events_per_s"] >= GOAL_EVENTS_PER_S for r in results)
    print(f"goal (intake p95 < {GOAL_P95_MS:.0f} ms, >= {GOAL_EVENTS_PER_S:.0f} events/s): "
          f"{'met' if met else 'not met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
