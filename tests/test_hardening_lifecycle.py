"""Install and uninstall in any order: an app/uninstalled from before the last install changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from shopify_app import TokenExchangeAccessToken

from cxplugin.extensions import db
from cxplugin.models import Shop
from cxplugin.shops.lifecycle import store_exchanged_token
from tests.conftest import Send
from tests.shopify_signing import SHOP


def exchanged(token: str) -> TokenExchangeAccessToken:
    return TokenExchangeAccessToken(shop=SHOP, access_mode="offline", token=token, scope="read_orders",
                                    expires=None, refresh_token=None, refresh_token_expires=None, user=None)


def held(app: Flask) -> Shop:
    with app.app_context():
        shop: Shop = db.session.scalars(sa.select(Shop)).one()
        _ = shop.access_token  # load the deferred column while the session is open
        return shop


def test_an_uninstall_processed_after_the_reinstall_keeps_the_new_install(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int]) -> None:
    assert send_webhook("app/uninstalled", "app_uninstalled__basic").status_code == 200  # the worker is behind
    with app.app_context():  # the merchant installs again before the worker gets to the event
        store_exchanged_token(SHOP, exchanged("shpat_new"))
    drain()
    s = held(app)
    assert s.is_installed and s.access_token == "shpat_new"
    assert send_webhook("orders/create", "orders_create__basic").status_code == 200


def test_a_reinstall_moves_installed_at_even_when_the_uninstall_was_never_processed(
        app: Flask, shop: str) -> None:
    first = held(app).installed_at
    with app.app_context():
        store_exchanged_token(SHOP, exchanged("shpat_new"))
    second = held(app).installed_at
    assert first is not None and second is not None and second > first


def test_an_uninstall_without_a_trigger_time_is_judged_by_when_it_was_received(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int]) -> None:
    send_webhook("app/uninstalled", "app_uninstalled__basic", headers={"X-Shopify-Triggered-At": ""})
    with app.app_context():
        store_exchanged_token(SHOP, exchanged("shpat_new"))
    drain()
    assert held(app).is_installed


def test_an_uninstall_after_the_last_install_still_uninstalls(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int]) -> None:
    with app.app_context():
        store_exchanged_token(SHOP, exchanged("shpat_new"))
    later = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    send_webhook("app/uninstalled", "app_uninstalled__basic", triggered_at=later)
    drain()
    s = held(app)
    assert not s.is_installed and s.access_token is None
    assert send_webhook("orders/create", "orders_create__basic").status_code == 410


def test_a_refreshed_token_is_not_a_reinstall(app: Flask, shop: str, send_webhook: Send,
                                              drain: Callable[[], int]) -> None:
    installed = held(app).installed_at
    send_webhook("app/uninstalled", "app_uninstalled__basic")  # after the install, before the refresh
    with app.app_context():
        store_exchanged_token(SHOP, exchanged("shpat_refreshed"), refreshed=True)
    assert held(app).installed_at == installed
    drain()
    s = held(app)
    assert not s.is_installed and s.access_token is None


def test_the_uninstalled_shop_installs_again_with_a_new_token(app: Flask, shop: str, send_webhook: Send,
                                                              drain: Callable[[], int]) -> None:
    send_webhook("app/uninstalled", "app_uninstalled__basic")
    drain()
    assert not held(app).is_installed
    with app.app_context():
        store_exchanged_token(SHOP, exchanged("shpat_again"))
    s = held(app)
    assert s.is_installed and s.access_token == "shpat_again"
