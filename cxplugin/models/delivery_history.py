"""Deliveries a shop made before it used the app (imported from a CSV or read back from Shopify), to learn from."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from cxplugin.extensions import db
from cxplugin.models.types import UTCDateTime, utcnow


class PastDelivery(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "past_deliveries"
    __table_args__ = (sa.UniqueConstraint("shop_id", "order_ref"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    shop_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    order_ref: so.Mapped[str] = so.mapped_column(sa.String(64))
    placed_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    shipped_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    delivered_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    origin: so.Mapped[str] = so.mapped_column(sa.String(255), default="")
    country: so.Mapped[str] = so.mapped_column(sa.String(2))
    region: so.Mapped[str] = so.mapped_column(sa.String(16), default="")
    zip: so.Mapped[str] = so.mapped_column(sa.String(32), default="")
    carrier: so.Mapped[str] = so.mapped_column(sa.String(255), default="")
    method: so.Mapped[str] = so.mapped_column(sa.String(255), default="")
    source: so.Mapped[str] = so.mapped_column(sa.String(16), default="import")  # import | shopify
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)


class HistoryBackfill(db.Model):  # type: ignore[name-defined,misc]
    """One read of a shop's past orders from Shopify (a bulk query), and what came of it."""

    __tablename__ = "history_backfills"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    shop_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    # Shopify's BulkOperation id; none when Shopify refused to start it.
    operation_id: so.Mapped[str | None] = so.mapped_column(sa.String(255), unique=True)
    status: so.Mapped[str] = so.mapped_column(sa.String(16))  # running | importing | completed | partial | failed
    error: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    started_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    finished_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # orders read, deliveries imported, already held, not delivered, dropped, unreadable lines
    counts: so.Mapped[dict[str, int]] = so.mapped_column(sa.JSON, default=dict)
