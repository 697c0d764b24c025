"""What the hot paths read — a shop, its settings, its product tags — held in process briefly, so that
a warm /proxy/promise request makes no database query and webhook intake makes one (the insert).

Within a process it is never stale: a commit that changes a shop, its settings or a product empties what
is held of that shop (the session events below). The same commit records the change in the change stamps
(models/change_stamp.py, one row per shop), and every process reads the stamps that moved at most once
every STAMP_CHECK_SECONDS, emptying what it holds of each shop named: a change made in another process
(another web worker, or the worker applying products webhooks) shows within about a second, and empties
nothing of the other shops. TTL_SECONDS bounds the age of anything held all the same.

Product tags never come from Shopify here: a product not held is answered untagged and queued for the
worker (promise/product_tags.py), whose answer, once stored, empties the shop's held data like any change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app, has_app_context
from sqlalchemy.dialects import postgresql, sqlite

from cxplugin.extensions import db
from cxplugin.logs import log
from cxplugin.models import ChangeStamp, Product, PromiseModel, SettingsVersion, Shop
from cxplugin.models.change_stamp import STOREFRONT, mark_shop_changed, shop_of_stamp, shops_changed, stamp_name
from cxplugin.models.types import utcnow
from cxplugin.promise import learning
from cxplugin.promise import product_tags as products
from cxplugin.promise.learning import LearnedRoutes
from cxplugin.shops import settings as shop_settings

TTL_SECONDS = 30.0
STAMP_CHECK_SECONDS = 1.0
# Storefront answers are held per distinct query; past this many items everything is dropped at once.
MAX_ITEMS = 20_000
_WATCHED = (Shop, SettingsVersion, Product, PromiseModel)

T = TypeVar("T")
_Entry = tuple[float, Any]  # (held until, on the monotonic clock; value)


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
    """Small TTL maps, one per shop, and one of shop views by domain; one shop's or all can be emptied."""

    def __init__(self) -> None:
        self._by_shop: dict[int, dict[Any, _Entry]] = {}
        self._views: dict[str, _Entry] = {}  # domain -> (held until, ShopView | None)
        self._count = 0
        self._lock = threading.Lock()
        self.stamp: int | None = None
        self.stamp_checked_at = float("-inf")

    def get(self, shop_id: int, key: Any, load: Callable[[], T], still_good: Callable[[T], bool] | None = None) -> T:
        held = self._by_shop.get(shop_id, {}).get(key)
        if held is not None and held[0] > time.monotonic() and (still_good is None or still_good(held[1])):
            value: T = held[1]
            return value
        value = load()
        self.put(shop_id, key, value)
        return value

    def has(self, shop_id: int, key: Any) -> bool:
        held = self._by_shop.get(shop_id, {}).get(key)
        return held is not None and held[0] > time.monotonic()

    def put(self, shop_id: int, key: Any, value: Any) -> None:
        with self._lock:
            self._make_room()
            self._by_shop.setdefault(shop_id, {})[key] = (time.monotonic() + TTL_SECONDS, value)

    def view(self, domain: str, load: Callable[[], ShopView | None]) -> ShopView | None:
        held = self._views.get(domain)
        if held is not None and held[0] > time.monotonic():
            view: ShopView | None = held[1]
            return view
        view = load()
        with self._lock:
            self._make_room()
            self._views[domain] = (time.monotonic() + TTL_SECONDS, view)
        return view

    def _make_room(self) -> None:
        self._count += 1
        if self._count > MAX_ITEMS:
            self._clear_all()

    def clear(self, shop_ids: Iterable[int | None]) -> None:
        """Forget what is held of these shops (None among them: of every shop)."""
        with self._lock:
            ids = set(shop_ids)
            if None in ids:
                self._clear_all()
                return
            for shop_id in ids:
                self._count -= len(self._by_shop.pop(shop_id, {}))  # type: ignore[arg-type]  # None handled above
            # A domain held as unknown may be a shop just installed.
            for domain in [d for d, (_, v) in self._views.items() if v is None or v.id in ids]:
                del self._views[domain]

    def _clear_all(self) -> None:
        self._by_shop.clear()
        self._views.clear()
        self._count = 0


def _held() -> _Held:
    held: _Held | None = current_app.extensions.get("cx_storefront")
    if held is None:
        held = current_app.extensions.setdefault("cx_storefront", _Held())
    now = time.monotonic()
    if now >= held.stamp_checked_at + STAMP_CHECK_SECONDS:
        held.stamp_checked_at = now  # first, so that one thread asks while the others go on
        _follow_stamps(held)
    return held


def _follow_stamps(held: _Held) -> None:
    """Empty what is held of each shop another process changed since the last look."""
    try:
        with db.engine.connect() as conn:
            if held.stamp is None:  # the first look: nothing is held yet
                held.stamp = conn.scalar(sa.select(ChangeStamp.value).where(ChangeStamp.name == STOREFRONT)) or 0
                return
            moved = conn.execute(sa.select(ChangeStamp.name, ChangeStamp.value).where(
                ChangeStamp.value > held.stamp, ChangeStamp.name.startswith(STOREFRONT))).all()
    except sa.exc.SQLAlchemyError as exc:
        log("change stamps unreadable; held storefront data kept until its TTL", 30, error=repr(exc))
        return
    if moved:
        held.clear(shop_of_stamp(name) for name, _ in moved if name != STOREFRONT)
        held.stamp = max(value for _, value in moved)


def shop_view(domain: str) -> ShopView | None:
    """The shop as the storefront needs it; None when we have never heard of it."""
    return _held().view(domain, lambda: _load_shop(domain))


def _load_shop(domain: str) -> ShopView | None:
    shop = db.session.scalar(sa.select(Shop).where(Shop.domain == domain))
    if shop is None:
        return None
    settings = shop_settings.current(shop)
    return ShopView(id=shop.id, domain=shop.domain, installed=shop.is_installed, timezone=shop.timezone,
                    country_code=shop.country_code, primary_locale=shop.primary_locale, settings=settings,
                    learned=learning.latest(shop.id) if settings["promise"].get("mode") == "learned" else None)


def remembered(shop_id: int, key: Any, build: Callable[[], T], still_good: Callable[[T], bool]) -> T:
    """A value of the shop held under ``key`` while ``still_good`` says so (and no change to the shop has
    emptied the hold); else built anew."""
    return _held().get(shop_id, key, build, still_good)


def product_tags(view: ShopView, product_ids: Sequence[int]) -> list[list[str]]:
    """Tags per product. A product not held is read from the database; one not there either is answered
    untagged (held so, until the worker's fetch stores its tags and so empties the shop's hold)."""
    held = _held()
    missing = [pid for pid in product_ids if not held.has(view.id, ("tags", pid))]
    if missing:
        tags, wanted = products.known_tags(view.id, missing, utcnow())
        db.session.rollback()  # the read's transaction ends before the queue is written
        for pid in missing:
            held.put(view.id, ("tags", pid), tags.get(pid, []))
        products.want(view.id, wanted)
    return [held.get(view.id, ("tags", pid), list) for pid in product_ids]


# ---- keeping it true --------------------------------------------------------------------------

def _shop_of(obj: Any) -> int | None:
    return obj.id if isinstance(obj, Shop) else obj.shop_id  # type: ignore[no-any-return]


@sa.event.listens_for(so.Session, "after_flush")
def _note_changed_objects(session: so.Session, _context: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, _WATCHED):
            mark_shop_changed(session, _shop_of(obj))


@sa.event.listens_for(so.Session, "do_orm_execute")
def _note_bulk_changes(state: so.ORMExecuteState) -> None:
    # A bulk statement's rows are not known here: it counts as a change to every shop, unless its
    # caller notes the shop itself (as product_tags.fetch does for its insert).
    if (state.is_update or state.is_delete) and any(m.class_ in _WATCHED for m in state.all_mappers):
        mark_shop_changed(state.session, None)


@sa.event.listens_for(so.Session, "before_commit")
def _bump_stamps(session: so.Session) -> None:
    """Tell the other processes, in the same transaction as the change itself."""
    session.flush()  # so that after_flush above has seen every change this commit carries
    changed = shops_changed(session)
    if not changed:
        return
    # The one STOREFRONT row, updated first, orders the changes: a later commit waits for its lock and
    # gets a higher count, so a process that has seen a count has seen every change below it.
    value = session.execute(sa.update(ChangeStamp).where(ChangeStamp.name == STOREFRONT)
                            .values(value=ChangeStamp.value + 1).returning(ChangeStamp.value)).scalar_one()
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    rows = [{"name": stamp_name(shop_id), "value": value} for shop_id in sorted(changed, key=str)]
    statement = insert(ChangeStamp).values(rows)
    session.execute(statement.on_conflict_do_update(index_elements=["name"], set_={"value": statement.excluded.value}))


@sa.event.listens_for(so.Session, "after_commit")
def _forget(session: so.Session) -> None:
    changed = shops_changed(session, forget=True)
    if changed and has_app_context():
        _held().clear(changed)


@sa.event.listens_for(so.Session, "after_soft_rollback")
def _forget_marks(session: so.Session, _previous: Any) -> None:
    shops_changed(session, forget=True)
