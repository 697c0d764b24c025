"""Product tags for the promise rules: kept by products webhooks, fetched by the worker for a product not seen yet.

Neither a storefront request nor a webhook handler asks Shopify: they read the tags held (a product not held
counts as untagged) and ``want`` the others, which the worker's ``fetch`` asks for in one ``nodes(ids:)``
query, outside any transaction, at most FETCHES_PER_MINUTE times a minute per shop. Its answer is remembered;
so is a failure, for RETRY_FAILED_AFTER, so that a shop Shopify will not answer for is not asked on every order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from cxplugin import after_commit
from cxplugin.extensions import db
from cxplugin.logs import log
from cxplugin.models import Product, Shop
from cxplugin.models.change_stamp import mark_shop_changed
from cxplugin.shopify import admin_api

PRODUCT_TAGS = """
query ProductTags($ids: [ID!]!) {
  nodes(ids: $ids) { ... on Product { id tags } }
}
"""
RETRY_FAILED_AFTER = timedelta(minutes=10)
# Ids per nodes(ids:) query; Shopify takes up to 250.
FETCH_BATCH = 100
# Queries per shop per minute, in each worker process; a shop's burst waits its turn rather than Shopify's 429.
FETCHES_PER_MINUTE = 20
# In each process, a product wanted is not queued again for this long, and a shop gets at most
# WANTED_PER_MINUTE products queued a minute (random ids from an anonymous storefront cannot flood the queue).
WANT_AGAIN_AFTER_SECONDS = 60.0
WANTED_PER_MINUTE = 500


def split_tags(raw: str | Sequence[str] | None) -> list[str]:
    """Shopify sends tags as "a, b, c" in webhooks and as a list over GraphQL."""
    items = raw.split(",") if isinstance(raw, str) else list(raw or [])
    return [t.strip() for t in items if t.strip()]


# ---- products webhooks ---------------------------------------------------------------------------

def _held(shop: Shop, product_id: int) -> Product | None:
    return db.session.scalar(sa.select(Product).where(Product.shop_id == shop.id, Product.shopify_id == product_id))


def apply_product(shop: Shop, payload: dict[str, Any]) -> None:
    """products/create and products/update: newest version wins."""
    held = _held(shop, payload["id"]) or Product(shop_id=shop.id, shopify_id=payload["id"])
    updated_at: datetime | None = payload["updated_at"]
    if held.source_updated_at and updated_at and updated_at < held.source_updated_at:
        return
    held.tags = split_tags(payload["tags"])
    held.product_type = payload["product_type"] or None
    held.in_shopify = True
    held.fetch_failed_at = None
    held.source_updated_at = updated_at
    db.session.add(held)


def delete_product(shop: Shop, payload: dict[str, Any]) -> None:
    held = _held(shop, payload["id"]) or Product(shop_id=shop.id, shopify_id=payload["id"])
    held.tags = []
    held.in_shopify = False
    held.fetch_failed_at = None
    db.session.add(held)


# ---- reading: no network, no write ---------------------------------------------------------------

def known_tags(shop_id: int, product_ids: Iterable[int], now: datetime) -> tuple[dict[int, list[str]], list[int]]:
    """The tags held for each of the products that are held, and the products to ask Shopify about:
    those never seen, and those whose last fetch failed RETRY_FAILED_AFTER ago or more. Reads only."""
    ids = list(dict.fromkeys(product_ids))
    rows = db.session.execute(sa.select(Product.shopify_id, Product.tags, Product.fetch_failed_at)
                              .where(Product.shop_id == shop_id, Product.shopify_id.in_(ids))).all()
    tags = {row.shopify_id: list(row.tags or []) for row in rows}
    retry = {row.shopify_id for row in rows
             if row.fetch_failed_at is not None and row.fetch_failed_at <= now - RETRY_FAILED_AFTER}
    return tags, [pid for pid in ids if pid not in tags or pid in retry]


def tags_in_order(tags: dict[int, list[str]], product_ids: Sequence[int]) -> list[list[str]]:
    """One list of tags per product asked, untagged when not held."""
    return [tags.get(pid, []) for pid in product_ids]


# ---- wanting: queue a fetch for the worker -------------------------------------------------------

@dataclass
class _Wanted:
    """What this process has queued lately, to queue each product once and each shop's share only."""

    asked: dict[tuple[int, int], float] = field(default_factory=dict)
    per_shop: dict[int, tuple[float, int]] = field(default_factory=dict)  # shop -> (minute started, count)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, shop_id: int, product_ids: Sequence[int], now: float) -> list[int]:
        with self.lock:
            if len(self.asked) > 50_000:
                self.asked.clear()
            started, count = self.per_shop.get(shop_id, (now, 0))
            if now - started >= 60:
                started, count = now, 0
            fresh = [pid for pid in product_ids
                     if now - self.asked.get((shop_id, pid), -1e9) >= WANT_AGAIN_AFTER_SECONDS]
            taken = fresh[:max(WANTED_PER_MINUTE - count, 0)]
            for pid in taken:
                self.asked[(shop_id, pid)] = now
            self.per_shop[shop_id] = (started, count + len(taken))
            return taken


def want(shop_id: int, product_ids: Sequence[int]) -> None:
    """Queue a fetch of these products' tags now (the caller has no transaction that wrote anything)."""
    wanted: _Wanted = current_app.extensions.setdefault("cx_wanted_products", _Wanted())
    taken = wanted.take(shop_id, product_ids, time.monotonic())
    if taken:
        from cxplugin.tasks import fetch_product_tags

        fetch_product_tags(shop_id, taken)


def want_after_commit(session: so.Session, shop_id: int, product_ids: Sequence[int]) -> None:
    """Queue a fetch once the session's transaction commits (nothing is queued if it rolls back)."""
    if product_ids:
        after_commit.collect(session, _queue_wanted, dict).setdefault(shop_id, []).extend(product_ids)


def _queue_wanted(wanted: dict[int, list[int]]) -> None:
    for shop_id, product_ids in wanted.items():
        want(shop_id, product_ids)


# ---- fetching: the worker ------------------------------------------------------------------------

@dataclass(frozen=True)
class Fetched:
    asked: int = 0
    found: int = 0
    failed: int = 0
    later: list[int] = field(default_factory=list)
    retry_in: float | None = None

    def log_fields(self) -> dict[str, object]:
        return {"asked": self.asked, "found": self.found, "failed": self.failed, "later": len(self.later),
                "retry_in": self.retry_in}


class _Pace:
    """At most FETCHES_PER_MINUTE queries per shop in any minute, in this process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sent: dict[int, list[float]] = {}
        self._lock = threading.Lock()

    def wait_for(self, shop_id: int) -> float:
        """0 and the query counted, or the seconds to wait before asking."""
        now = self._clock()
        with self._lock:
            recent = [t for t in self._sent.get(shop_id, []) if now - t < 60]
            if len(recent) >= FETCHES_PER_MINUTE:
                self._sent[shop_id] = recent
                return 60 - (now - recent[0]) + 0.01
            self._sent[shop_id] = [*recent, now]
            return 0.0


def _pace() -> _Pace:
    pace: _Pace = current_app.extensions.setdefault("cx_product_fetch_pace", _Pace())
    return pace


def fetch(shop_id: int, product_ids: Sequence[int], now: datetime) -> Fetched:
    """Ask Shopify for the tags of the products still unknown among ``product_ids`` (one query for up to
    FETCH_BATCH of them) and remember the answer; the rest, or all when the shop's pace is spent, come back
    in ``later`` to be fetched in ``retry_in`` seconds."""
    _, wanted = known_tags(shop_id, product_ids, now)
    db.session.rollback()  # the read's transaction ends before Shopify is asked
    if not wanted:
        return Fetched()
    wait = _pace().wait_for(shop_id)
    if wait:
        return Fetched(later=wanted, retry_in=wait)
    batch, rest = wanted[:FETCH_BATCH], wanted[FETCH_BATCH:]
    try:
        data = admin_api.call(shop_id, PRODUCT_TAGS, {"ids": [f"gid://shopify/Product/{pid}" for pid in batch]})
        found: dict[int, list[str]] | None = {
            int(node["id"].rsplit("/", 1)[1]): split_tags(node.get("tags"))
            for node in data.get("nodes") or [] if node and node.get("id")}
    except admin_api.AdminApiError as exc:
        log("product tags unavailable; answering without them for now", 30, shop_id=shop_id,
            products=len(batch), code=exc.code)
        found = None
    _remember(shop_id, batch, found, now)
    db.session.commit()
    return Fetched(asked=len(batch), found=len(found or {}), failed=len(batch) if found is None else 0,
                   later=rest, retry_in=0.0 if rest else None)


def _remember(shop_id: int, batch: Sequence[int], found: dict[int, list[str]] | None, now: datetime) -> None:
    """Store what Shopify said (``found``; None when it could not be asked). A product a webhook has
    brought meanwhile keeps the webhook's tags."""
    def row(pid: int) -> dict[str, Any]:
        if found is None:
            return {"tags": [], "in_shopify": True, "fetch_failed_at": now}
        return {"tags": found.get(pid, []), "in_shopify": pid in found, "fetch_failed_at": None}

    placeholders = db.session.scalars(sa.select(Product).where(
        Product.shop_id == shop_id, Product.shopify_id.in_(batch), Product.fetch_failed_at.is_not(None)))
    for product in placeholders:  # rows of an earlier failed fetch
        for key, value in row(product.shopify_id).items():
            setattr(product, key, value)
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    db.session.execute(
        insert(Product).values([{"shop_id": shop_id, "shopify_id": pid, "fetched_at": now, **row(pid)}
                                for pid in batch])
        .on_conflict_do_nothing(index_elements=["shop_id", "shopify_id"]))
    mark_shop_changed(db.session(), shop_id)
