"""GET /proxy/returns: the shop's return terms as a Liquid page Shopify renders in the theme, in the shopper's
language, with a link to sign in to their orders; signed by Shopify's app proxy, nothing from the request in it."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.shopify_signing import proxy_query, session_token


def save(client: FlaskClient, patch: dict[str, Any]) -> None:
    response = client.put("/api/admin/settings", json=patch, headers={"Authorization": f"Bearer {session_token()}"})
    assert response.status_code == 200, response.get_json()


def page(client: FlaskClient, **params: str) -> str:
    response = client.get(f"/proxy/returns?{proxy_query(params)}")
    assert response.status_code == 200
    assert response.mimetype == "application/liquid"
    return response.get_data(as_text=True)


def test_the_terms_page_states_the_terms_and_links_to_the_customers_orders(client: FlaskClient, shop: str) -> None:
    save(client, {"returns": {"window_days": 14, "fee": {"amount": "4.95", "currency": "EUR"},
                              "restocking_fee_percent": 10, "policy_url": "https://shop.example/policies/refund",
                              "instructions": {"en": "Pack the item.\n\nDrop it at any post office."}}})
    html = page(client, locale="en")
    assert "<h1>Returns</h1>" in html
    assert "<p>Returns within 14 days, €4.95</p>" in html
    assert "A restocking fee of 10&#37; applies." in html
    assert "<p>Pack the item.</p>\n<p>Drop it at any post office.</p>" in html
    assert '<a href="{{ routes.account_url }}">Sign in to your account to request a return</a>' in html
    assert '<a href="https://shop.example/policies/refund">Read the full return policy</a>' in html


def test_the_terms_page_speaks_arabic_right_to_left(client: FlaskClient, shop: str) -> None:
    html = page(client, locale="ar")
    assert 'dir="rtl" lang="ar"' in html
    assert "إرجاع مجاني خلال 30 يومًا من التسليم" in html


@pytest.mark.parametrize("locale", ["{{ shop.name }}", "en\"><script>alert(1)</script>", "{% raw %}"])
def test_request_input_never_reaches_the_liquid(client: FlaskClient, shop: str, locale: str) -> None:
    html = page(client, locale=locale, extra="{{ customer.email }}")
    assert 'lang="en"' in html
    assert html.count("{{") == 1  # the page's own account link, nothing else
    assert "{%" not in html and "<script" not in html


def test_the_merchants_text_cannot_become_liquid_or_html(client: FlaskClient, shop: str) -> None:
    save(client, {"returns": {"instructions": {"en": "{{ customer.email }} {% include 'x' %} <b>hi</b>"}}})
    html = page(client, locale="en")
    assert "&#123;&#123; customer.email &#125;&#125; &#123;&#37; include &#39;x&#39; &#37;&#125;" in html
    assert "&lt;b&gt;hi&lt;/b&gt;" in html
    assert html.count("{{") == 1 and "{%" not in html


def test_unsigned_tampered_or_stale_requests_are_refused(client: FlaskClient, shop: str) -> None:
    assert client.get("/proxy/returns?locale=en").status_code == 401
    signed = proxy_query({"locale": "en"})
    assert client.get("/proxy/returns?" + signed.replace("locale=en", "locale=de")).status_code == 401
    stale = proxy_query({"locale": "en"}, timestamp=int(time.time()) - 3600)
    assert client.get("/proxy/returns?" + stale).status_code == 401
