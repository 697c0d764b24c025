"""Run a recorded webhook event through its topic handler, once, with retries and backoff.

The claim, the handler's writes and the DONE mark share one transaction: a worker that dies
midway leaves the event PENDING for the sweeper, and two workers never both apply it. A database
or Redis outage is raised to the queue (which runs the job again) and never counted as an attempt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from marshmallow import ValidationError

from cxplugin.extensions import db
from cxplugin.models import EventStatus, WebhookEvent
from cxplugin.models.types import utcnow
from cxplugin.outages import is_outage
from cxplugin.shops.lifecycle import find_shop
from cxplugin.webhooks.topics import TOPICS, Kind

MAX_BACKOFF_SECONDS = 3600.0


@dataclass(frozen=True)
class Outcome:
    event_id: int
    status: str  # an EventStatus, or "skipped" when another run already handled it
    retry_in: float | None = None
    shop: str | None = None
    topic: str | None = None

    def log_fields(self) -> dict[str, object]:
        return {"webhook_event_id": self.event_id, "outcome": self.status, "retry_in": self.retry_in,
                "shop": self.shop, "topic": self.topic}


def backoff_seconds(attempts: int) -> float:
    base = float(current_app.config["CX_WEBHOOK_RETRY_BASE_SECONDS"])
    delay: float = base * 2 ** max(attempts - 1, 0)
    return min(delay, MAX_BACKOFF_SECONDS)


def process_event(event_id: int) -> Outcome:
    claimed = db.session.execute(
        sa.update(WebhookEvent)
        .where(WebhookEvent.id == event_id, WebhookEvent.status == EventStatus.PENDING)
        .values(attempts=WebhookEvent.attempts + 1)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        return Outcome(event_id, "skipped")
    event = db.session.get_one(WebhookEvent, event_id)
    shop_name, topic_name = event.shop_domain, event.topic
    try:
        status = _run_handler(event)
        event.status = status
        event.processed_at = utcnow()
        event.last_error = None
        db.session.commit()
        return Outcome(event_id, status, shop=shop_name, topic=topic_name)
    except Exception as exc:
        db.session.rollback()
        if is_outage(exc):  # the event is not at fault: no attempt counted, the queue runs it again
            raise
        return _record_failure(event_id, exc, shop_name, topic_name)


def _run_handler(event: WebhookEvent) -> EventStatus:
    topic = TOPICS.get(event.topic)
    if topic is None:
        return EventStatus.IGNORED
    shop = find_shop(event.shop_domain)
    if topic.kind is Kind.BUSINESS and (shop is None or not shop.is_installed):
        return EventStatus.IGNORED
    if topic.kind is Kind.LIFECYCLE and shop is None:
        return EventStatus.IGNORED
    payload = topic.load(json.loads(event.payload))
    topic.handle(shop, payload, event)
    return EventStatus.DONE


def _record_failure(event_id: int, exc: Exception, shop: str, topic: str) -> Outcome:
    # Write first (the claim's increment was rolled back with the handler's writes), then read.
    db.session.execute(
        sa.update(WebhookEvent).where(WebhookEvent.id == event_id)
        .values(attempts=WebhookEvent.attempts + 1, last_error=f"{type(exc).__name__}: {exc}"[:2000])
    )
    event = db.session.get_one(WebhookEvent, event_id)
    # A payload the schema cannot read will not read better later: no retries, kept for the operator.
    if isinstance(exc, ValidationError) or event.attempts >= current_app.config["CX_WEBHOOK_MAX_ATTEMPTS"]:
        event.status = EventStatus.FAILED
        retry_in = None
    else:
        retry_in = backoff_seconds(event.attempts)
        event.next_attempt_at = utcnow() + timedelta(seconds=retry_in)
    db.session.commit()
    return Outcome(event_id, event.status, retry_in=retry_in, shop=shop, topic=topic)


def stuck_event_ids(older_than: timedelta, now: datetime | None = None, limit: int = 500) -> list[int]:
    """PENDING events whose job seems lost (enqueue failed, or the worker died mid-run)."""
    cutoff = (now or utcnow()) - older_than
    due = sa.func.coalesce(WebhookEvent.next_attempt_at, WebhookEvent.received_at)
    return list(db.session.scalars(
        sa.select(WebhookEvent.id).where(WebhookEvent.status == EventStatus.PENDING, due < cutoff)
        .order_by(WebhookEvent.id).limit(limit)
    ))


def reset_failed() -> list[int]:
    """Give FAILED events a fresh set of attempts (for `cx webhooks replay --failed`)."""
    ids = list(db.session.scalars(sa.select(WebhookEvent.id).where(WebhookEvent.status == EventStatus.FAILED)
                                  .order_by(WebhookEvent.id)))
    if ids:
        db.session.execute(sa.update(WebhookEvent).where(WebhookEvent.id.in_(ids))
                           .values(status=EventStatus.PENDING, attempts=0, next_attempt_at=None))
        db.session.commit()
    return ids
