"""Product tags are never fetched from Shopify by a storefront request or inside a webhook handler's
transaction: the worker fetches them in batches, at a pace per shop, and a change empties one shop's hold."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from cxplugin.extensions import db
from cxplugin.models import ChangeStamp, EventStatus, Order, Product, WebhookEvent
from cxplugin.models.types import utcnow
from cxplugin.promise import product_tags
from cxplugin.queue import huey
from tests.conftest import Send
from tests.fake_shopify import FakeShopify
from tests.shopify_signing import SHOP, fixture, proxy_query, session_token
from tests.test_storefront_proxy import EVERY_DAY, settings

TAGGED = fixture("orders_create__basic")["line_items"][0]["product_id"]
OTHER_SHOP = "other-shop.myshopify.com"


def ask(client: FlaskClient, shop: str = SHOP, **params: Any) -> Any:
    return client.get("/proxy/promise?" + proxy_query({k: str(v) for k, v in params.items()}, shop=shop))


def count(app: Flask, model: type[Any]) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def an_order(number: int) -> dict[str, Any]:
    """orders/create for a new order of the tagged product (and another), without a promise from the cart."""
    order = fixture("orders_create__basic")
    order["id"] = order["id"] + number
    order["note_attributes"] = []
    return order


def promise_rule(client: FlaskClient, order: dict[str, Any]) -> str:
    response = client.get(f"/api/admin/orders/{order['id']}", headers={"Authorization": f"Bearer {session_token()}"})
    rule: str = response.get_json()["promise"]["rule"]
    return rule


@pytest.fixture
def shopify(shop: str, fake_shopify: FakeShopify) -> FakeShopify:
    fake_shopify.add_shop(SHOP, access_token="shpat_test")
    fake_shopify.add_product(f"gid://shopify/Product/{TAGGED}", ["pre-order"])
    return fake_shopify


# ---- the storefront (F7)

def test_fifty_unknown_products_cost_the_storefront_no_call_to_shopify_and_no_write(
        app: Flask, client: FlaskClient, shopify: FakeShopify, drain: Callable[[], int]) -> None:
    for n in range(49):
        shopify.add_product(f"gid://shopify/Product/{9_000_000 + n}", ["made-to-order"])
    ids = ",".join(str(9_000_000 + n) for n in range(49)) + f",{TAGGED}"
    settings(client, EVERY_DAY)
    with app.app_context():
        stamp = db.session.scalar(sa.select(ChangeStamp.value).where(ChangeStamp.name == "storefront"))
    answer = ask(client, country="US", product_ids=ids)
    assert answer.status_code == 200 and answer.get_json()["rule"] == "zone:Domestic"  # as if untagged
    assert shopify.graphql_calls == [] and count(app, Product) == 0
    with app.app_context():
        assert db.session.scalar(sa.select(ChangeStamp.value).where(ChangeStamp.name == "storefront")) == stamp
    ask(client, country="US", product_ids=ids)
    assert huey.pending_count() == 1  # one fetch queued for the fifty, however often they are asked
    drain()
    calls = shopify.graphql_calls
    assert [c.operation_name for c in calls] == ["ProductTags"] and len((calls[0].variables or {})["ids"]) == 50
    assert count(app, Product) == 50
    assert ask(client, country="US", product_ids=ids).get_json()["rule"].endswith("tag:pre-order")


def test_a_shops_fetches_keep_to_their_pace(app: Flask, shopify: FakeShopify, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(product_tags, "FETCHES_PER_MINUTE", 1)
    with app.app_context():
        shop_id = db.session.scalar(sa.text("SELECT id FROM shops"))
        first = product_tags.fetch(shop_id, [TAGGED], utcnow())
        second = product_tags.fetch(shop_id, [123, 456], utcnow())
    assert (first.asked, first.found) == (1, 1)
    assert second.later == [123, 456] and second.retry_in is not None and 55 < second.retry_in <= 60
    assert len(shopify.graphql_calls) == 1


def test_a_change_to_one_shop_keeps_what_the_other_shops_hold(
        app: Flask, config: dict[str, Any], client: FlaskClient, runner: FlaskCliRunner, shop: str) -> None:
    from cxplugin import create_app
    from cxplugin.shops.snapshot import STAMP_CHECK_SECONDS

    assert runner.invoke(args=["cx", "shops", "add", OTHER_SHOP, "--token", "t", "--country", "US"]).exit_code == 0
    time.sleep(STAMP_CHECK_SECONDS + 0.2)  # so that this process has followed the stamps past that install
    ask(client, OTHER_SHOP, country="US")  # held in this process
    other_process = create_app(config)
    try:
        settings(other_process.test_client(), EVERY_DAY)  # a change to the test shop, made elsewhere
    finally:
        with other_process.app_context():
            db.engine.dispose()
    time.sleep(STAMP_CHECK_SECONDS + 0.2)
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert ask(client, OTHER_SHOP, country="US").status_code == 200
        held_for_the_other_shop = list(statements)
        assert ask(client, country="US").status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert all("change_stamps" in s for s in held_for_the_other_shop)  # only the look at the stamps
    assert any("FROM shops" in s for s in statements[len(held_for_the_other_shop):])  # the changed shop is read


# ---- webhook handlers (F9)

def test_a_handler_failing_in_a_later_step_leaves_nothing_written_and_counts_one_attempt(
        app: Flask, shopify: FakeShopify, send_webhook: Send, drain: Callable[[], int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from cxplugin.webhooks import topics

    def fail(*_: Any) -> None:
        raise RuntimeError("a later step of the handler fails")

    monkeypatch.setattr(topics.scheduling, "plan", fail)
    send_webhook("orders/create", an_order(1), event_id="mid-1")
    drain()
    with app.app_context():
        event = db.session.scalars(sa.select(WebhookEvent)).one()
    assert (event.attempts, event.status) == (1, EventStatus.PENDING)
    assert event.last_error == "RuntimeError: a later step of the handler fails"
    assert count(app, Order) == 0 and count(app, Product) == 0
    assert shopify.graphql_calls == []  # nothing asked of Shopify for a transaction that did not commit


def test_an_order_uses_the_tags_known_and_later_orders_see_the_ones_fetched_after_it(
        app: Flask, client: FlaskClient, shopify: FakeShopify, send_webhook: Send,
        drain: Callable[[], int]) -> None:
    first, second = an_order(1), an_order(2)
    send_webhook("orders/create", first)
    drain()  # the order, then (after its commit) the fetch of its products' tags
    send_webhook("orders/create", second)
    drain()
    assert promise_rule(client, first) == "zone:Domestic"
    assert promise_rule(client, second) == "zone:Domestic+tag:pre-order"
    assert [c.operation_name for c in shopify.graphql_calls] == ["ProductTags"]


def test_a_failed_fetch_is_remembered_for_ten_minutes(
        app: Flask, client: FlaskClient, shopify: FakeShopify, send_webhook: Send, drain: Callable[[], int]) -> None:
    shopify.fail_next_graphql = 403
    send_webhook("orders/create", an_order(1))
    drain()
    send_webhook("orders/create", an_order(2))
    assert drain() == 1  # the order only: no fetch queued again
    assert [c.status for c in shopify.graphql_calls] == [403]
    with app.app_context():
        db.session.execute(sa.update(Product).values(fetch_failed_at=utcnow() - timedelta(minutes=11)))
        db.session.commit()
    app.extensions.pop("cx_wanted_products")  # ten minutes on, what the process queued a minute ago has lapsed too
    send_webhook("orders/create", an_order(3))
    drain()
    assert [c.status for c in shopify.graphql_calls] == [403, 200]
    assert promise_rule(client, an_order(3)) == "zone:Domestic"
    send_webhook("orders/create", an_order(4))
    drain()
    assert promise_rule(client, an_order(4)) == "zone:Domestic+tag:pre-order"
