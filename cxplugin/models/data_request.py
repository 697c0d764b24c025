"""A customer's data request (GDPR) and the export we built for the merchant to send."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from cxplugin.extensions import db
from cxplugin.models.types import UTCDateTime, utcnow


class DataRequest(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "data_requests"
    __table_args__ = (sa.UniqueConstraint("shop_id", "shopify_request_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    shop_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    shopify_request_id: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)
    customer_id: so.Mapped[int | None] = so.mapped_column(sa.BigInteger, index=True)
    email: so.Mapped[str | None] = so.mapped_column(sa.String(320))
    requested_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    export: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)
