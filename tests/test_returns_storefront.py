"""Before the purchase: /proxy/promise carries the returns line for the products asked about, and the product
block shows it under the promise in the shopper's language without moving the page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.browser import chromium_page, live
from tests.conftest import Send
from tests.fake_shopify import FakeShopify
from tests.shopify_signing import SECRET, SHOP, fixture, proxy_query, session_token
from tests.storefront_page import Storefront, render_block, sample_product, storefront_html
from tests.test_storefront_block import LAYOUT_WATCH, TWO_FRAMES

FINAL_SALE_PRODUCT = 7003


@pytest.fixture
def products(fake_shopify: FakeShopify, shop: str, send_webhook: Send, drain: Callable[[], int]) -> FakeShopify:
    """Two products the shop told the app about (products webhooks): the storefront never asks Shopify."""
    fake_shopify.add_shop(SHOP, access_token="shpat_test")
    for product_id, tags in ((7001, "linen"), (FINAL_SALE_PRODUCT, "Final-Sale, summer")):
        product = fixture("products_update__basic") | {"id": product_id, "tags": tags,
                                                         "updated_at": datetime.now(UTC).isoformat()}
        assert send_webhook("products/create", product).status_code == 200
    drain()
    return fake_shopify


def promise(client: FlaskClient, **params: str) -> dict[str, Any]:
    response = client.get(f"/proxy/promise?{proxy_query(params)}")
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def save(client: FlaskClient, patch: dict[str, Any]) -> None:
    response = client.put("/api/admin/settings", json=patch, headers={"Authorization": f"Bearer {session_token()}"})
    assert response.status_code == 200, response.get_json()


def test_a_product_gets_the_shops_free_returns_line(client: FlaskClient, shop: str, products: FakeShopify) -> None:
    answer = promise(client, product_id="7001", country="US", locale="en")
    assert answer["returns_text"] == "Free returns within 30 days of delivery"
    assert answer["returns"] == {"kind": "free", "text": answer["returns_text"], "window_days": 30, "fee": None}


def test_a_final_sale_product_says_so_in_the_shoppers_language(client: FlaskClient, shop: str,
                                                               products: FakeShopify) -> None:
    answer = promise(client, product_id=str(FINAL_SALE_PRODUCT), country="US", locale="nl")
    assert (answer["returns"]["kind"], answer["returns_text"]) == ("final_sale", "Uitverkoop — niet retourneerbaar")


def test_a_paid_business_day_window_reads_with_the_fee(client: FlaskClient, shop: str, products: FakeShopify) -> None:
    save(client, {"returns": {"window_days": 14, "fee": {"amount": "4.95", "currency": "EUR"}}})
    assert promise(client, product_id="7001", locale="en")["returns_text"] == "Returns within 14 days, €4.95"
    save(client, {"returns": {"day_kind": "business"}})
    assert promise(client, product_id="7001", locale="fr")["returns_text"] == \
        "Retours sous 14 jours ouvrés, 4,95\u00a0€"


def test_the_returns_line_comes_even_where_no_promise_is_served(client: FlaskClient, shop: str,
                                                                products: FakeShopify) -> None:
    save(client, {"promise": {"enabled": False}})
    answer = promise(client, product_id="7001", country="US", locale="de")
    assert answer["served"] is False
    assert answer["returns_text"] == "Kostenlose Rücksendung innerhalb von 30 Tagen nach Lieferung"


def test_returns_turned_off_give_no_line(client: FlaskClient, shop: str, products: FakeShopify) -> None:
    save(client, {"returns": {"enabled": False}})
    assert promise(client, product_id="7001", locale="en")["returns"] == {"kind": "none", "text": ""}


@pytest.mark.browser
@pytest.mark.parametrize(("locale", "product_id", "expected", "direction"), [
    ("en", 7001, "Free returns within 30 days of delivery", "ltr"),
    ("ar", FINAL_SALE_PRODUCT, "بيع نهائي — غير قابل للإرجاع", "rtl"),
])
def test_the_product_block_shows_the_returns_line_without_a_layout_shift(
        app: Flask, shop: str, products: FakeShopify, locale: str, product_id: int, expected: str,
        direction: str) -> None:
    from playwright.sync_api import expect

    html = render_block("product_promise", locale=locale, country="US", product=sample_product(product_id),
                        settings={"show_returns": True})
    with live(app) as app_url, Storefront() as storefront, chromium_page() as page:
        storefront.use_app(app_url, SECRET, shop=SHOP)
        page.add_init_script(LAYOUT_WATCH)
        page.goto(storefront.page(f"/{locale}/products/p", storefront_html(html, locale=locale)))
        block = page.locator("[data-cx-promise]")
        expect(block.locator('[data-cx-line="returns"]')).to_have_text(expected)
        expect(block).to_have_attribute("dir", direction)
        watch = page.evaluate(TWO_FRAMES)
        assert watch["cls"] == 0, f"{watch['shifts']} layout shift(s)"
        assert block.evaluate("el => el.getBoundingClientRect().height") == watch["height"]
