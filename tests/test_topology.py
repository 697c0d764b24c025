"""Production topology: two web and two worker processes, started with the Procfile's commands, on one
PostgreSQL and one Redis. A burst of webhooks goes through both web processes (some deliveries sent to
both at once, as Shopify's retries can land on another process) while one worker is killed with SIGKILL
in the middle of its jobs and started again: every delivery is one row, every event is applied once, and
every shopper gets their survey mail once.

Timings (env): CX_TOPOLOGY_ORDERS (60), CX_TOPOLOGY_WAIT_SECONDS (90: for the events and for the
surveys, which the workers' periodic task sends at the next minute).
"""

from __future__ import annotations

import contextlib
import copy
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from cxplugin.models import EventStatus, Order, Shipment, Survey, WebhookEvent
from tests import processes
from tests.shopify_signing import fixture, session_token, webhook_headers
from tests.smtp_sink import Sink

ORDERS = int(os.environ.get("CX_TOPOLOGY_ORDERS", "60"))
WAIT = float(os.environ.get("CX_TOPOLOGY_WAIT_SECONDS", "90"))


@pytest.fixture
def production(config: dict[str, Any]) -> dict[str, Any]:
    """PostgreSQL and Redis, as in production; request it before ``app``."""
    if not config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("the production topology needs PostgreSQL and Redis: set DATABASE_URL and REDIS_URL (CI does)")
    if not config["REDIS_URL"]:
        pytest.skip("the production topology needs Redis: set REDIS_URL (CI does)")
    config["CX_REGISTER_WEBHOOKS"] = False  # no Admin API here to subscribe with
    return config


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def delivered_order(n: int, now: datetime) -> dict[str, Any]:
    """Order n of its own shopper, placed three days ago and delivered an hour ago (in one payload)."""
    order = copy.deepcopy(fixture("orders_create__basic"))
    email = f"shopper{n}@example.test"
    order.update(id=6_000_000 + n, name=f"#{3000 + n}", order_number=3000 + n, email=email, contact_email=email,
                 created_at=iso(now - timedelta(days=3)), processed_at=iso(now - timedelta(days=3)),
                 updated_at=iso(now - timedelta(hours=1)))
    order["customer"]["email"] = email
    shipment = copy.deepcopy(fixture("fulfillments_update__delivered"))
    shipment.update(id=8_000_000 + n, order_id=order["id"], name=f"#{3000 + n}.1", email=email,
                    created_at=iso(now - timedelta(days=2)), updated_at=iso(now - timedelta(hours=1)))
    order["fulfillments"] = [shipment]
    return order


def post_webhook(port: int, order: dict[str, Any], event_id: str) -> int:
    body = requests.models.complexjson.dumps(order).encode()
    response = requests.post(f"http://127.0.0.1:{port}/webhooks", data=body, timeout=30,
                             headers=webhook_headers("orders/create", body, event_id=event_id))
    return response.status_code


@contextlib.contextmanager
def orders_locked(engine: sa.Engine) -> Iterator[None]:
    """Hold the orders table: every job that reaches it waits there, midway through its transaction."""
    with engine.connect() as conn:
        conn.execute(sa.text("LOCK TABLE orders IN SHARE ROW EXCLUSIVE MODE"))
        try:
            yield
        finally:
            conn.rollback()


def wait_until(engine: sa.Engine, what: str, query: str, seconds: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        with engine.connect() as conn:
            if conn.execute(sa.text(query)).scalar():
                return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not seen within {seconds} s: {what}")


def test_two_webs_and_two_workers_apply_a_burst_once_while_a_worker_is_killed_and_restarted(
        production: dict[str, Any], app: Flask, shop: str, sink: Sink, tmp_path: Path) -> None:
    config = dict(production, MAIL_URL=app.config["MAIL_URL"])
    env = processes.process_env(config, WEB_CONCURRENCY="1", GUNICORN_THREADS="4", CX_STUCK_AFTER_SECONDS="5",
                                CX_SWEEP_SECONDS="1", CX_OUTAGE_RETRY_SECONDS="1")
    direct = sa.create_engine(config["SQLALCHEMY_DATABASE_URI"])
    ports = [processes.free_port(), processes.free_port()]
    webs = [processes.start("web", dict(env, PORT=str(port)), tmp_path / f"web{i}.log") for i, port in enumerate(ports)]
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for i, (port, web) in enumerate(zip(ports, webs, strict=True)):
            processes.wait_healthy(port, web, tmp_path / f"web{i}.log")
        # The merchant asks for the survey on the day of delivery, at any hour (through a web process).
        response = requests.put(f"http://127.0.0.1:{ports[1]}/api/admin/settings", timeout=10,
                                headers={"Authorization": f"Bearer {session_token(shop)}"},
                                json={"surveys": {"delay_days": 0, "send_window": {"start": "00:00", "end": "23:59"}}})
        assert response.status_code == 200, response.text
        workers = [processes.start("worker", env, tmp_path / f"worker{i}.log") for i in range(2)]

        now = datetime.now(UTC)
        deliveries = [(n, delivered_order(n, now), f"topology-{n}") for n in range(ORDERS)]
        # Every fourth delivery goes to both web processes at once; the others alternate between them.
        sends = [(ports[n % 2], order, event_id) for n, order, event_id in deliveries]
        sends += [(ports[(n + 1) % 2], order, event_id) for n, order, event_id in deliveries if n % 4 == 0]
        first, rest = sends[: ORDERS // 3], sends[ORDERS // 3:]
        with ThreadPoolExecutor(8) as pool:
            with orders_locked(direct):
                statuses = list(pool.map(lambda s: post_webhook(*s), first))
                wait_until(direct, "both workers' jobs stopped midway", "SELECT count(DISTINCT pid) >= 2 FROM pg_locks "
                           "WHERE relation = 'orders'::regclass AND NOT granted", 30)
                workers[0].kill()  # SIGKILL: its running jobs die with it
                workers[0].wait()
            statuses += list(pool.map(lambda s: post_webhook(*s), rest))
            time.sleep(1)
            workers[0] = processes.start("worker", env, tmp_path / "worker0.log")
        assert Counter(statuses) == {200: len(sends)}

        waited = wait_until(direct, f"{ORDERS} events done",
                            f"SELECT count(*) = {ORDERS} FROM webhook_events WHERE status = 'done'", WAIT)
        print(f"\ntopology: {len(sends)} deliveries, {ORDERS} events done {waited:.1f} s after the burst")
        with direct.connect() as conn:
            rows = conn.execute(sa.select(WebhookEvent.event_id, WebhookEvent.status, WebhookEvent.attempts,
                                          WebhookEvent.last_error)).all()
            assert sorted(r.event_id for r in rows) == sorted(event_id for _, _, event_id in deliveries)
            # Processing claims an event in the transaction that applies it: a job killed midway counted nothing.
            assert {(r.status, r.attempts, r.last_error) for r in rows} == {(EventStatus.DONE, 1, None)}
            for model, column in ((Order, Order.shopify_id), (Shipment, Shipment.fulfillment_id),
                                  (Survey, Survey.order_id)):
                count, distinct = conn.execute(sa.select(sa.func.count(), sa.func.count(column.distinct()))
                                               .select_from(model)).one()
                assert count == distinct == ORDERS, model.__name__

        deadline = time.monotonic() + WAIT
        while len(sink.received) < ORDERS and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2)  # a second mail to anyone would come now
        mailed = Counter(r for received in sink.received for r in received.recipients)
        assert mailed == {f"shopper{n}@example.test": 1 for n in range(ORDERS)}
        with direct.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(Survey)
                                .where(Survey.status == "sent")).scalar() == ORDERS
    finally:
        for process in workers + webs:
            processes.stop(process)
        direct.dispose()
    assert "Traceback" not in "".join((tmp_path / f"worker{i}.log").read_text() for i in range(2))
