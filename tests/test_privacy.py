"""Shopify's mandatory privacy webhooks: a customer erased, a shop erased, a customer's data exported."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from cxplugin.extensions import db
from cxplugin.models import DataRequest, Order, Shipment, ShipmentStatusEvent, Shop, WebhookEvent
from tests.conftest import Send
from tests.shopify_signing import SHOP, fixture, session_token
from tests.test_order_state import LIFE, ORDER_ID, play


def count(app: Flask, model: Any, *where: Any) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)) or 0


def api(client: FlaskClient, path: str, shop: str = SHOP) -> Any:
    return client.get(path, headers={"Authorization": f"Bearer {session_token(shop)}"})


def test_customers_redact_erases_personal_data_and_keeps_anonymous_facts(
        app: Flask, shop: str, client: FlaskClient, send_webhook: Send, drain: Callable[[], int]) -> None:
    play(send_webhook, drain, LIFE)
    assert send_webhook("customers/redact", "customers_redact__basic").status_code == 200
    drain()
    order = api(client, f"/api/admin/orders/{ORDER_ID}").get_json()
    assert (order["email"], order["first_name"], order["last_name"], order["note"]) == (None, None, None, None)
    assert order["destination"]["zip"] is None
    assert list(order["note_attributes"]) == ["_cx_promise"]
    assert order["redacted"] is True
    shipment = order["shipments"][0]
    assert (shipment["tracking_number"], shipment["tracking_url"]) == (None, None)
    assert all(h["city"] is None for h in shipment["history"])
    # The anonymous facts that scores are made of stay.
    assert shipment["delivered_at"] == "2026-11-24T20:30:00+00:00"
    assert order["destination"]["country"] == "US"
    with app.app_context():
        payloads = db.session.scalars(sa.select(WebhookEvent.payload).where(WebhookEvent.topic != "customers/redact"))
        assert not any("ada@example.com" in p or "Lovelace" in p for p in payloads)


def test_a_late_retry_after_redaction_brings_nothing_personal_back(
        shop: str, client: FlaskClient, send_webhook: Send, drain: Callable[[], int]) -> None:
    play(send_webhook, drain, LIFE)
    send_webhook("customers/redact", "customers_redact__basic")
    drain()
    later = {**fixture("orders_updated__basic"), "updated_at": "2026-12-01T00:00:00-05:00"}
    send_webhook("orders/updated", later)
    drain()
    order = api(client, f"/api/admin/orders/{ORDER_ID}").get_json()
    assert order["email"] is None and order["first_name"] is None


def test_shop_redact_deletes_every_row_of_that_shop_only(app: Flask, shop: str, runner: FlaskCliRunner,
                                                         send_webhook: Send, drain: Callable[[], int]) -> None:
    play(send_webhook, drain, LIFE)
    other = "other-shop.myshopify.com"
    runner.invoke(args=["cx", "shops", "add", other, "--token", "shpat_other"])
    send_webhook("orders/create", "orders_create__basic", shop=other)
    drain()
    send_webhook("app/uninstalled", "app_uninstalled__basic")
    drain()
    assert send_webhook("shop/redact", "shop_redact__basic").status_code == 200
    drain()
    assert count(app, Shop, Shop.domain == SHOP) == 0
    with app.app_context():
        other_id = db.session.scalar(sa.select(Shop.id).where(Shop.domain == other))
    assert count(app, Order, Order.shop_id != other_id) == 0
    assert count(app, Shipment) == 0
    assert count(app, ShipmentStatusEvent) == 0
    assert count(app, Order, Order.shop_id == other_id) == 1
    with app.app_context():
        left = db.session.scalars(sa.select(WebhookEvent.topic).where(WebhookEvent.shop_domain == SHOP)).all()
    assert left == ["shop/redact"]


def test_data_request_builds_an_export_the_merchant_can_fetch(
        app: Flask, shop: str, client: FlaskClient, runner: FlaskCliRunner, send_webhook: Send,
        drain: Callable[[], int]) -> None:
    play(send_webhook, drain, LIFE)
    assert send_webhook("customers/data_request", "customers_data_request__basic").status_code == 200
    drain()
    listing = api(client, "/api/admin/data-requests").get_json()["data_requests"]
    request_id = fixture("customers_data_request__basic")["data_request"]["id"]
    assert [r["shopify_request_id"] for r in listing] == [request_id]
    export = api(client, f"/api/admin/data-requests/{listing[0]['id']}").get_json()
    assert export["customer"]["email"] == "ada@example.com"
    [order] = export["orders"]
    assert order["id"] == ORDER_ID and order["email"] == "ada@example.com"
    assert order["shipments"][0]["tracking_number"] == "1Z2345"
    # Another shop cannot read it.
    runner.invoke(args=["cx", "shops", "add", "other-shop.myshopify.com", "--token", "shpat_other"])
    assert api(client, f"/api/admin/data-requests/{listing[0]['id']}", "other-shop.myshopify.com").status_code == 404


def test_a_repeated_data_request_rebuilds_one_export(app: Flask, shop: str, send_webhook: Send,
                                                     drain: Callable[[], int]) -> None:
    send_webhook("customers/data_request", "customers_data_request__basic")
    send_webhook("customers/data_request", "customers_data_request__basic")
    drain()
    assert count(app, DataRequest) == 1


def test_app_uninstalled_forgets_the_token_and_stops_work(app: Flask, shop: str, client: FlaskClient,
                                                          send_webhook: Send, drain: Callable[[], int]) -> None:
    assert send_webhook("app/uninstalled", "app_uninstalled__basic").status_code == 200
    drain()
    with app.app_context():
        held = db.session.scalars(sa.select(Shop)).one()
        assert held.uninstalled_at is not None
        assert held.access_token is None and held.refresh_token is None
        raw = db.session.execute(sa.text("SELECT access_token FROM shops")).scalar()
        assert raw is None
    assert send_webhook("orders/create", "orders_create__basic").status_code == 410
    assert api(client, f"/api/admin/orders/{ORDER_ID}").status_code == 403


def test_compliance_payload_shapes_follow_shopify(shop: str) -> None:
    redact = fixture("customers_redact__basic")
    assert set(redact) >= {"shop_id", "shop_domain", "customer", "orders_to_redact"}
    assert json.dumps(fixture("shop_redact__basic"))
