"""Links into the merchant's Shopify admin, written in one place. PURE: no I/O."""

from __future__ import annotations

from cxplugin.models import Shop

ADMIN = "https://admin.shopify.com/store"


def order_url(shop: Shop, shopify_order_id: int) -> str:
    """The order's page in the shop's admin."""
    return f"{ADMIN}/{shop.handle}/orders/{shopify_order_id}"


def app_url(shop: Shop, api_key: str) -> str:
    """This app's home inside the shop's admin (``api_key`` is the app's client id)."""
    return f"{ADMIN}/{shop.handle}/apps/{api_key}"
