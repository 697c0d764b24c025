"""Install through the embedded app home (token exchange) and the session-token guard on /api/admin."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from cxplugin.extensions import db
from cxplugin.models import Shop
from cxplugin.webhooks.topics import SUBSCRIBABLE
from tests.fake_shopify import FakeShopify
from tests.shopify_signing import SHOP, session_token


def app_home(client: FlaskClient, token: str) -> str:
    return "/admin?" + urlencode({"embedded": "1", "shop": SHOP, "host": "YWRtaW4=", "id_token": token})


def test_first_load_exchanges_the_token_reads_the_shop_and_registers_webhooks(
        app: Flask, client: FlaskClient, fake_shopify: FakeShopify, drain: Callable[[], int]) -> None:
    fake_shopify.add_shop(SHOP, name="Ada's Shop", iana_timezone="Europe/Amsterdam", country_code="NL",
                          currency_code="EUR", primary_locale="nl")
    response = client.get(app_home(client, session_token()))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"].startswith(
        f"frame-ancestors https://{SHOP} https://admin.shopify.com")
    assert len(fake_shopify.token_exchanges) == 1
    drain()
    with app.app_context():
        shop = db.session.scalars(sa.select(Shop)).one()
        assert (shop.name, shop.timezone, shop.country_code, shop.currency, shop.primary_locale) == (
            "Ada's Shop", "Europe/Amsterdam", "NL", "EUR", "nl")
        assert shop.is_installed and shop.access_token and shop.access_token.startswith("shpat_")
        assert shop.refresh_token is not None and shop.access_token_expires_at is not None
        raw = db.session.execute(sa.text("SELECT access_token FROM shops")).scalar()
        assert raw and shop.access_token not in raw  # encrypted at rest
    registered = sorted(s.topic for s in fake_shopify.webhook_subscriptions)
    assert registered == sorted(t.upper().replace("/", "_") for t in SUBSCRIBABLE)
    assert {s.uri for s in fake_shopify.webhook_subscriptions} == {"https://cx.example.test/webhooks"}


def test_second_load_uses_the_stored_token(client: FlaskClient, fake_shopify: FakeShopify,
                                           drain: Callable[[], int]) -> None:
    fake_shopify.add_shop(SHOP)
    client.get(app_home(client, session_token()))
    drain()
    assert client.get(app_home(client, session_token())).status_code == 200
    assert len(fake_shopify.token_exchanges) == 1


def test_app_home_without_a_token_goes_to_the_token_refresh_page(client: FlaskClient) -> None:
    response = client.get("/admin?embedded=1&shop=" + SHOP)
    assert response.status_code == 302
    assert "/auth/patch-id-token" in response.headers["Location"]
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert "app-bridge.js" in page.get_data(as_text=True)


def test_refused_token_exchange_shows_shopifys_response_and_installs_nothing(
        app: Flask, client: FlaskClient, fake_shopify: FakeShopify) -> None:
    # The fake has no such shop, so Shopify refuses the exchange.
    response = client.get(app_home(client, session_token()))
    assert response.status_code in (302, 401, 500)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Shop)) == 0


@pytest.mark.parametrize(
    ("case", "token"),
    [
        ("expired", lambda: session_token(issued_ago=600)),
        ("wrong audience", lambda: session_token(aud="someone-elses-app")),
        ("wrong signature", lambda: session_token(secret="forged-secret-that-is-long-enough-000")),
        ("not a jwt", lambda: "abc.def.ghi"),
    ],
)
def test_bad_session_tokens_get_401_with_the_retry_header(client: FlaskClient, shop: str, case: str,
                                                          token: Callable[[], str]) -> None:
    response = client.get("/api/admin/data-requests", headers={"Authorization": f"Bearer {token()}"})
    assert response.status_code == 401, case
    assert response.headers["X-Shopify-Retry-Invalid-Session-Request"] == "1"


def test_api_without_a_token_is_401(client: FlaskClient, shop: str) -> None:
    assert client.get("/api/admin/data-requests").status_code == 401


def test_the_shop_comes_from_the_token_not_from_parameters(client: FlaskClient, shop: str) -> None:
    token = session_token("not-installed.myshopify.com")
    response = client.get(f"/api/admin/data-requests?shop={SHOP}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403



def test_app_home_redirects_to_the_app_url_whatever_host_the_request_names(client: FlaskClient) -> None:
    response = client.get("/admin?embedded=1&shop=" + SHOP, headers={"Host": "evil.example"})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("https://cx.example.test/auth/patch-id-token?")
    assert "evil.example" not in location


def test_the_token_refresh_page_names_only_the_shop_and_shopify_admin_as_frame_ancestors(
        client: FlaskClient) -> None:
    page = client.get(f"/auth/patch-id-token?shop={SHOP}&shopify-reload=%2Fadmin")
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"] == f"frame-ancestors https://{SHOP} https://admin.shopify.com;"


@pytest.mark.parametrize("shop", ["evil.example%20*", "evil.example", "x.myshopify.com.evil.example",
                                  "-x.myshopify.com", "X.MYSHOPIFY.COM%3B%20script-src%20*", ""])
def test_the_token_refresh_page_refuses_a_shop_that_is_not_a_myshopify_domain(client: FlaskClient,
                                                                                shop: str) -> None:
    page = client.get(f"/auth/patch-id-token?shop={shop}&shopify-reload=%2Fadmin")
    assert page.status_code == 400
    assert "Content-Security-Policy" not in page.headers
    assert "myshopify.com" in page.get_data(as_text=True)


@pytest.mark.parametrize("target", ["https%3A%2F%2Fevil.example%2Fadmin", "%2F%2Fevil.example%2Fadmin",
                                    "javascript%3Aalert(1)"])
def test_the_token_refresh_page_reloads_only_pages_of_this_app(client: FlaskClient, target: str) -> None:
    assert client.get(f"/auth/patch-id-token?shop={SHOP}&shopify-reload={target}").status_code == 400
    absolute = "https%3A%2F%2Fcx.example.test%2Fadmin%3Fembedded%3D1"
    assert client.get(f"/auth/patch-id-token?shop={SHOP}&shopify-reload={absolute}").status_code == 200
