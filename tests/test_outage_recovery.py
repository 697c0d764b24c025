"""A database or Redis outage makes work late, never lost or doubled: a job that meets one runs again a
few seconds later without counting an attempt, and the dispatcher hands out at once, when the outage
ends, what it lost. The last two tests replay an outage against the real worker process through a
proxy that cuts PostgreSQL or Redis off (the shared servers themselves are never stopped)."""

from __future__ import annotations

import contextlib
import copy
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from huey.storage import RedisStorage

from cxplugin import create_app, orders
from cxplugin.extensions import db
from cxplugin.models import EventStatus, Order, Shipment, WebhookEvent
from cxplugin.models.types import utcnow
from cxplugin.outages import is_outage
from cxplugin.queue import huey
from cxplugin.tasks import process_webhook_event
from cxplugin.webhooks import dispatch
from tests.conftest import Send
from tests.shopify_signing import fixture
from tests.tcp_proxy import TcpProxy
from tests.test_worker import worker_env

# ---------------------------------------------------------------- helpers


def events(app: Flask) -> list[WebhookEvent]:
    with app.app_context():
        return list(db.session.scalars(sa.select(WebhookEvent).order_by(WebhookEvent.id)))


def order_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Order)) or 0


def rename_table(app: Flask, old: str, new: str) -> None:
    """On SQLite a statement that meets a missing table raises OperationalError, as a lost server does."""
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text(f"ALTER TABLE {old} RENAME TO {new}"))


@pytest.fixture
def sqlite_only(app: Flask) -> None:
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("makes the outage by renaming a table, which only SQLite answers with OperationalError; "
                        "on PostgreSQL the proxy tests below cut the real connection")


def run_queued() -> int:
    """Run the jobs waiting in the queue now, as a worker thread would; how many were webhook events' (an order's
    product-tag fetch runs too, and is not counted)."""
    ran = 0
    while huey.pending_count() and (task := huey.dequeue()) is not None:
        huey.execute(task)
        ran += task.name == "process_webhook_event"
    return ran


def run_scheduled() -> list[float]:
    """Run the jobs the queue holds for later, each at its time; returns how far out each was (seconds)."""
    now = datetime.now(UTC).replace(tzinfo=None)  # huey keeps naive UTC
    due = sorted(huey.scheduled(), key=lambda task: task.eta)
    if due:
        huey.read_schedule(due[-1].eta)  # takes them off the schedule
    for task in due:
        huey.execute(task, timestamp=task.eta)
    return [(task.eta - now).total_seconds() for task in due]


# ---------------------------------------------------------------- the job's side (SQLite)


def test_a_job_that_cannot_reach_the_database_runs_again_seconds_later_without_counting_an_attempt(
        app: Flask, sqlite_only: None, shop: str, send_webhook: Send) -> None:
    assert send_webhook("orders/create", "orders_create__basic").status_code == 200
    with app.app_context():
        assert dispatch.dispatch_new_events(process_webhook_event) == 1
    rename_table(app, "webhook_events", "webhook_events_away")
    assert run_queued() == 1  # the job meets the outage at its first statement...
    rename_table(app, "webhook_events_away", "webhook_events")
    (event,) = events(app)
    assert (event.status, event.attempts, event.last_error) == (EventStatus.PENDING, 0, None)
    retry_in = run_scheduled()  # ...and the queue kept it for a few seconds later, not dropped it
    assert len(retry_in) == 1 and 0 < retry_in[0] <= app.config["CX_OUTAGE_RETRY_SECONDS"]
    (event,) = events(app)
    assert (event.status, event.attempts) == (EventStatus.DONE, 1)
    assert order_count(app) == 1


def test_an_outage_midway_through_the_handler_leaves_nothing_behind_and_counts_no_attempt(
        app: Flask, sqlite_only: None, shop: str, send_webhook: Send) -> None:
    assert send_webhook("orders/create", "orders_create__basic").status_code == 200
    with app.app_context():
        dispatch.dispatch_new_events(process_webhook_event)
    rename_table(app, "surveys", "surveys_away")  # the order is written, then its survey planned
    run_queued()
    rename_table(app, "surveys_away", "surveys")
    (event,) = events(app)
    assert (event.status, event.attempts, event.last_error, event.next_attempt_at) == (
        EventStatus.PENDING, 0, None, None)
    assert order_count(app) == 0
    assert len(run_scheduled()) == 1
    (event,) = events(app)
    assert (event.status, event.attempts) == (EventStatus.DONE, 1)
    assert order_count(app) == 1


def test_after_an_outage_the_dispatcher_hands_out_at_once_what_the_outage_lost(
        app: Flask, sqlite_only: None, shop: str, send_webhook: Send) -> None:
    app.config.update(CX_STUCK_AFTER_SECONDS=1.0, CX_SWEEP_SECONDS=3600.0)  # only the sweep after an outage
    stop = dispatch.start(app, process_webhook_event)
    try:
        assert send_webhook("orders/create", "orders_create__basic").status_code == 200
        assert queued_within(2.0) == 1
        huey.flush()  # the job is lost (a queue that restarted empty)
        rename_table(app, "webhook_events", "webhook_events_away")
        time.sleep(1.5)  # the dispatcher meets the outage; the event was handed out over a second ago
        rename_table(app, "webhook_events_away", "webhook_events")
        assert queued_within(3.0) == 1
    finally:
        stop.set()
        time.sleep(dispatch.IDLE_SECONDS * 5)
    assert run_queued() == 1
    assert [e.status for e in events(app)] == [EventStatus.DONE]


def queued_within(seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while huey.pending_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    return int(huey.pending_count())


# ---------------------------------------------------------------- handing out (any database)


def test_events_the_queue_cannot_take_are_handed_out_as_soon_as_it_answers(app: Flask, shop: str,
                                                                          send_webhook: Send) -> None:
    for n in range(3):
        assert send_webhook("orders/create", "orders_create__basic", event_id=f"e-{n}").status_code == 200
    answering = huey.storage
    huey.storage = RedisStorage(name=huey.name, url="redis://127.0.0.1:1/0")  # nothing listens there
    try:
        with app.app_context(), pytest.raises(Exception) as outage:
            dispatch.dispatch_new_events(process_webhook_event)
    finally:
        huey.storage = answering
    assert "Connection refused" in str(outage.value)
    assert all(e.dispatched_at is None for e in events(app))  # not left claimed for the sweep to find later
    with app.app_context():
        assert dispatch.dispatch_new_events(process_webhook_event) == 3
    assert run_queued() == 3


def test_the_sweep_leaves_alone_an_event_waiting_out_its_backoff(app: Flask, shop: str, send_webhook: Send,
                                                                 drain: Callable[[], int],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*_: Any) -> Any:
        raise RuntimeError("carrier API said no")

    monkeypatch.setattr(orders, "apply_order", crash)
    send_webhook("orders/create", "orders_create__basic")
    drain()  # a real failure: counted, retried in 30 s
    stuck_after = timedelta(seconds=app.config["CX_STUCK_AFTER_SECONDS"])
    with app.app_context():
        db.session.execute(sa.update(WebhookEvent).values(dispatched_at=utcnow() - 2 * stuck_after))
        db.session.commit()
        assert dispatch.claim_stale_events(stuck_after) == []  # its retry is not due yet
        later = utcnow() + timedelta(seconds=30) + stuck_after + timedelta(seconds=1)
        assert len(dispatch.claim_stale_events(stuck_after, now=later)) == 1  # that retry was lost
    (event,) = events(app)
    assert event.attempts == 1


# ---------------------------------------------------------------- the real worker, PostgreSQL and Redis cut off


@dataclass
class Outage:
    database: TcpProxy
    redis: TcpProxy
    direct: sa.Engine  # straight to PostgreSQL, for the test's own look at the tables

    def wait_for(self, what: str, query: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self.direct.connect() as conn:
                if conn.execute(sa.text(query)).scalar():
                    return
            time.sleep(0.05)
        raise AssertionError(f"not seen within {seconds} s: {what}")


@pytest.fixture
def outage(config: dict[str, Any]) -> Iterator[Outage]:
    """PostgreSQL and Redis behind proxies the test can cut; the app and the worker connect through them.

    Request it before ``app`` (it rewrites the config the app is built from).
    """
    if not config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("needs PostgreSQL: set DATABASE_URL (CI does); an embedded SQLite has no server to lose")
    if not config["REDIS_URL"]:
        pytest.skip("needs Redis: set REDIS_URL (CI does)")
    direct = sa.create_engine(config["SQLALCHEMY_DATABASE_URI"])
    database_proxy, config["SQLALCHEMY_DATABASE_URI"] = TcpProxy.in_front_of(config["SQLALCHEMY_DATABASE_URI"])
    redis_proxy, config["REDIS_URL"] = TcpProxy.in_front_of(config["REDIS_URL"])
    yield Outage(database_proxy, redis_proxy, direct)
    database_proxy.close()
    redis_proxy.close()
    direct.dispose()


@contextlib.contextmanager
def running_worker(config: dict[str, Any], repo_root: Path, log: Path) -> Iterator[None]:
    """`cx worker` in its own process (production timings), its log kept in ``log``."""
    with log.open("wb") as out:
        worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "cx", "worker", "--workers", "2"],
                                  cwd=repo_root, env=worker_env(config), stdout=out, stderr=subprocess.STDOUT)
        try:
            yield
        finally:
            worker.send_signal(signal.SIGINT)
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


@contextlib.contextmanager
def orders_table_locked(outage: Outage) -> Iterator[None]:
    """Hold the orders table so that every job that reaches it stops midway, inside its transaction."""
    with outage.direct.connect() as conn:
        conn.execute(sa.text("LOCK TABLE orders IN SHARE ROW EXCLUSIVE MODE"))
        try:
            yield
        finally:
            conn.rollback()


def new_order(n: int) -> dict[str, Any]:
    """A distinct order, fulfilled in the same payload (so one event makes one order and one shipment)."""
    order = copy.deepcopy(fixture("orders_create__basic"))
    order.update(id=5_000_000 + n, name=f"#{2000 + n}", order_number=2000 + n)
    shipment = copy.deepcopy(fixture("fulfillments_create__basic"))
    shipment.update(id=7_000_000 + n, order_id=order["id"], name=f"#{2000 + n}.1")
    order["fulfillments"] = [shipment]
    return order


def deliver(send_webhook: Send, numbers: range, expect: int) -> None:
    for n in numbers:
        response = send_webhook("orders/create", new_order(n), event_id=f"outage-{n}")
        assert response.status_code == expect, (n, response.status_code)


def redeliver_until_taken(send_webhook: Send, numbers: range, seconds: float = 10.0) -> None:
    """Shopify's retries: each delivery again until it is answered 200."""
    deadline = time.monotonic() + seconds
    for n in numbers:
        while (status := send_webhook("orders/create", new_order(n), event_id=f"outage-{n}").status_code) != 200:
            assert time.monotonic() < deadline, (n, status)
            time.sleep(0.2)


def seconds_until_all_done(outage: Outage, expected: int, limit: float) -> float:
    started = time.monotonic()
    outage.wait_for(f"{expected} events done",
                    f"SELECT count(*) = {expected} FROM webhook_events WHERE status = 'done'", limit)
    return time.monotonic() - started


def assert_each_delivery_applied_once(outage: Outage, expected: int) -> None:
    with outage.direct.connect() as conn:
        rows = conn.execute(sa.select(WebhookEvent.status, WebhookEvent.attempts, WebhookEvent.last_error)).all()
        assert sorted(set(rows)) == [(EventStatus.DONE, 1, None)] and len(rows) == expected
        for model, column in ((Order, Order.shopify_id), (Shipment, Shipment.fulfillment_id)):
            count, distinct = conn.execute(sa.select(sa.func.count(), sa.func.count(column.distinct()))
                                           .select_from(model)).one()
            assert count == distinct == expected, model.__name__


def log_says(log: Path, message: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while message not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"the worker never logged {message!r}:\n{log.read_text()[-3000:]}"
        time.sleep(0.1)


def test_a_database_outage_mid_burst_is_caught_up_within_two_minutes_of_its_end(
        outage: Outage, app: Flask, config: dict[str, Any], shop: str, client: FlaskClient, send_webhook: Send,
        repo_root: Path, tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    with running_worker(config, repo_root, log):
        with orders_table_locked(outage):
            deliver(send_webhook, range(30), expect=200)
            outage.wait_for("a job stopped midway", "SELECT count(*) >= 1 FROM pg_locks "
                            "WHERE relation = 'orders'::regclass AND NOT granted", 30)
            outage.database.cut()
        deliver(send_webhook, range(30, 90), expect=503)  # Shopify will send these again
        assert client.get("/healthz").get_json()["database"] == "down"
        log_says(log, "job postponed: database or queue unreachable", 15)
        outage.database.restore()
        back = time.monotonic()
        assert client.get("/healthz").status_code == 200
        redeliver_until_taken(send_webhook, range(30, 90))
        seconds_until_all_done(outage, 90, 120)
        caught_up = time.monotonic() - back
    print(f"\ndatabase outage: all 90 events done {caught_up:.1f} s after the database came back")
    assert caught_up < 120
    assert_each_delivery_applied_once(outage, 90)


def test_a_redis_outage_mid_burst_is_caught_up_within_two_minutes_of_its_end(
        outage: Outage, app: Flask, config: dict[str, Any], shop: str, client: FlaskClient, send_webhook: Send,
        repo_root: Path, tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    with running_worker(config, repo_root, log):
        with orders_table_locked(outage):
            deliver(send_webhook, range(30), expect=200)
            outage.wait_for("a job stopped midway", "SELECT count(*) >= 1 FROM pg_locks "
                            "WHERE relation = 'orders'::regclass AND NOT granted", 30)
            outage.redis.cut()
        deliver(send_webhook, range(30, 90), expect=200)  # intake does not need the queue
        assert client.get("/healthz").get_json()["queue"] == "down"
        log_says(log, "webhook dispatch failed", 15)
        outage.redis.restore()
        back = time.monotonic()
        seconds_until_all_done(outage, 90, 120)
        caught_up = time.monotonic() - back
    print(f"\nRedis outage: all 90 events done {caught_up:.1f} s after Redis came back")
    assert caught_up < 120
    assert_each_delivery_applied_once(outage, 90)


def test_healthz_says_the_database_is_down_within_seconds_when_it_takes_connections_but_never_answers(
        config: dict[str, Any], _migrated: None) -> None:
    silent = socket.create_server(("127.0.0.1", 0))  # the kernel completes each handshake; nobody ever answers
    try:
        config["SQLALCHEMY_DATABASE_URI"] = f"postgresql+psycopg://postgres@127.0.0.1:{silent.getsockname()[1]}/cx"
        app = create_app(config)
        started = time.monotonic()
        response = app.test_client().get("/healthz")
        waited = time.monotonic() - started
        assert (response.status_code, response.get_json()["database"]) == (503, "down")
        assert waited < 10
        with app.app_context():
            db.engine.dispose()
    finally:
        silent.close()


def test_a_lost_connection_is_an_outage_but_a_cancelled_statement_or_a_duplicate_row_is_not() -> None:
    def wrapped(cls: type[sa.exc.DBAPIError], orig: Exception) -> sa.exc.DBAPIError:
        return cls("UPDATE webhook_events …", {}, orig)

    lost = psycopg.OperationalError("server closed the connection unexpectedly")
    assert is_outage(wrapped(sa.exc.OperationalError, lost))
    assert is_outage(redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379"))
    assert not is_outage(wrapped(sa.exc.OperationalError, psycopg.errors.QueryCanceled("statement timeout")))
    assert not is_outage(wrapped(sa.exc.IntegrityError, psycopg.errors.UniqueViolation("duplicate key")))
    assert not is_outage(RuntimeError("carrier API said no"))
