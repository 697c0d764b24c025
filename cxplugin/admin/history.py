"""The settings page's short history: when each recent version was saved and which settings it changed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from cxplugin.extensions import db
from cxplugin.models import SettingsVersion, Shop
from cxplugin.schemas import settings as schema


@dataclass(frozen=True)
class SavedVersion:
    version: int
    saved_at: datetime
    changed: tuple[str, ...]  # dotted setting names, e.g. "promise.cutoff"


def changed_settings(before: dict[str, Any], after: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted names of the settings that differ; lists and values compare whole (a zone list is one setting)."""
    for key in sorted(set(before) | set(after)):
        name = f"{prefix}{key}"
        old, new = before.get(key), after.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            yield from changed_settings(old, new, f"{name}.")
        elif old != new:
            yield name


def recent_versions(shop: Shop, limit: int = 10) -> list[SavedVersion]:
    """The ``limit`` newest saved versions, newest first, each compared with the one before it
    (the first with the defaults the shop started from)."""
    rows = list(db.session.scalars(
        sa.select(SettingsVersion).where(SettingsVersion.shop_id == shop.id)
        .order_by(SettingsVersion.version.desc()).limit(limit + 1)))
    result = []
    for index, row in enumerate(rows[:limit]):
        before = rows[index + 1].data if index + 1 < len(rows) else schema.defaults(shop.country_code)
        result.append(SavedVersion(row.version, row.effective_from, tuple(changed_settings(before, row.data))))
    return result
