"""Read and write a shop's settings; every save is a new version, kept for judging past orders."""

from __future__ import annotations

import copy
import functools
import json
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from cxplugin.extensions import db
from cxplugin.models import SettingsVersion, Shop
from cxplugin.models.types import utcnow
from cxplugin.promise import calculator as promise
from cxplugin.schemas import settings as schema

# session.info key: each shop's newest version as read in the current transaction ({shop id: row or None}).
_NEWEST = "cx_settings_newest"


def _latest(shop: Shop, at: datetime | None = None) -> SettingsVersion | None:
    # A handler reads the settings several times (promise, survey, risk, returns): the newest version is read
    # once per transaction, and it answers for any moment since it took effect (an order placed after the save).
    held: dict[int, SettingsVersion | None] = db.session.info.setdefault(_NEWEST, {})
    if shop.id not in held:
        held[shop.id] = db.session.scalars(sa.select(SettingsVersion).where(SettingsVersion.shop_id == shop.id)
                                           .order_by(SettingsVersion.version.desc()).limit(1)).first()
    newest = held[shop.id]
    if at is None or newest is None or newest.effective_from <= at:
        return newest
    return db.session.scalars(sa.select(SettingsVersion).where(SettingsVersion.shop_id == shop.id,
                                                               SettingsVersion.effective_from <= at)
                              .order_by(SettingsVersion.version.desc()).limit(1)).first()


@sa.event.listens_for(so.Session, "transient_to_pending")
def _forget_on_add(session: so.Session, instance: object) -> None:
    if isinstance(instance, SettingsVersion):
        session.info.pop(_NEWEST, None)


@sa.event.listens_for(so.Session, "after_flush")
def _forget_on_flush(session: so.Session, _context: object) -> None:
    if any(isinstance(obj, SettingsVersion) for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info.pop(_NEWEST, None)


@sa.event.listens_for(so.Session, "after_transaction_end")
def _forget_on_end(session: so.Session, _transaction: object) -> None:
    session.info.pop(_NEWEST, None)  # another process may save settings before our next transaction


def current(shop: Shop) -> dict[str, Any]:
    """The settings in force now (the defaults for the shop's country until the merchant saves)."""
    return _with_defaults(shop, _latest(shop))


def _with_defaults(shop: Shop, version: SettingsVersion | None) -> dict[str, Any]:
    # Sections added after a version was saved take their defaults.
    defaults = schema.defaults(shop.country_code)  # a fresh dict: merged into in place
    if version is not None:
        _merge_into(defaults, version.data)
    return defaults


def in_force_at(shop: Shop, moment: datetime) -> dict[str, Any]:
    """The settings that were in force at ``moment`` (an order's creation, say)."""
    return _with_defaults(shop, _latest(shop, moment))


def merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``patch`` onto ``base``: objects merge key by key; lists and values replace."""
    merged = copy.deepcopy(base)
    _merge_into(merged, patch)
    return merged


def _merge_into(target: dict[str, Any], patch: dict[str, Any]) -> None:
    # ``target`` is already a copy of its own: only the patch's values are copied (once each, not once per level).
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge_into(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class ConcurrentSaves(Exception):
    """Other saves of the same shop's settings kept taking the next version number."""


_SAVE_ATTEMPTS = 5


def update(shop: Shop, patch: dict[str, Any]) -> dict[str, Any]:
    """Validate ``patch`` merged onto the current settings and save it as a new version.

    Raises marshmallow.ValidationError (with a message per field) and saves nothing when invalid.
    When another save takes the version number first, ``patch`` is merged onto that save and stored
    as the next version (so neither is lost); ConcurrentSaves after a few such collisions in a row.
    """
    shop_id = shop.id
    for _ in range(_SAVE_ATTEMPTS):
        loaded = schema.SettingsSchema().load(merge(current(shop), patch))
        data = schema.dump(loaded)
        latest = _latest(shop)
        db.session.add(SettingsVersion(shop_id=shop_id, version=(latest.version + 1) if latest else 1, data=data,
                                       effective_from=utcnow()))
        try:
            db.session.commit()
            return data
        except sa.exc.IntegrityError:
            db.session.rollback()  # the (shop, version) key: another save came first
    raise ConcurrentSaves(f"settings of shop {shop_id}: {_SAVE_ATTEMPTS} saves collided in a row")


def promise_settings(data: dict[str, Any], timezone: str, country: str | None) -> promise.PromiseSettings:
    """The calculator's input for these settings in this shop's zone and country (built once per version)."""
    return _promise_settings(json.dumps(data["promise"], sort_keys=True), timezone, country or "")


@functools.lru_cache(maxsize=512)
def _promise_settings(section_json: str, timezone: str, country: str) -> promise.PromiseSettings:
    p = json.loads(section_json)

    def zone(z: dict[str, Any]) -> promise.Zone:
        return promise.Zone(
            name=z["name"], regions=tuple(z["regions"]),
            transit_min=z["transit_days"]["min"], transit_max=z["transit_days"]["max"],
            methods={k: (v["min"], v["max"]) for k, v in z["methods"].items()},
        )

    def tag_rule(r: dict[str, Any]) -> promise.TagRule:
        days = r.get("processing_days")
        return promise.TagRule(tag=r["tag"], add_days=r["add_days"],
                               processing=(days["min"], days["max"]) if days else None)

    hours, minutes = (int(part) for part in p["cutoff"].split(":"))
    return promise.PromiseSettings(
        timezone=timezone,
        origin_country=country,
        cutoff=time(hours, minutes),
        processing_min=p["processing_days"]["min"],
        processing_max=p["processing_days"]["max"],
        dispatch_weekdays=frozenset(p["dispatch_weekdays"]),
        closed_dates=frozenset(date.fromisoformat(d) for d in p["closed_dates"]),
        carrier_weekdays=frozenset(p["carrier_weekdays"]),
        zones=tuple(zone(z) for z in p["zones"]),
        default_zone=zone(p["default_zone"]) if p["default_zone"] else None,
        tag_rules=tuple(tag_rule(r) for r in p["tag_rules"]),
        observe_origin_holidays=p["observe_origin_holidays"] and bool(country),
        observe_destination_holidays=p["observe_destination_holidays"],
    )
