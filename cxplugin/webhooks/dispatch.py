"""Hand newly recorded webhook events to the queue: the events table is the outbox.

Intake only inserts the row, so Shopify's 200 costs one statement; a loop in the worker process
claims the new rows (``dispatched_at``) and enqueues them a fraction of a second later. Nothing can
fall between the two: the row exists before Shopify hears 200, a claim is atomic (two workers never
take the same row), and a row claimed by a process that died before enqueueing it is still PENDING,
so the five-minute sweeper (tasks.requeue_stuck_webhooks) enqueues it again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask

from cxplugin.extensions import db
from cxplugin.logs import log
from cxplugin.models import EventStatus, WebhookEvent
from cxplugin.models.types import utcnow

BATCH = 500
# How long the loop rests when it found less than a full batch.
IDLE_SECONDS = 0.25


def claim_new_events(limit: int = BATCH) -> list[int]:
    """Mark up to ``limit`` undispatched PENDING events as dispatched and return their ids, oldest first."""
    new = (sa.select(WebhookEvent.id)
           .where(WebhookEvent.status == EventStatus.PENDING, WebhookEvent.dispatched_at.is_(None))
           .order_by(WebhookEvent.id).limit(limit))
    candidates = list(db.session.scalars(new))
    if not candidates:  # the usual answer: read only, so an idle loop never takes SQLite's write lock
        db.session.rollback()
        return []
    claimed = db.session.scalars(
        sa.update(WebhookEvent)
        .where(WebhookEvent.id.in_(candidates), WebhookEvent.dispatched_at.is_(None))
        .values(dispatched_at=utcnow())
        .returning(WebhookEvent.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return sorted(claimed)


def dispatch_new_events(enqueue: Callable[[int], object], limit: int = BATCH) -> int:
    """Claim new events and enqueue each; returns how many were handed on."""
    ids = claim_new_events(limit)
    for event_id in ids:
        enqueue(event_id)
    return len(ids)


def run_forever(app: Flask, enqueue: Callable[[int], object], stop: threading.Event) -> None:
    """The worker's dispatch loop: never raises; a database hiccup is logged and tried again."""
    while not stop.is_set():
        handed = 0
        with app.app_context():
            try:
                handed = dispatch_new_events(enqueue)
            except Exception as exc:
                db.session.rollback()
                log("webhook dispatch failed; trying again", 40, error=repr(exc))
                stop.wait(IDLE_SECONDS * 4)
            finally:
                db.session.remove()
        if handed:
            log("webhook events dispatched", count=handed)
        if handed < BATCH:
            stop.wait(IDLE_SECONDS)


def start(app: Flask, enqueue: Callable[[int], object]) -> threading.Event:
    """Run the loop in a daemon thread of this process; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(target=run_forever, args=(app, enqueue, stop), name="cx-webhook-dispatch",
                     daemon=True).start()
    return stop
