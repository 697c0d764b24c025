"""Quick checks that the Shopify test double (tests/fake_shopify.py) acts like Shopify."""

from __future__ import annotations

import secrets
import time
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from tests.fake_shopify import INVALID_TOKEN_MESSAGE, FakeShopify

CLIENT_ID = "test-api-key"
# Short like the conftest's: pyjwt warns about HMAC keys under 32 bytes, and the
# project's filterwarnings=error turns that into an error unless the fake avoids it.
CLIENT_SECRET = "test-api-secret"
OFFLINE = "urn:shopify:params:oauth:token-type:offline-access-token"
SHOP = "demo-shop.myshopify.com"
VERSION = "2025-10"


def session_token(
    shop: str = SHOP,
    *,
    secret: str = CLIENT_SECRET,
    aud: str = CLIENT_ID,
    exp_in: int = 60,
) -> str:
    now = int(time.time())
    claims = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": aud,
        "sub": "1",
        "exp": now + exp_in,
        "nbf": now - 5,
        "iat": now - 5,
        "jti": secrets.token_hex(8),
        "sid": secrets.token_hex(8),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        return jwt.encode(claims, secret, algorithm="HS256")


def exchange_body(token: str, *, expiring: int = 1, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": token,
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "requested_token_type": OFFLINE,
        "expiring": expiring,
    }
    body.update(over)
    return body


@pytest.fixture
def fake() -> FakeShopify:
    shopify = FakeShopify(CLIENT_ID, CLIENT_SECRET)
    shopify.add_shop(SHOP, name="Demo Shop", email="owner@demo.example", country_code="FR")
    return shopify


@pytest.fixture
def api(fake: FakeShopify) -> Iterator[httpx.Client]:
    transport = httpx.WSGITransport(app=fake.wsgi_app)
    with httpx.Client(transport=transport, base_url=f"https://{SHOP}") as c:
        yield c


def gql(
    api: httpx.Client,
    token: str,
    query: str,
    variables: dict[str, Any] | None = None,
) -> httpx.Response:
    return api.post(
        f"/admin/api/{VERSION}/graphql.json",
        json={"query": query, "variables": variables},
        headers={"X-Shopify-Access-Token": token},
    )


def offline_token(api: httpx.Client) -> str:
    r = api.post("/admin/oauth/access_token", json=exchange_body(session_token()))
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


# ------------------------------------------------------------------ token exchange


def test_token_exchange_expiring(fake: FakeShopify, api: httpx.Client) -> None:
    r = api.post("/admin/oauth/access_token", json=exchange_body(session_token()))
    assert r.status_code == 200
    body = r.json()
    assert body["access_token"].startswith("shpat_")
    assert body["refresh_token"].startswith("shprt_")
    assert body["expires_in"] == 3600
    assert body["refresh_token_expires_in"] == 7776000
    assert body["scope"] == fake.scopes
    assert body["access_token"] in fake.shops[SHOP].access_tokens
    assert fake.token_exchanges[-1]["shop"] == SHOP
    assert fake.token_exchanges[-1]["status"] == 200


def test_token_exchange_non_expiring(api: httpx.Client) -> None:
    r = api.post("/admin/oauth/access_token", json=exchange_body(session_token(), expiring=0))
    assert r.status_code == 200
    assert set(r.json()) == {"access_token", "scope"}


def test_token_exchange_bad_secret(api: httpx.Client) -> None:
    r = api.post(
        "/admin/oauth/access_token",
        json=exchange_body(session_token(), client_secret="wrong"),
    )
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "token",
    [
        session_token(aud="someone-else"),
        session_token(exp_in=-10),
        session_token(secret="not-the-api-secret"),
        session_token(shop="other-shop.myshopify.com"),
        "not-a-jwt",
    ],
    ids=["wrong-aud", "expired", "bad-signature", "other-shop", "garbage"],
)
def test_token_exchange_invalid_subject_token(api: httpx.Client, token: str) -> None:
    r = api.post("/admin/oauth/access_token", json=exchange_body(token))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_subject_token"


def test_token_exchange_unknown_shop(fake: FakeShopify) -> None:
    other = "nobody.myshopify.com"
    transport = httpx.WSGITransport(app=fake.wsgi_app)
    with httpx.Client(transport=transport, base_url=f"https://{other}") as c:
        r = c.post("/admin/oauth/access_token", json=exchange_body(session_token(other)))
    assert r.status_code == 404


def test_refresh_token_rotates(api: httpx.Client) -> None:
    first = api.post("/admin/oauth/access_token", json=exchange_body(session_token()))
    refresh = first.json()["refresh_token"]
    body = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "refresh_token",
        "refresh_token": refresh,
    }
    r = api.post("/admin/oauth/access_token", json=body)
    assert r.status_code == 200
    assert r.json()["refresh_token"] != refresh
    again = api.post("/admin/oauth/access_token", json=body)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


# ------------------------------------------------------------------ GraphQL


def test_shop_query(fake: FakeShopify, api: httpx.Client) -> None:
    token = offline_token(api)
    query = """
    query ShopDetails {
      shop { id name email contactEmail myshopifyDomain ianaTimezone currencyCode
             billingAddress { countryCodeV2 } primaryDomain { url host } }
      shopLocales(published: true) { locale primary published }
    }
    """
    r = gql(api, token, query)
    assert r.status_code == 200
    body = r.json()
    assert "errors" not in body
    shop = body["data"]["shop"]
    assert shop["name"] == "Demo Shop"
    assert shop["email"] == "owner@demo.example"
    assert shop["myshopifyDomain"] == SHOP
    assert shop["ianaTimezone"] == "America/New_York"
    assert shop["currencyCode"] == "USD"
    assert shop["billingAddress"] == {"countryCodeV2": "FR"}
    assert shop["primaryDomain"] == {"url": f"https://{SHOP}", "host": SHOP}
    assert body["data"]["shopLocales"] == [{"locale": "en", "primary": True, "published": True}]
    assert "cost" in body["extensions"]
    call = fake.graphql_calls[-1]
    assert (call.shop, call.access_token, call.operation_name) == (
        SHOP,
        token,
        "ShopDetails",
    )


def test_unknown_field_is_an_error(api: httpx.Client) -> None:
    token = offline_token(api)
    r = gql(api, token, "{ shop { name countryCode } }")
    assert r.status_code == 200
    body = r.json()
    assert "data" not in body
    assert "countryCode" in body["errors"][0]["message"]
    assert gql(api, token, "{ shop { name ").json()["errors"]


def test_bad_access_token(fake: FakeShopify, api: httpx.Client) -> None:
    r = gql(api, "shpat_nope", "{ shop { name } }")
    assert r.status_code == 401
    assert r.json() == {"errors": INVALID_TOKEN_MESSAGE}


def test_expired_access_token(fake: FakeShopify, api: httpx.Client) -> None:
    token = offline_token(api)
    fake.expire_access_tokens(SHOP)
    assert gql(api, token, "{ shop { name } }").status_code == 401


def test_fail_next_graphql(fake: FakeShopify, api: httpx.Client) -> None:
    fake.add_shop("second", access_token="shpat_fixed")
    transport = httpx.WSGITransport(app=fake.wsgi_app)
    with httpx.Client(transport=transport, base_url="https://second.myshopify.com") as c:
        fake.fail_next_graphql = 503
        assert gql(c, "shpat_fixed", "{ shop { name } }").status_code == 503
        assert gql(c, "shpat_fixed", "{ shop { name } }").status_code == 200
    assert [call.status for call in fake.graphql_calls] == [503, 200]


WEBHOOK_CREATE = """
mutation RegisterWebhook($topic: WebhookSubscriptionTopic!,
                         $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
"""


def test_webhook_subscription_create(fake: FakeShopify, api: httpx.Client) -> None:
    token = offline_token(api)
    variables = {
        "topic": "ORDERS_CREATE",
        "webhookSubscription": {
            "uri": "https://app.example/webhooks",
            "format": "JSON",
        },
    }
    first = gql(api, token, WEBHOOK_CREATE, variables).json()["data"]
    created = first["webhookSubscriptionCreate"]
    assert created["userErrors"] == []
    assert created["webhookSubscription"]["topic"] == "ORDERS_CREATE"
    assert created["webhookSubscription"]["uri"] == "https://app.example/webhooks"
    assert [(s.shop, s.topic, s.uri) for s in fake.webhook_subscriptions] == [
        (SHOP, "ORDERS_CREATE", "https://app.example/webhooks")
    ]

    second = gql(api, token, WEBHOOK_CREATE, variables).json()["data"]
    dup = second["webhookSubscriptionCreate"]
    assert dup["webhookSubscription"] is None
    assert dup["userErrors"][0]["message"] == ("Address for this topic has already been taken")
    assert len(fake.webhook_subscriptions) == 1

    listed = gql(api, token, "{ webhookSubscriptions(first: 10) { nodes { id topic uri } } }").json()
    assert listed["data"]["webhookSubscriptions"]["nodes"] == [created["webhookSubscription"]]


def test_webhook_topic_must_be_a_shopify_enum_value(api: httpx.Client) -> None:
    token = offline_token(api)
    variables = {
        "topic": "ORDERS_UPDATE",  # Shopify's value is ORDERS_UPDATED
        "webhookSubscription": {"uri": "https://app.example/webhooks"},
    }
    body = gql(api, token, WEBHOOK_CREATE, variables).json()
    assert "data" not in body
    assert "ORDERS_UPDATE" in body["errors"][0]["message"]


def test_product_tags(fake: FakeShopify, api: httpx.Client) -> None:
    token = offline_token(api)
    fake.add_product("gid://shopify/Product/42", ["vip", "gift"])
    q = "query($id: ID!) { product(id: $id) { id tags } }"
    found = gql(api, token, q, {"id": "gid://shopify/Product/42"}).json()
    assert found["data"]["product"] == {
        "id": "gid://shopify/Product/42",
        "tags": ["vip", "gift"],
    }
    missing = gql(api, token, q, {"id": "gid://shopify/Product/7"}).json()
    assert missing["data"]["product"] is None


# ------------------------------------------------------------------ live server


def test_live_server_start_stop(fake: FakeShopify) -> None:
    origin = fake.start()
    try:
        assert origin.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=origin, headers={"Host": SHOP}) as c:
            r = c.post("/admin/oauth/access_token", json=exchange_body(session_token()))
            assert r.status_code == 200
            token = r.json()["access_token"]
            shop = gql(c, token, "{ shop { myshopifyDomain } }").json()
        assert shop["data"]["shop"]["myshopifyDomain"] == SHOP
        assert fake.graphql_calls[-1].shop == SHOP  # port stripped from Host
    finally:
        fake.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{origin}/admin/oauth/access_token", json={}, timeout=2)


def test_online_token_exchange(api: httpx.Client) -> None:
    online = "urn:shopify:params:oauth:token-type:online-access-token"
    r = api.post("/admin/oauth/access_token", json=exchange_body(session_token(), requested_token_type=online))
    assert r.status_code == 200
    body = r.json()
    assert body["expires_in"] > 0
    assert body["associated_user"]["id"] == 1
    assert "refresh_token" not in body


def test_deprecated_callback_url_still_accepted(fake: FakeShopify, api: httpx.Client) -> None:
    token = offline_token(api)
    variables = {"topic": "APP_UNINSTALLED", "webhookSubscription": {"callbackUrl": "https://app.example/w"}}
    data = gql(api, token, WEBHOOK_CREATE, variables).json()["data"]
    assert data["webhookSubscriptionCreate"]["webhookSubscription"]["uri"] == "https://app.example/w"
    plain_http = {"topic": "SHOP_UPDATE", "webhookSubscription": {"uri": "http://app.example/w"}}
    refused = gql(api, token, WEBHOOK_CREATE, plain_http).json()["data"]["webhookSubscriptionCreate"]
    assert refused["userErrors"][0]["message"] == "Address protocol http:// is not supported"
