"""Counters each process reads to learn that what it holds in memory has changed elsewhere."""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm as so

from cxplugin.extensions import db

# The storefront's data (a shop, its settings, its product tags) is followed per shop: the row named
# STOREFRONT counts every change, and a row "storefront:<shop id>" ("storefront:*" for a change that
# concerns every shop) holds that count as of the shop's last change.
STOREFRONT = "storefront"
_CHANGED = "cx_storefront_changed"


class ChangeStamp(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "change_stamps"

    name: so.Mapped[str] = so.mapped_column(sa.String(40), primary_key=True)
    value: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=0)


def mark_shop_changed(session: so.Session, shop_id: int | None) -> None:
    """Note that this session's transaction changes what the storefront holds of a shop (None: of every shop)."""
    session.info.setdefault(_CHANGED, set()).add(shop_id)


def shops_changed(session: so.Session, forget: bool = False) -> set[int | None]:
    """The shops noted by ``mark_shop_changed`` in this session's transaction (``forget``: and forget them)."""
    changed: set[int | None] = session.info.pop(_CHANGED, set()) if forget else session.info.get(_CHANGED, set())
    return changed


def stamp_name(shop_id: int | None) -> str:
    return f"{STOREFRONT}:{'*' if shop_id is None else shop_id}"


def shop_of_stamp(name: str) -> int | None:
    """The shop a stamp row names; None for "every shop"."""
    tail = name.removeprefix(f"{STOREFRONT}:")
    return None if tail == "*" else int(tail)
