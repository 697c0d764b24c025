"""A shop's learned promise: each rebuild is a new version; orders record the version their promise came from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from cxplugin.extensions import db
from cxplugin.models.types import UTCDateTime, utcnow


class PromiseModel(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "promise_models"
    __table_args__ = (sa.UniqueConstraint("shop_id", "version"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    shop_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    version: so.Mapped[int]
    built_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    target: so.Mapped[float]
    deliveries: so.Mapped[int]
    # "CC|REGION|carrier" (region and carrier may be "" and "*") → {"processing": [a, b], "transit": [c, d], ...}
    routes: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    dropped: so.Mapped[dict[str, int]] = so.mapped_column(sa.JSON, default=dict)
    # The walk-forward over the last 90 days at build time: {"since", "learned": {...}, "fixed": {...}}.
    evaluation: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)
