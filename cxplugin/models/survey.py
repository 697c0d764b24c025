"""Post-delivery surveys, the suppression list, and mail kept in the outbox."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from cxplugin.extensions import db
from cxplugin.models.order import Order
from cxplugin.models.types import UTCDateTime, utcnow


class SurveyStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    SENDING = "sending"  # claimed by a worker; see surveys/sending.py for the window this covers
    SENT = "sent"
    ANSWERED = "answered"
    SKIPPED = "skipped"


def new_public_id() -> str:
    return secrets.token_hex(12)


class Survey(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "surveys"
    __table_args__ = (sa.Index("ix_surveys_shop_answered_at", "shop_id", "answered_at"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    # What the e-mail's links name the survey by: random, so a link says nothing of how many surveys exist.
    public_id: so.Mapped[str] = so.mapped_column(sa.String(24), unique=True, index=True, default=new_public_id)
    shop_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    order_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default=SurveyStatus.SCHEDULED, index=True)
    skip_reason: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    # "csat", "nps" or "csat_nps" (CSAT in the e-mail, NPS on the page after it).
    question: so.Mapped[str] = so.mapped_column(sa.String(16))
    basis: so.Mapped[str] = so.mapped_column(sa.String(16))  # "delivered" or "fallback" (no delivery event came)
    # sha256 of the shop and the normalised address: throttling and suppression without keeping the address.
    email_hash: so.Mapped[str | None] = so.mapped_column(sa.String(64), index=True)
    due_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, index=True)
    # When the periodic job last put this survey on the queue (so it is not queued twice meanwhile).
    queued_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # When a worker took the survey to send it, on the database's clock (see surveys/sending.py).
    claimed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # Failed tries of the mailing under way and the last one's error (no addresses); cleared once it goes out.
    send_attempts: so.Mapped[int] = so.mapped_column(default=0)
    last_error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    sent_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime, index=True)
    message_id: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    reminder_due_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    reminder_sent_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    csat: so.Mapped[int | None]
    nps: so.Mapped[int | None]
    comment: so.Mapped[str | None] = so.mapped_column(sa.Text)
    answered_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # "pending" once an answer needs the merchant's attention; "batched" once an alert run handed it to the
    # channels that were on then, each with its own state below.
    alert_state: so.Mapped[str | None] = so.mapped_column(sa.String(16), index=True)
    # Per channel: "pending" until delivered, then "sent", or "failed" (given up after repeated failures) or
    # "dropped" (the channel was switched off meanwhile); None when the channel was off at batching.
    alert_email_state: so.Mapped[str | None] = so.mapped_column(sa.String(16), index=True)
    alert_webhook_state: so.Mapped[str | None] = so.mapped_column(sa.String(16), index=True)
    # The merchant's follow-up of an answer: "open", "contacted" or "resolved".
    follow_up: so.Mapped[str] = so.mapped_column(sa.String(16), default="open", server_default="open")
    follow_up_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    order: so.Mapped[Order] = so.relationship()


class Suppression(db.Model):  # type: ignore[name-defined,misc]
    """Addresses (hashed) that asked for no more surveys from this shop."""

    __tablename__ = "suppressions"
    __table_args__ = (sa.UniqueConstraint("shop_id", "email_hash"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    shop_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    email_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)


class OutboxMessage(db.Model):  # type: ignore[name-defined,misc]
    """A rendered message kept instead of sent (MAIL_URL=outbox): development, demo and review."""

    __tablename__ = "outbox_messages"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    shop_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    recipient: so.Mapped[str] = so.mapped_column(sa.String(320))
    subject: so.Mapped[str] = so.mapped_column(sa.String(998))
    message_id: so.Mapped[str] = so.mapped_column(sa.String(255), unique=True)
    raw: so.Mapped[str] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
