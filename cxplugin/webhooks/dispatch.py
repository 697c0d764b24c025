"""Hand newly recorded webhook events to the queue: the events table is the outbox.

Intake only inserts the row, so Shopify's 200 costs one statement; a loop in the worker process
claims the new rows (``dispatched_at``) and enqueues them a fraction of a second later. Nothing can
fall between the two: the row exists before Shopify hears 200, a claim is atomic (two workers never
take the same row), and an event still PENDING a while after it was handed out (``CX_STUCK_AFTER_SECONDS``:
its job was lost with a dead worker, a flushed queue, or a retry that Redis could not take) is claimed
and handed out again by the same loop's sweep. Handing an event out twice is harmless: processing
claims it in the transaction that applies it, so a second job finds it done and skips it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

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
    return _claim(WebhookEvent.dispatched_at.is_(None), limit)


def claim_stale_events(older_than: timedelta, now: datetime | None = None, limit: int = BATCH) -> list[int]:
    """Claim again PENDING events handed out (or due for a retry) longer than ``older_than`` ago."""
    # The later of the hand-out and the retry it was given; received_at for a row never handed out.
    handed_out_at = sa.case(
        (WebhookEvent.next_attempt_at > WebhookEvent.dispatched_at, WebhookEvent.next_attempt_at),
        else_=sa.func.coalesce(WebhookEvent.dispatched_at, WebhookEvent.received_at),
    )
    return _claim(handed_out_at < (now or utcnow()) - older_than, limit)


def _claim(condition: sa.ColumnElement[bool], limit: int) -> list[int]:
    """Stamp ``dispatched_at`` on up to ``limit`` PENDING events meeting ``condition``; their ids, oldest first.

    The UPDATE repeats the condition, so of two dispatchers racing for a row only one gets it.
    """
    found = (sa.select(WebhookEvent.id).where(WebhookEvent.status == EventStatus.PENDING, condition)
             .order_by(WebhookEvent.id).limit(limit))
    candidates = list(db.session.scalars(found))
    if not candidates:  # the usual answer: read only, so an idle loop never takes SQLite's write lock
        db.session.rollback()
        return []
    claimed = db.session.scalars(
        sa.update(WebhookEvent)
        .where(WebhookEvent.id.in_(candidates), WebhookEvent.status == EventStatus.PENDING, condition)
        .values(dispatched_at=utcnow())
        .returning(WebhookEvent.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return sorted(claimed)


def dispatch_new_events(enqueue: Callable[[int], object], limit: int = BATCH) -> int:
    """Claim new events and enqueue each; returns how many were handed on."""
    return _hand_out(claim_new_events(limit), enqueue)


def dispatch_stale_events(enqueue: Callable[[int], object], older_than: timedelta, limit: int = BATCH) -> int:
    """Hand out again the events whose job seems lost; returns how many."""
    return _hand_out(claim_stale_events(older_than, limit=limit), enqueue)


def _hand_out(ids: list[int], enqueue: Callable[[int], object]) -> int:
    for n, event_id in enumerate(ids):
        try:
            enqueue(event_id)
        except Exception:
            # The queue did not take them (Redis unreachable): unclaimed, they go out as soon as it answers.
            db.session.execute(sa.update(WebhookEvent).where(WebhookEvent.id.in_(ids[n:]))
                               .values(dispatched_at=None).execution_options(synchronize_session=False))
            db.session.commit()
            raise
    return len(ids)


def run_forever(app: Flask, enqueue: Callable[[int], object], stop: threading.Event) -> None:
    """The worker's dispatch loop: never raises; a database or queue outage is logged and tried again.

    Every ``CX_SWEEP_SECONDS``, and at once when the database or the queue answers again after an
    outage, it also hands out again the events whose job seems lost.
    """
    sweep_every = float(app.config["CX_SWEEP_SECONDS"])
    stuck_after = timedelta(seconds=float(app.config["CX_STUCK_AFTER_SECONDS"]))
    next_sweep = time.monotonic()  # a worker that starts picks up what the last one left behind
    failing_since: float | None = None
    while not stop.is_set():
        handed = again = 0
        with app.app_context():
            try:
                handed = dispatch_new_events(enqueue)
                if time.monotonic() >= next_sweep:
                    again = dispatch_stale_events(enqueue, stuck_after)
                    next_sweep = time.monotonic() + sweep_every
                if failing_since is not None:
                    log("webhook dispatch works again", down_s=round(time.monotonic() - failing_since, 1))
                    failing_since = None
            except Exception as exc:
                with contextlib.suppress(Exception):
                    db.session.rollback()
                if failing_since is None:
                    failing_since = time.monotonic()
                log("webhook dispatch failed; trying again", 40, error=repr(exc))
                next_sweep = time.monotonic()  # once it answers again, look for jobs the outage lost
                stop.wait(IDLE_SECONDS * 4)
            finally:
                db.session.remove()
        if handed:
            log("webhook events dispatched", count=handed)
        if again:
            log("webhook events handed out again", count=again)
        if handed < BATCH:
            stop.wait(IDLE_SECONDS)


def start(app: Flask, enqueue: Callable[[int], object]) -> threading.Event:
    """Run the loop in a daemon thread of this process; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(target=run_forever, args=(app, enqueue, stop), name="cx-webhook-dispatch",
                     daemon=True).start()
    return stop
