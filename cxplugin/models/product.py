"""Product tags, cached from products webhooks so the storefront never waits on Shopify."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from cxplugin.extensions import db
from cxplugin.models.types import UTCDateTime, utcnow


class Product(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "products"
    __table_args__ = (sa.UniqueConstraint("shop_id", "shopify_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    shop_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    shopify_id: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    tags: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    # False when Shopify said there is no such product (so misses are not asked again).
    in_shopify: so.Mapped[bool] = so.mapped_column(default=True)
    # Shopify could not be asked (error, no token): held as untagged until asking again is due.
    fetch_failed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    source_updated_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    fetched_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
