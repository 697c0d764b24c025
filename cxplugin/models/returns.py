"""Returns as Shopify's returns webhooks told us, and the return requests this app sent for signed-in customers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from cxplugin.extensions import db
from cxplugin.models.types import UTCDateTime, utcnow


class Return(db.Model):  # type: ignore[name-defined,misc]
    """One Shopify return. ``order_id`` is empty while its order has not arrived (it is linked when it does)."""

    __tablename__ = "returns"
    __table_args__ = (sa.UniqueConstraint("shop_id", "shopify_id"),
                      sa.Index("ix_returns_shop_order", "shop_id", "order_shopify_id"))

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    shop_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    shopify_id: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    order_shopify_id: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)
    order_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("orders.id", ondelete="SET NULL"))
    # requested → open (approved) → closed; or declined / canceled. Never moves back (see returns/records.py).
    status: so.Mapped[str] = so.mapped_column(sa.String(16))
    # [{"line_item_id", "quantity", "reason" (definition handle, e.g. "damaged"), "note"}]
    lines: so.Mapped[list[dict[str, Any]]] = so.mapped_column(sa.JSON, default=list)
    requested_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    status_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)


class ReturnRequest(db.Model):  # type: ignore[name-defined,misc]
    """A customer's request sent through the app: the unique ``request_key`` makes a double submit one request."""

    __tablename__ = "return_requests"
    __table_args__ = (sa.UniqueConstraint("shop_id", "request_key"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    shop_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    order_shopify_id: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    customer_id: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    request_key: so.Mapped[str] = so.mapped_column(sa.String(64))
    status: so.Mapped[str] = so.mapped_column(sa.String(16))  # sending, requested
    lines: so.Mapped[list[dict[str, Any]]] = so.mapped_column(sa.JSON, default=list)
    return_gid: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
