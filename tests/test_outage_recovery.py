"""A database or Redis outage makes work late, never lost or doubled: a job that meets one runs again a
few seconds later without counting an attempt, and the dispatcher hands out at once, when the outage
ends, what it lost."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from huey.storage import RedisStorage

from cxplugin import orders
from cxplugin.extensions import db
from cxplugin.models import EventStatus, Order, WebhookEvent
from cxplugin.models.types import utcnow
from cxplugin.queue import huey
from cxplugin.tasks import process_webhook_event
from cxplugin.webhooks import dispatch
from tests.conftest import Send

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
    """Run the jobs waiting in the queue now, as a worker thread would."""
    ran = 0
    while huey.pending_count() and (task := huey.dequeue()) is not None:
        huey.execute(task)
        ran += 1
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
