"""Orders at risk: each order's risk state and its history, the shopper delay notices, the merchant's marks and
the Flow triggers sent."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from cxplugin.extensions import db
from cxplugin.models.types import UTCDateTime, utcnow


class OrderRisk(db.Model):  # type: ignore[name-defined,misc]
    """An order's current risk state (one row per order once it has been checked)."""

    __tablename__ = "order_risks"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    shop_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    order_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    state: so.Mapped[str] = so.mapped_column(sa.String(24), index=True)
    reason: so.Mapped[str] = so.mapped_column(sa.String(255))
    new_expected: so.Mapped[date | None]
    since: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    checked_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    # Delivered (or gone): the periodic check leaves it alone.
    closed: so.Mapped[bool] = so.mapped_column(default=False, index=True)
    # The merchant's mark on the current risk: contacted, resolved, ignored (cleared when the state changes).
    mark: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    marked_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)


class RiskChange(db.Model):  # type: ignore[name-defined,misc]
    """One change of an order's risk state, with when it was seen."""

    __tablename__ = "risk_changes"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    shop_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    order_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    state: so.Mapped[str] = so.mapped_column(sa.String(24))
    reason: so.Mapped[str] = so.mapped_column(sa.String(255))
    new_expected: so.Mapped[date | None]
    at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)


class DelayNotice(db.Model):  # type: ignore[name-defined,misc]
    """The shopper's delay notice for one risk kind of one order: at most one per (order, kind).

    ``status``: planned → sent, or skipped (``skip_reason``). ``claimed_at`` is on the database clock, as the
    surveys' claims are. The discount code is created once and kept here before the mail is built."""

    __tablename__ = "delay_notices"
    __table_args__ = (sa.UniqueConstraint("order_id", "kind"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    shop_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    order_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(24))
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="planned", index=True)
    skip_reason: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    new_expected: so.Mapped[date | None]
    claimed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    last_error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    discount_code: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    discount_id: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    sent_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime, index=True)
    message_id: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)


class FlowTrigger(db.Model):  # type: ignore[name-defined,misc]
    """A Shopify Flow trigger to send once (``dedupe_key`` unique per shop), with its payload."""

    __tablename__ = "flow_triggers"
    __table_args__ = (sa.UniqueConstraint("shop_id", "dedupe_key"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    shop_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    handle: so.Mapped[str] = so.mapped_column(sa.String(64))
    dedupe_key: so.Mapped[str] = so.mapped_column(sa.String(128))
    payload: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    sent_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime, index=True)
    claimed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)  # database clock
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    last_error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
