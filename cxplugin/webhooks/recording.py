"""Record a verified delivery exactly once per (shop, X-Shopify-Event-Id) and enqueue it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from marshmallow import ValidationError

from cxplugin.extensions import db
from cxplugin.logs import log
from cxplugin.models import EventStatus
from cxplugin.models.types import UTCDateTime, utcnow
from cxplugin.shop_snapshot import ShopView
from cxplugin.webhooks.topics import TOPICS, Kind


class Rejected(Exception):
    """The delivery is refused with ``status``; nothing was recorded."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Delivery:
    shop_domain: str
    topic: str
    event_id: str
    webhook_id: str | None
    api_version: str | None
    triggered_at: datetime | None
    body: str


@dataclass(frozen=True)
class Recorded:
    id: int | None  # None when this event was already recorded
    status: EventStatus


_FRACTION = re.compile(r"\.(\d{6})\d+")


def parse_triggered_at(value: str | None) -> datetime | None:
    """X-Shopify-Triggered-At, e.g. 2026-03-29T18:00:27.877041743Z (nanoseconds cut to micro)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub(r".\1", value.strip()).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def check(delivery: Delivery, shop: ShopView | None) -> EventStatus:
    """Decide whether to take the delivery: PENDING (handle it), IGNORED (log only) or Rejected."""
    topic = TOPICS.get(delivery.topic)
    if topic is None:
        return EventStatus.IGNORED
    try:
        payload: Any = json.loads(delivery.body)
    except ValueError as exc:
        raise Rejected(400, "The body is not JSON.") from exc
    if not isinstance(payload, dict):
        raise Rejected(400, "The body is not a JSON object.")
    try:
        topic.load(payload)
    except ValidationError as exc:
        raise Rejected(400, f"The payload is missing or has malformed fields: {exc.messages}") from exc
    if topic.kind is Kind.COMPLIANCE:
        return EventStatus.PENDING
    if shop is None:
        raise Rejected(404, "Unknown shop.")
    if topic.kind is Kind.BUSINESS and not shop.installed:
        raise Rejected(410, "The app is not installed on this shop.")
    return EventStatus.PENDING


def record(delivery: Delivery, status: EventStatus) -> Recorded:
    """Insert the event unless (shop, event id) is already held, in a transaction of its own.

    A Core connection, not the ORM session: this runs for every webhook Shopify sends, and a single
    fresh write transaction also keeps SQLite from having to upgrade a stale read snapshot.
    """
    with db.engine.begin() as conn:
        new_id = conn.execute(_INSERT_ONCE, {
            "shop_domain": delivery.shop_domain, "event_id": delivery.event_id, "webhook_id": delivery.webhook_id,
            "topic": delivery.topic, "api_version": delivery.api_version, "triggered_at": delivery.triggered_at,
            "received_at": utcnow(), "payload": delivery.body, "status": str(status),
        }).scalar_one_or_none()
    return Recorded(new_id, status)


# The same SQL on SQLite and PostgreSQL, built once.
_INSERT_ONCE = sa.text(
    "INSERT INTO webhook_events (shop_domain, event_id, webhook_id, topic, api_version, triggered_at, received_at,"
    " payload, status, attempts) VALUES (:shop_domain, :event_id, :webhook_id, :topic, :api_version,"
    " :triggered_at, :received_at, :payload, :status, 0)"
    " ON CONFLICT (shop_domain, event_id) DO NOTHING RETURNING id"
).bindparams(sa.bindparam("triggered_at", type_=UTCDateTime()), sa.bindparam("received_at", type_=UTCDateTime()))


def enqueue(event_id: int) -> None:
    """Hand the event to the worker. A failure here loses nothing: the sweeper re-enqueues it."""
    from cxplugin.tasks import process_webhook_event

    try:
        process_webhook_event(event_id)
    except Exception as exc:
        log("enqueue failed; the sweeper will pick the event up", 30, webhook_event_id=event_id, error=repr(exc))

