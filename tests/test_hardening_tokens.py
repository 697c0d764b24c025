"""Expiring offline tokens: every Admin API call refreshes ahead of expiry, once per shop, and stops for good
(until the merchant opens the app again) when Shopify refuses the refresh token."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from cxplugin.extensions import db
from cxplugin.models import Shop
from cxplugin.models.types import utcnow
from cxplugin.shopify import admin_api
from tests.fake_shopify import REFRESH_GRANT, FakeShopify
from tests.shopify_signing import SHOP, proxy_query, session_token
from tests.test_storefront_proxy import EVERY_DAY, settings


def open_app(client: FlaskClient) -> None:
    """The merchant opens the embedded app (the first time: token exchange installs the shop)."""
    query = urlencode({"embedded": "1", "shop": SHOP, "id_token": session_token()})
    assert client.get("/admin?" + query).status_code == 200


@pytest.fixture
def installed(app: Flask, client: FlaskClient, fake_shopify: FakeShopify, drain: Callable[[], int]) -> int:
    """The shop installed from the app home: an expiring offline token and its refresh token."""
    fake_shopify.add_shop(SHOP)
    open_app(client)
    drain()  # the install-time sync
    fake_shopify.clear_records()
    with app.app_context():
        shop = db.session.scalars(sa.select(Shop)).one()
        assert shop.refresh_token is not None and shop.access_token_expires_at is not None
        return shop.id


def stored(app: Flask) -> Shop:
    with app.app_context():
        shop = db.session.scalars(sa.select(Shop)).one()
        db.session.expunge(shop)
        return shop


def tokens_of(app: Flask) -> tuple[str | None, str | None]:
    with app.app_context():
        return db.session.execute(sa.select(Shop.access_token, Shop.refresh_token)).one()._tuple()


def refreshes(fake: FakeShopify) -> list[dict[str, Any]]:
    return [e for e in fake.token_exchanges if e.get("grant_type") == REFRESH_GRANT]


def shop_name(app: Flask, shop_id: int) -> str:
    with app.app_context():
        name: str = admin_api.call(shop_id, "query { shop { name } }")["shop"]["name"]
        return name


def runs_out_in(app: Flask, delta: timedelta) -> None:
    with app.app_context():
        db.session.execute(sa.update(Shop).values(access_token_expires_at=utcnow() + delta))
        db.session.commit()


def test_a_token_shopify_expired_is_refreshed_and_the_call_tried_again_once(
        app: Flask, installed: int, fake_shopify: FakeShopify) -> None:
    before = tokens_of(app)
    fake_shopify.expire_access_tokens(SHOP)  # an hour later
    assert shop_name(app, installed) == "Cx Test Shop"
    assert [c.status for c in fake_shopify.graphql_calls] == [401, 200]
    assert [e["status"] for e in refreshes(fake_shopify)] == [200]
    access, refresh = tokens_of(app)
    assert access != before[0] and refresh != before[1]  # Shopify rotates the refresh token: the new one is kept


def test_a_token_running_out_within_five_minutes_is_refreshed_before_the_call(
        app: Flask, installed: int, fake_shopify: FakeShopify) -> None:
    runs_out_in(app, timedelta(minutes=4))
    assert shop_name(app, installed) == "Cx Test Shop"
    assert [c.status for c in fake_shopify.graphql_calls] == [200]
    assert len(refreshes(fake_shopify)) == 1
    assert stored(app).access_token_expires_at > utcnow() + timedelta(minutes=55)  # type: ignore[operator]
    fake_shopify.clear_records()
    assert shop_name(app, installed) == "Cx Test Shop"  # a fresh token is used as it is
    assert refreshes(fake_shopify) == []


def test_each_refresh_uses_the_refresh_token_shopify_gave_last(
        app: Flask, installed: int, fake_shopify: FakeShopify) -> None:
    for _ in range(3):
        runs_out_in(app, timedelta(minutes=1))
        assert shop_name(app, installed) == "Cx Test Shop"
    assert [e["status"] for e in refreshes(fake_shopify)] == [200, 200, 200]


def test_callers_in_many_threads_share_one_refresh(app: Flask, installed: int, fake_shopify: FakeShopify) -> None:
    runs_out_in(app, timedelta(minutes=1))
    names: list[str] = []
    start = threading.Barrier(4)

    def caller() -> None:
        start.wait()
        names.append(shop_name(app, installed))

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert names == ["Cx Test Shop"] * 4
    assert len(refreshes(fake_shopify)) == 1
    assert stored(app).token_refresh_until is None


def test_a_refused_refresh_token_stops_the_calls_until_the_merchant_opens_the_app(
        app: Flask, client: FlaskClient, installed: int, fake_shopify: FakeShopify) -> None:
    fake_shopify.revoke_access_tokens(SHOP)
    logged: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = logged.append  # type: ignore[method-assign]
    logging.getLogger("cxplugin").addHandler(handler)
    try:
        for _ in range(3):
            with app.app_context(), pytest.raises(admin_api.AdminApiError) as refused:
                admin_api.call(installed, "query { shop { name } }")
            assert refused.value.code == "needs_reauth"
    finally:
        logging.getLogger("cxplugin").removeHandler(handler)
    assert len(refreshes(fake_shopify)) == 1 and len(fake_shopify.graphql_calls) == 1  # asked once, then no more
    assert [r.getMessage() for r in logged].count("shop must open the app again: Shopify refused its token") == 1
    assert stored(app).needs_reauth_at is not None
    open_app(client)  # the next load exchanges a new token
    assert stored(app).needs_reauth_at is None
    assert shop_name(app, installed) == "Cx Test Shop"


def test_tag_rules_keep_working_an_hour_after_install(
        app: Flask, client: FlaskClient, installed: int, fake_shopify: FakeShopify,
        drain: Callable[[], int]) -> None:
    fake_shopify.add_product("gid://shopify/Product/777", ["pre-order"])
    settings(client, EVERY_DAY)
    fake_shopify.expire_access_tokens(SHOP)
    client.get("/proxy/promise?" + proxy_query({"country": "US", "product_id": "777"}))
    drain()  # the worker fetches the product's tags, refreshing the token on the way
    answer = client.get("/proxy/promise?" + proxy_query({"country": "US", "product_id": "777"})).get_json()
    assert answer["rule"].endswith("tag:pre-order")
