"""The worker's dispatcher: recorded webhook events reach the queue once, and none is left behind."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa
from flask import Flask

from cxplugin.extensions import db
from cxplugin.models import WebhookEvent
from cxplugin.queue import huey
from cxplugin.tasks import process_webhook_event
from cxplugin.webhooks import dispatch
from tests.conftest import Send


def test_two_dispatchers_racing_never_claim_the_same_event_and_miss_none(app: Flask, shop: str,
                                                                         send_webhook: Send) -> None:
    for n in range(40):
        assert send_webhook("orders/create", "orders_create__basic", event_id=f"evt-{n}").status_code == 200
    claimed: list[list[int]] = [[], []]
    barrier = threading.Barrier(2)

    def claim(slot: int) -> None:
        with app.app_context():
            barrier.wait()
            while ids := dispatch.claim_new_events(limit=7):
                claimed[slot].extend(ids)
            db.session.remove()

    threads = [threading.Thread(target=claim, args=(slot,)) for slot in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with app.app_context():
        all_ids = set(db.session.scalars(sa.select(WebhookEvent.id)))
        undispatched = db.session.scalar(sa.select(sa.func.count()).where(WebhookEvent.dispatched_at.is_(None)))
    assert not set(claimed[0]) & set(claimed[1])
    assert set(claimed[0]) | set(claimed[1]) == all_ids
    assert undispatched == 0


def jobs_queued_within(seconds: float) -> int:
    """The number of jobs in the queue once there is one, or when ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    while huey.pending_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    return int(huey.pending_count())


def test_the_dispatch_loop_enqueues_a_new_event_within_a_second(app: Flask, shop: str, send_webhook: Send) -> None:
    stop = dispatch.start(app, process_webhook_event)
    try:
        assert send_webhook("orders/create", "orders_create__basic").status_code == 200
        assert jobs_queued_within(1.0) == 1
    finally:
        stop.set()
        time.sleep(dispatch.IDLE_SECONDS * 2)  # let the loop see the stop before the app goes


def test_the_dispatch_loop_survives_a_database_error_and_goes_on(app: Flask, shop: str, send_webhook: Send) -> None:
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE webhook_events RENAME TO webhook_events_away"))
    stop = dispatch.start(app, process_webhook_event)
    try:
        time.sleep(dispatch.IDLE_SECONDS * 2)  # the loop meets the missing table, logs, and waits
        with app.app_context(), db.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE webhook_events_away RENAME TO webhook_events"))
        assert send_webhook("orders/create", "orders_create__basic").status_code == 200
        assert jobs_queued_within(3.0) == 1
    finally:
        stop.set()
        time.sleep(dispatch.IDLE_SECONDS * 5)
