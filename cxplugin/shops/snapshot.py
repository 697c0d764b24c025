"""What the hot paths read — a shop, its settings, its product tags — held in process briefly, so that
a warm /proxy/promise request makes no database query and webhook intake makes one (the insert).

Within a process it is never stale: a commit that changes a shop, its settings or a product empties
the held copies (the session events below). The same commit bumps the "storefront" change stamp, and
every process reads the stamp at most once every STAMP_CHECK_SECONDS, emptying what it holds when the
stamp moved: a change made in another process (another web worker, or the worker applying products
webhooks) shows within about a second. TTL_SECONDS bounds the age of anything held all the same.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app, has_app_context

from cxplugin.extensions import db
from cxplugin.logs import log
from cxplugin.models import ChangeStamp, Product, PromiseModel, SettingsVersion, Shop
from cxplugin.promise import learning
from cxplugin.promise import product_tags as products
from cxplugin.promise.learning import LearnedRoutes
from cxplugin.shops import settings as shop_settings

TTL_SECONDS = 30.0
STAMP_CHECK_SECONDS = 1.0
STAMP = "storefront"
# Storefront answers are held per distinct query; past this many items everything is dropped at once.
MAX_ITEMS = 20_000
_WATCHED = (Shop, SettingsVersion, Product, PromiseModel)
_STALE = "cx_storefront_stale"

T = TypeVar("T")


@dataclass(frozen=True)
class ShopView:
    id: int
    domain: str
    installed: bool
    timezone: str
    country_code: str | None
    primary_locale: str
    settings: dict[str, Any]
    learned: LearnedRoutes | None = None  # the stored learned promise, held only when the shop uses it


class _Held:
    """A small TTL map; ``clear`` empties it at once."""

    def __init__(self) -> None:
        self._items: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self.stamp: int | None = None
        self.stamp_checked_at = float("-inf")

    def get(self, key: Any, load: Callable[[], T], still_good: Callable[[T], bool] | None = None) -> T:
        held = self._items.get(key)
        if held is not None and held[0] > time.monotonic() and (still_good is None or still_good(held[1])):
            value: T = held[1]
            return value
        value = load()
        self.put(key, value)
        return value

    def has(self, key: Any) -> bool:
        held = self._items.get(key)
        return held is not None and held[0] > time.monotonic()

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            if len(self._items) >= MAX_ITEMS:
                self._items.clear()
            self._items[key] = (time.monotonic() + TTL_SECONDS, value)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _held() -> _Held:
    held: _Held | None = current_app.extensions.get("cx_storefront")
    if held is None:
        held = current_app.extensions.setdefault("cx_storefront", _Held())
    now = time.monotonic()
    if now >= held.stamp_checked_at + STAMP_CHECK_SECONDS:
        held.stamp_checked_at = now  # first, so that one thread asks while the others go on
        _follow_stamp(held)
    return held


def _follow_stamp(held: _Held) -> None:
    """Empty what is held if another process changed shops, settings or products since the last look."""
    try:
        with db.engine.connect() as conn:
            stamp = conn.scalar(sa.select(ChangeStamp.value).where(ChangeStamp.name == STAMP))
    except sa.exc.SQLAlchemyError as exc:
        log("change stamp unreadable; held storefront data kept until its TTL", 30, error=repr(exc))
        return
    if stamp != held.stamp:
        held.clear()
        held.stamp = stamp


def shop_view(domain: str) -> ShopView | None:
    """The shop as the storefront needs it; None when we have never heard of it."""
    return _held().get(("shop", domain), lambda: _load_shop(domain))


def _load_shop(domain: str) -> ShopView | None:
    shop = db.session.scalar(sa.select(Shop).where(Shop.domain == domain))
    if shop is None:
        return None
    settings = shop_settings.current(shop)
    return ShopView(id=shop.id, domain=shop.domain, installed=shop.is_installed, timezone=shop.timezone,
                    country_code=shop.country_code, primary_locale=shop.primary_locale, settings=settings,
                    learned=learning.latest(shop.id) if settings["promise"].get("mode") == "learned" else None)


def remembered(key: Any, build: Callable[[], T], still_good: Callable[[T], bool]) -> T:
    """A value held under ``key`` while ``still_good`` says so (and no change has emptied the hold); else built anew."""
    return _held().get(key, build, still_good)


def product_tags(view: ShopView, product_ids: Sequence[int]) -> list[list[str]]:
    """Tags per product; a product not held is read (or fetched from Shopify once) and then held."""
    held = _held()
    missing = [pid for pid in product_ids if not held.has(("tags", view.id, pid))]
    if missing:
        shop = db.session.get_one(Shop, view.id)
        for pid, tags in zip(missing, products.tags_for(shop, missing), strict=True):
            held.put(("tags", view.id, pid), tags)
    return [held.get(("tags", view.id, pid), list) for pid in product_ids]


# ---- keeping it true within the process --------------------------------------------------------

@sa.event.listens_for(so.Session, "after_flush")
def _note_changed_objects(session: so.Session, _context: Any) -> None:
    if any(isinstance(obj, _WATCHED) for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info[_STALE] = True


@sa.event.listens_for(so.Session, "do_orm_execute")
def _note_bulk_changes(state: so.ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and any(m.class_ in _WATCHED for m in state.all_mappers):
        state.session.info[_STALE] = True


@sa.event.listens_for(so.Session, "before_commit")
def _bump_stamp(session: so.Session) -> None:
    """Tell the other processes, in the same transaction as the change itself."""
    session.flush()  # so that after_flush above has seen every change this commit carries
    if session.info.get(_STALE):
        session.execute(sa.update(ChangeStamp).where(ChangeStamp.name == STAMP)
                        .values(value=ChangeStamp.value + 1))


@sa.event.listens_for(so.Session, "after_commit")
def _forget(session: so.Session) -> None:
    if session.info.pop(_STALE, False) and has_app_context():
        _held().clear()
