"""Every version of a shop's settings, so that a past order is judged by the settings then in force."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from cxplugin.extensions import db
from cxplugin.models.types import UTCDateTime, utcnow


class SettingsVersion(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "settings_versions"
    __table_args__ = (sa.UniqueConstraint("shop_id", "version"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    shop_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    version: so.Mapped[int]
    data: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    effective_from: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
