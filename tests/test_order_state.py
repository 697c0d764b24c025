"""Orders and shipments follow the webhooks to delivery, whatever order the webhooks arrive in."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from cxplugin.extensions import db
from cxplugin.models import Order, Shipment, WebhookEvent
from tests.conftest import Send
from tests.shopify_signing import fixture, session_token

ORDER_ID = fixture("orders_create__basic")["id"]

# (topic, fixture, X-Shopify-Triggered-At) for one order's life, in the order Shopify sent them.
LIFE = [
    ("orders/create", "orders_create__basic", "2026-11-20T15:15:01Z"),
    ("orders/updated", "orders_updated__basic", "2026-11-20T17:00:01Z"),
    ("fulfillments/create", "fulfillments_create__basic", "2026-11-21T14:00:01Z"),
    ("fulfillment_events/create", "fulfillment_events_create__in_transit", "2026-11-22T13:00:02Z"),
    ("fulfillments/update", "fulfillments_update__in_transit", "2026-11-22T13:00:01Z"),
    ("fulfillment_events/create", "fulfillment_events_create__out_for_delivery", "2026-11-24T12:45:01Z"),
    ("fulfillment_events/create", "fulfillment_events_create__delivered", "2026-11-24T20:30:02Z"),
    ("fulfillments/update", "fulfillments_update__delivered", "2026-11-24T20:30:01Z"),
]


def admin_get(client: FlaskClient, path: str) -> Any:
    response = client.get(path, headers={"Authorization": f"Bearer {session_token()}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def play(send: Send, drain: Callable[[], int], steps: list[tuple[str, str, str]]) -> None:
    for n, (topic, name, triggered) in enumerate(steps):
        assert send(topic, name, event_id=f"{name}-{n}", triggered_at=triggered).status_code == 200
        drain()


def state(client: FlaskClient) -> dict[str, Any]:
    held: dict[str, Any] = admin_get(client, f"/api/admin/orders/{ORDER_ID}")
    return held


def test_an_order_is_followed_from_creation_to_delivery(shop: str, client: FlaskClient, send_webhook: Send,
                                                        drain: Callable[[], int]) -> None:
    play(send_webhook, drain, LIFE)
    order = state(client)
    assert order["name"] == "#1001"
    assert order["email"] == "ada@example.com"
    assert order["first_name"] == "Ada"
    assert order["customer_locale"] == "en"
    assert order["destination"] == {"country": "US", "province": "NY", "zip": "10001"}
    assert order["note"] == "Leave at the door"
    assert "_cx_promise" in order["note_attributes"]
    [shipment] = order["shipments"]
    assert shipment["carrier"] == "UPS"
    assert shipment["tracking_number"] == "1Z2345"
    assert shipment["status"] == "delivered"
    assert shipment["delivered_at"] == "2026-11-24T20:30:00+00:00"
    assert shipment["out_for_delivery_at"] == "2026-11-24T12:45:00+00:00"
    assert shipment["in_transit_at"] == "2026-11-22T13:00:00+00:00"
    assert shipment["estimated_delivery_at"] == "2026-11-25T23:00:00+00:00"
    assert [h["status"] for h in shipment["history"]] == ["in_transit", "out_for_delivery", "delivered"]


@pytest.mark.parametrize("seed", range(6))
def test_any_arrival_order_ends_in_the_same_state(seed: int, shop: str, client: FlaskClient, send_webhook: Send,
                                                  drain: Callable[[], int]) -> None:
    play(send_webhook, drain, LIFE)
    expected = state(client)
    with client.application.app_context():
        db.session.execute(sa.delete(Order))
        db.session.execute(sa.delete(WebhookEvent))
        db.session.commit()
    shuffled = list(reversed(LIFE))
    if seed:
        random.Random(seed).shuffle(shuffled)
    play(send_webhook, drain, shuffled)
    assert state(client) == expected


def test_a_stale_retry_changes_nothing(shop: str, client: FlaskClient, send_webhook: Send,
                                       drain: Callable[[], int]) -> None:
    play(send_webhook, drain, LIFE)
    before = state(client)
    play(send_webhook, drain, [("orders/updated", "orders_updated__stale", "2026-11-20T15:16:01Z"),
                               ("fulfillments/update", "fulfillments_update__in_transit", "2026-11-22T13:00:01Z")])
    assert state(client) == before


def test_the_same_payload_applied_twice_changes_nothing(shop: str, client: FlaskClient, send_webhook: Send,
                                                        drain: Callable[[], int]) -> None:
    play(send_webhook, drain, LIFE)
    before = state(client)
    play(send_webhook, drain, LIFE)  # new event ids: Shopify re-sent everything
    assert state(client) == before


def test_a_carrier_event_before_its_order_is_kept_and_completed_later(shop: str, client: FlaskClient,
                                                                      send_webhook: Send,
                                                                      drain: Callable[[], int]) -> None:
    play(send_webhook, drain, [LIFE[6], LIFE[0]])
    order = state(client)
    assert order["name"] == "#1001"
    assert order["shipments"][0]["status"] == "delivered"


def test_cancellation_is_recorded(shop: str, client: FlaskClient, send_webhook: Send,
                                  drain: Callable[[], int]) -> None:
    play(send_webhook, drain, [LIFE[0], ("orders/cancelled", "orders_cancelled__basic", "2026-11-20T18:00:01Z")])
    order = state(client)
    assert order["cancelled_at"] == "2026-11-20T18:00:00+00:00"
    assert order["cancel_reason"] == "customer"


def test_shop_update_changes_the_shops_time_zone(app: Flask, shop: str, send_webhook: Send,
                                                 drain: Callable[[], int]) -> None:
    payload = {**fixture("shop_update__basic"), "iana_timezone": "Asia/Jerusalem", "currency": "ILS"}
    assert send_webhook("shop/update", payload).status_code == 200
    drain()
    from cxplugin.shops.lifecycle import find_shop

    with app.app_context():
        held = find_shop(shop)
        assert held is not None and (held.timezone, held.currency) == ("Asia/Jerusalem", "ILS")


def test_another_shops_order_is_not_visible(app: Flask, shop: str, client: FlaskClient, runner: Any,
                                            send_webhook: Send, drain: Callable[[], int]) -> None:
    play(send_webhook, drain, LIFE[:1])
    runner.invoke(args=["cx", "shops", "add", "other-shop.myshopify.com", "--token", "shpat_other"])
    token = session_token("other-shop.myshopify.com")
    response = client.get(f"/api/admin/orders/{ORDER_ID}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Shipment)) == 0
