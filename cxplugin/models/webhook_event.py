"""Every webhook Shopify delivered, recorded before it is acknowledged."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from cxplugin.extensions import db
from cxplugin.models.types import UTCDateTime, utcnow


class EventStatus(enum.StrEnum):
    PENDING = "pending"  # recorded, waiting for (another) attempt
    DONE = "done"
    IGNORED = "ignored"  # unknown topic, or a shop that no longer has the app
    FAILED = "failed"  # attempts exhausted; `cx webhooks replay --failed` tries again


class WebhookEvent(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "webhook_events"
    __table_args__ = (
        sa.UniqueConstraint("shop_domain", "event_id"),
        # Intake writes every event with order_id NULL and the handler sets it; only set ids are looked up.
        sa.Index("ix_webhook_events_order_id", "order_id", sqlite_where=sa.text("order_id IS NOT NULL"),
                 postgresql_where=sa.text("order_id IS NOT NULL")),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    # Keyed by domain, not shop_id: compliance webhooks may name a shop we no longer hold.
    # (No index of its own: the unique constraint's index leads with it.)
    shop_domain: so.Mapped[str] = so.mapped_column(sa.String(255))
    event_id: so.Mapped[str] = so.mapped_column(sa.String(255))
    webhook_id: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    topic: so.Mapped[str] = so.mapped_column(sa.String(100))
    api_version: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    triggered_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    received_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    payload: so.Mapped[str] = so.mapped_column(sa.Text)
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default=EventStatus.PENDING, index=True)
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    last_error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    processed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    next_attempt_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # When the worker's dispatcher handed the event to the queue (intake only records it).
    dispatched_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # Set by the handler so that a customer's data can be found and erased later.
    order_id: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)
    customer_id: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)
