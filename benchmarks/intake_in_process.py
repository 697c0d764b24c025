"""What one webhook costs inside a web process: CPU and thread switches per request, without HTTP.

Calls the WSGI apps directly (no gunicorn, no sockets, no wrk), from 1 thread and then from as many
threads as gunicorn.conf.py gives a worker, with the same signed orders/create delivery and a fresh
X-Shopify-Event-Id each time, on a fresh SQLite database:

- ``bare``: benchmarks/bare_app.py's POST /webhooks (read the body, answer JSON);
- ``intake``: the app's POST /webhooks, recording every delivery;
- ``intake, no write``: the same with ``recording.record`` replaced by the stand-in from
  intake_without_write.py, to show what the database write costs in place.

Far less noisy than webhook_intake.py (nothing else shares the process), so it is the figure to watch
when changing intake; webhook_intake.py is the end-to-end one that the goal is judged on.

    .venv/bin/python benchmarks/intake_in_process.py [--requests 12000]
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.webhook_intake import API_VERSION, FIXTURE, SHOP, TOPIC, base_env, flask_cli  # noqa: E402
from tests.shopify_signing import webhook_hmac  # noqa: E402

SECRET = "bench-secret-in-process-0000000000000000"
THREADS = int(os.environ.get("GUNICORN_THREADS", "4"))  # as gunicorn.conf.py gives each worker

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


def deliveries(body: bytes) -> Callable[[], dict[str, Any]]:
    """A WSGI environ for a signed delivery of ``body``, with a new event id on every call."""
    signature = webhook_hmac(body, SECRET)
    ids = itertools.count()
    run = os.urandom(4).hex()

    def environ() -> dict[str, Any]:
        n = next(ids)
        return {
            "REQUEST_METHOD": "POST", "PATH_INFO": "/webhooks", "SCRIPT_NAME": "", "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
            "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)), "HTTP_HOST": "127.0.0.1:8000",
            "HTTP_X_SHOPIFY_TOPIC": TOPIC, "HTTP_X_SHOPIFY_HMAC_SHA256": signature,
            "HTTP_X_SHOPIFY_SHOP_DOMAIN": SHOP, "HTTP_X_SHOPIFY_API_VERSION": API_VERSION,
            "HTTP_X_SHOPIFY_EVENT_ID": f"evt-{run}-{n}", "HTTP_X_SHOPIFY_WEBHOOK_ID": f"wh-{run}-{n}",
            "HTTP_X_SHOPIFY_TRIGGERED_AT": "2026-11-25T10:00:00.123456789Z",
        }

    return environ


def call(app: WsgiApp, environ: dict[str, Any]) -> None:
    statuses: list[str] = []
    result = app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    b"".join(result)
    getattr(result, "close", lambda: None)()
    if not statuses[0].startswith("200"):
        raise RuntimeError(f"POST /webhooks answered {statuses[0]}")


def measure(app: WsgiApp, environ: Callable[[], dict[str, Any]], requests: int, threads: int) -> dict[str, float]:
    """CPU µs (user, system), voluntary thread switches and wall µs per request, over ``threads`` threads."""
    per_thread = requests // threads

    def work() -> None:
        for _ in range(per_thread):
            call(app, environ())

    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - started
    n = per_thread * threads
    return {"user_us": 1e6 * (after.ru_utime - before.ru_utime) / n,
            "system_us": 1e6 * (after.ru_stime - before.ru_stime) / n,
            "switches": (after.ru_nvcsw - before.ru_nvcsw) / n, "wall_us": 1e6 * wall / n}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=12000, help="requests per measurement (default 12000)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="cxbench-inproc-"))
    env = base_env(SECRET, f"cxbench-inproc-{os.getpid()}") | {
        "DATABASE_URL": f"sqlite:///{workdir / 'cxplugin.db'}", "CX_QUEUE_PATH": str(workdir / "queue.db")}
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "cx", "shops", "add", SHOP, "--token", "shpat_bench")
    os.environ.update(env)

    from benchmarks.bare_app import app as bare_app
    from benchmarks.intake_without_write import record_nothing
    from cxplugin import create_app
    from cxplugin.webhooks import recording

    body = json.dumps(json.loads(FIXTURE.read_text()), separators=(",", ":")).encode()
    environ = deliveries(body)
    app = create_app()
    real_record = recording.record
    cases: list[tuple[str, WsgiApp, Callable[..., recording.Recorded]]] = [
        ("bare", bare_app, real_record), ("intake", app, real_record), ("intake, no write", app, record_nothing)]
    print(f"POST /webhooks in process, {len(body)}-byte orders/create, {args.requests} requests per row, SQLite")
    print(f"{'case':18s} {'threads':>7s} {'user µs':>8s} {'sys µs':>7s} {'CPU µs':>7s} "
          f"{'switches':>8s} {'wall µs':>8s}")
    try:
        for name, target, record in cases:
            recording.record = record  # type: ignore[assignment]
            for _ in range(300):  # warm: first connections, caches, the writer
                call(target, environ())
            for threads in (1, THREADS):
                f = measure(target, environ, args.requests, threads)
                print(f"{name:18s} {threads:7d} {f['user_us']:8.1f} {f['system_us']:7.1f} "
                      f"{f['user_us'] + f['system_us']:7.1f} {f['switches']:8.2f} {f['wall_us']:8.1f}")
    finally:
        recording.record = real_record  # type: ignore[assignment]
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
