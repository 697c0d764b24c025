"""Product tags for the promise rules: kept fresh by products webhooks, filled over GraphQL on a miss."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from cxplugin.extensions import db
from cxplugin.logs import log
from cxplugin.models import Product, Shop
from cxplugin.shopify.admin_api import AdminApiError, graphql

PRODUCT_TAGS = """
query ProductTags($id: ID!) {
  product(id: $id) { id tags }
}
"""


def split_tags(raw: str | Sequence[str] | None) -> list[str]:
    """Shopify sends tags as "a, b, c" in webhooks and as a list over GraphQL."""
    items = raw.split(",") if isinstance(raw, str) else list(raw or [])
    return [t.strip() for t in items if t.strip()]


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
    held.source_updated_at = updated_at
    db.session.add(held)


def delete_product(shop: Shop, payload: dict[str, Any]) -> None:
    held = _held(shop, payload["id"]) or Product(shop_id=shop.id, shopify_id=payload["id"])
    held.tags = []
    held.in_shopify = False
    db.session.add(held)


def tags_for(shop: Shop, product_ids: Sequence[int]) -> list[list[str]]:
    """Tags per product, from the cache; a product never seen is asked of Shopify once and remembered."""
    cached = {p.shopify_id: p for p in db.session.scalars(
        sa.select(Product).where(Product.shop_id == shop.id, Product.shopify_id.in_(product_ids)))}
    missing = [pid for pid in product_ids if pid not in cached]
    for product_id in missing:
        fetched = _fetch(shop, product_id)
        if fetched is not None:
            cached[product_id] = fetched
    if missing:
        db.session.commit()
    return [cached[pid].tags if pid in cached else [] for pid in product_ids]


def _fetch(shop: Shop, product_id: int) -> Product | None:
    if shop.access_token is None:
        return None
    try:
        data = graphql(shop.handle, shop.access_token, PRODUCT_TAGS, {"id": f"gid://shopify/Product/{product_id}"})
    except AdminApiError as exc:
        # Answer without tag rules this time; the next request asks again.
        log("product tags unavailable", 30, shop=shop.domain, product_id=product_id, code=exc.code)
        return None
    found = data.get("product")
    product = Product(shop_id=shop.id, shopify_id=product_id, tags=split_tags(found["tags"]) if found else [],
                      in_shopify=found is not None)
    db.session.add(product)
    return product
