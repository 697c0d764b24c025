"""Survey sending: 5,000 due surveys, a real `cx worker`, a local SMTP sink.

Prints messages/s (first to last accepted by the sink) and the worker's peak memory (VmHWM), and
checks that every survey was sent exactly once. Run from the repository root:

    .venv/bin/python benchmarks/survey_sending.py [--surveys 5000] [--workers 4] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHOP = "bench-shop.myshopify.com"


class CountingSink:
    def __init__(self) -> None:
        self.count = 0
        self.message_ids: set[bytes] = set()
        self.first: float | None = None
        self.last: float | None = None
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        content: bytes = envelope.content
        start = content.find(b"Message-ID:")
        message_id = content[start:content.find(b"\n", start)] if start >= 0 else b""
        with self._lock:
            self.count += 1
            self.message_ids.add(message_id)
            now = time.perf_counter()
            self.first = self.first or now
            self.last = now
        await asyncio.sleep(0)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def seed(env: dict[str, str], count: int) -> None:
    """Shop, orders delivered three days ago, and their surveys, due now."""
    os.environ.update(env)
    from cxplugin import create_app
    from cxplugin.extensions import db
    from cxplugin.models import Order, Shipment, Shop, Survey, SurveyStatus
    from cxplugin.surveys import scheduling

    app = create_app()
    with app.app_context():
        shop = db.session.query(Shop).filter_by(domain=SHOP).one()
        now = datetime.now(UTC)
        delivered = now - timedelta(days=3)
        for start in range(0, count, 1000):
            batch = []
            for n in range(start, min(start + 1000, count)):
                email = f"shopper{n}@example.com"
                order = Order(shop_id=shop.id, shopify_id=10_000_000 + n, name=f"#B{n}", placed_at=delivered,
                              email=email, first_name="Sam", customer_locale=("en", "he", "nl", "ar")[n % 4],
                              destination_country="US", note_attributes={},
                              line_items=[{"title": "Linen shirt", "quantity": 1, "product_id": None,
                                           "variant_id": None}])
                order.shipments.append(Shipment(shop_id=shop.id, fulfillment_id=20_000_000 + n,
                                                fulfillment_status="success", status="delivered",
                                                shipped_at=delivered, delivered_at=delivered))
                batch.append(order)
            db.session.add_all(batch)
            db.session.flush()
            db.session.add_all([
                Survey(shop_id=shop.id, order_id=o.id, status=SurveyStatus.SCHEDULED, question="csat_nps",
                       basis="delivered", email_hash=scheduling.email_hash(shop.id, o.email or ""),
                       due_at=now - timedelta(minutes=1)) for o in batch])
            db.session.commit()
        from cxplugin.tasks import send_due_surveys

        send_due_surveys.call_local()  # what the worker's minute job does: one queued job per due survey


def count_sent(env: dict[str, str]) -> int:
    from cxplugin import create_app
    from cxplugin.extensions import db
    from cxplugin.models import Survey, SurveyStatus

    app = create_app()
    with app.app_context():
        return db.session.query(Survey).filter(Survey.status == SurveyStatus.SENT).count()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--surveys", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL + Redis instead of SQLite")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()

    sink = CountingSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    tmp = Path(tempfile.mkdtemp(prefix="cx-bench-surveys-"))
    env = {
        "SHOPIFY_API_KEY": "bench-key", "SHOPIFY_API_SECRET": "bench-secret-long-enough-for-hs256-000000",
        "CX_ENCRYPTION_KEY": Fernet.generate_key().decode(), "APP_URL": "https://bench.example",
        "MAIL_URL": f"smtp://127.0.0.1:{controller.port}", "CX_LOG_LEVEL": "WARNING",
        "CX_QUEUE_NAME": f"bench-{os.getpid()}", "CX_QUEUE_PATH": str(tmp / "queue.db"),
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
    }
    if args.postgres:
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc",
                        "DROP DATABASE IF EXISTS cx_bench_surveys"], check=True)
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc",
                        "CREATE DATABASE cx_bench_surveys"], check=True)
        env["DATABASE_URL"] = "postgresql://postgres@127.0.0.1:5432/cx_bench_surveys"
        env["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    full_env = {**os.environ, **env}
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=full_env, check=True, capture_output=True)
    subprocess.run([*flask, "cx", "shops", "add", SHOP, "--token", "shpat_bench", "--timezone", "UTC"],
                   cwd=ROOT, env=full_env, check=True, capture_output=True)
    # Keep every hour's cap out of the way: this measures sending, not the cap.
    seed({**env}, args.surveys)
    os.environ.update(env)
    from cxplugin import create_app
    from cxplugin.extensions import db
    from cxplugin.models import Shop
    from cxplugin.shops import settings as shop_settings

    with create_app().app_context():
        shop_settings.update(db.session.query(Shop).filter_by(domain=SHOP).one(),
                             {"surveys": {"hourly_cap": 100_000}})

    worker = subprocess.Popen([*flask, "cx", "worker", "--workers", str(args.workers)], cwd=ROOT, env=full_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.perf_counter()
    peak = 0.0
    try:
        while sink.count < args.surveys and time.perf_counter() - started < args.timeout:
            time.sleep(0.5)
            peak = max(peak, peak_rss_mb(worker.pid))
        time.sleep(1.0)  # let the last sent-records land
        peak = max(peak, peak_rss_mb(worker.pid))
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        controller.stop()
    sent = count_sent(env)
    span = (sink.last or 0) - (sink.first or 0)
    backend = "PostgreSQL + Redis" if args.postgres else "SQLite + SQLite queue"
    print(f"survey sending — {backend}, {args.workers} worker threads, {args.surveys} due surveys")
    print(f"  accepted by the SMTP sink : {sink.count}")
    print(f"  distinct Message-IDs      : {len(sink.message_ids)}")
    print(f"  surveys marked sent       : {sent}")
    print(f"  first→last message        : {span:.1f} s")
    print(f"  messages/s                : {sink.count / span if span else float('nan'):.0f}")
    print(f"  worker peak memory (RSS)  : {peak:.0f} MiB")
    ok = sink.count == sent == args.surveys == len(sink.message_ids)
    print("  result                    : " + ("PASS (each sent exactly once)" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
