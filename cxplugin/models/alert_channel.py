"""How each shop's alert channel (e-mail, webhook) is doing: failures in a row and the notice sent about them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from cxplugin.extensions import db
from cxplugin.models.types import UTCDateTime


class AlertChannel(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "alert_channels"
    __table_args__ = (sa.UniqueConstraint("shop_id", "channel"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    shop_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    channel: so.Mapped[str] = so.mapped_column(sa.String(16))  # "email" or "webhook"
    # sha256 of the address the failures are about: a new address starts with a clean record.
    target_hash: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    # Failed attempts in a row since the channel last worked.
    failures: so.Mapped[int] = so.mapped_column(default=0, server_default=sa.text("0"))
    first_failed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    last_error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # When the merchant was told the channel stopped working (once, until it works again).
    notified_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
