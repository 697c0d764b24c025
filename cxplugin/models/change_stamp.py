"""A counter each process reads to learn that what it holds in memory has changed elsewhere."""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm as so

from cxplugin.extensions import db


class ChangeStamp(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "change_stamps"

    # One row per kind of held data; "storefront" covers shops, their settings and product tags.
    name: so.Mapped[str] = so.mapped_column(sa.String(40), primary_key=True)
    value: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=0)
