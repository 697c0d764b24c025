"""The whole promise loop against the real app: the block asks, shows, writes the cart attribute, and the
order that arrives by webhook carries the very promise the shopper saw."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.browser import chromium_page, live
from tests.conftest import Send
from tests.fake_shopify import FakeShopify
from tests.shopify_signing import SECRET, SHOP, fixture, session_token
from tests.storefront_page import Storefront, render_block, storefront_html

pytestmark = pytest.mark.browser


def test_cart_block_promise_reaches_the_order(app: Flask, shop: str, client: FlaskClient, send_webhook: Send,
                                              drain: Callable[[], int], fake_shopify: FakeShopify) -> None:
    fake_shopify.add_shop(SHOP, access_token="shpat_test")
    for product_id in (7001, 7002):
        fake_shopify.add_product(f"gid://shopify/Product/{product_id}", [])
    with live(app) as app_url, Storefront() as storefront, chromium_page() as page:
        storefront.use_app(app_url, SECRET, shop=SHOP)
        url = storefront.page("/cart", storefront_html(render_block("cart_promise", locale="he"), locale="he"))
        with page.expect_response(lambda r: r.url.endswith("/cart/update.js")):
            page.goto(url)
        block = page.locator("[data-cx-promise]")
        assert block.get_attribute("dir") == "rtl"
        arrival = block.locator('[data-cx-line="arrival"]').inner_text()
        assert arrival.startswith("יגיע")
    shown: dict[str, Any] = json.loads(storefront.cart_updates[-1]["attributes"]["_cx_promise"])

    order = fixture("orders_create__basic")
    # Placed now, when the cart showed its promise (the fixture's own date is days before the promise was made).
    order["created_at"] = order["updated_at"] = datetime.now(UTC).isoformat()
    order["note_attributes"] = [{"name": "_cx_promise", "value": json.dumps(shown)}]
    assert send_webhook("orders/create", order).status_code == 200
    drain()
    held = client.get(f"/api/admin/orders/{order['id']}", headers={"Authorization": f"Bearer {session_token()}"})
    promise = held.get_json()["promise"]
    assert (promise["earliest"], promise["latest"], promise["source"]) == (shown["earliest"], shown["latest"],
                                                                           "storefront")
