"""The customer account extension's backend: each line's eligibility for the signed-in customer, and a return
request in one step, sent to the fake Admin API (which records the mutation's variables) over a live server."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import jwt
import pytest
import sqlalchemy as sa
from flask import Flask

from cxplugin.extensions import db
from cxplugin.models import ReturnRequest
from tests.browser import live
from tests.conftest import Send
from tests.fake_shopify import FakeShopify
from tests.shopify_signing import API_KEY, SECRET, SHOP, fixture

CUSTOMER = 115310627314723954
ORDER = 820982911946154508
SHIRT, TOTE = 487817672276298554, 976318377106520349  # 2 shirts, 1 tote bag
DAMAGED = "gid://shopify/ReturnReasonDefinition/2001"
NYC = ZoneInfo("America/New_York")


def customer_token(*, customer: int = CUSTOMER, shop: str = SHOP, secret: str = SECRET, lifetime: int = 300,
                   issued_ago: int = 5) -> str:
    """A customer account UI extension session token: HS256 with the app secret, the customer as ``sub``."""
    now = int(time.time())
    claims = {"dest": shop, "aud": API_KEY, "sub": f"gid://shopify/Customer/{customer}",
              "exp": now - issued_ago + lifetime, "nbf": now - issued_ago, "iat": now - issued_ago,
              "jti": secrets.token_hex(8)}
    return jwt.encode(claims, secret, algorithm="HS256")


def iso(moment: datetime) -> str:
    return moment.astimezone(NYC).isoformat()


@pytest.fixture
def delivered_order(shop: str, send_webhook: Send, drain: Callable[[], int], fake_shopify: FakeShopify) -> datetime:
    """Order #1001 placed a week ago and delivered two days ago; Shopify can take back all of it."""
    now = datetime.now(UTC)
    order = fixture("orders_create__basic") | {"created_at": iso(now - timedelta(days=7)),
                                               "updated_at": iso(now - timedelta(days=7))}
    delivered_at = now - timedelta(days=2)
    fulfillment = fixture("fulfillments_update__delivered") | {"created_at": iso(now - timedelta(days=5)),
                                                               "updated_at": iso(delivered_at)}
    assert send_webhook("orders/create", order).status_code == 200
    assert send_webhook("fulfillments/update", fulfillment).status_code == 200
    drain()
    fake_shopify.add_shop(SHOP, access_token="shpat_test")
    fake_shopify.returnable[f"gid://shopify/Order/{ORDER}"] = [("gid://shopify/Fulfillment/255858046", [
        ("gid://shopify/FulfillmentLineItem/1025578643", f"gid://shopify/LineItem/{SHIRT}", 2),
        ("gid://shopify/FulfillmentLineItem/1025578644", f"gid://shopify/LineItem/{TOTE}", 1)])]
    return delivered_at


@pytest.fixture
def server(app: Flask) -> Iterator[httpx.Client]:
    with live(app) as url, httpx.Client(base_url=url, timeout=20) as client:
        yield client


def get(server: httpx.Client, token: str | None = None, order: int = ORDER, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or customer_token()}"}
    return server.get(f"/api/customer/orders/{order}/returns", headers=headers, params=params)


def post(server: httpx.Client, lines: list[dict[str, Any]], token: str | None = None, order: int = ORDER,
         **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or customer_token()}"}
    return server.post(f"/api/customer/orders/{order}/returns", headers=headers, params=params,
                       json={"lines": lines})


def shirt(quantity: int = 1, reason: str = DAMAGED, note: str = "The seam came apart") -> dict[str, Any]:
    return {"line_item_id": SHIRT, "quantity": quantity, "reason_id": reason, "note": note}


def mutations(fake: FakeShopify) -> list[dict[str, Any]]:
    return [c.variables or {} for c in fake.graphql_calls if c.operation_name == "RequestReturn"]


# ---- reading ------------------------------------------------------------------------------------------

def test_the_customer_sees_each_lines_deadline_and_the_shops_reasons(delivered_order: datetime,
                                                                     server: httpx.Client) -> None:
    answer = get(server).json()
    last_day = (delivered_order.astimezone(NYC).date() + timedelta(days=30)).isoformat()
    shirt_line, tote_line = answer["lines"]
    assert (shirt_line["line_item_id"], shirt_line["status"], shirt_line["returnable_quantity"]) == (
        SHIRT, "eligible", 2)
    assert shirt_line["last_day"] == tote_line["last_day"] == last_day
    assert shirt_line["text"].startswith("You can return this order until ")
    assert [r["handle"] for r in answer["reasons"]] == ["damaged", "arrived-late", "size-too-small"]


def test_a_final_sale_line_says_so(delivered_order: datetime, server: httpx.Client, send_webhook: Send,
                                   drain: Callable[[], int]) -> None:
    product = fixture("products_update__basic") | {"id": 921728736, "tags": "final-sale",
                                                   "updated_at": iso(datetime.now(UTC))}
    send_webhook("products/update", product)
    drain()
    tote_line = get(server, locale="es").json()["lines"][1]
    assert (tote_line["status"], tote_line["reason"], tote_line["text"]) == (
        "excluded", "excluded_tag", "Venta final: sin devolución")


# ---- requesting ---------------------------------------------------------------------------------------

def test_a_return_request_is_sent_to_shopify_with_the_fulfilment_line_and_reason(
        app: Flask, delivered_order: datetime, server: httpx.Client, fake_shopify: FakeShopify) -> None:
    response = post(server, [shirt()])
    assert response.status_code == 201, response.text
    assert response.json()["return"]["status"] == "requested"
    assert mutations(fake_shopify) == [{"input": {"orderId": f"gid://shopify/Order/{ORDER}", "returnLineItems": [
        {"fulfillmentLineItemId": "gid://shopify/FulfillmentLineItem/1025578643", "quantity": 1,
         "returnReasonDefinitionId": DAMAGED, "customerNote": "The seam came apart"}]}}]
    # What is on its way back is no longer returnable, even before Shopify's webhook arrives.
    assert get(server).json()["lines"][0]["returnable_quantity"] == 1


def test_the_same_request_submitted_again_is_one_request(delivered_order: datetime, server: httpx.Client,
                                                         fake_shopify: FakeShopify) -> None:
    first, again = post(server, [shirt()]), post(server, [shirt()])
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert len(mutations(fake_shopify)) == 1


def test_the_same_request_submitted_twice_at_once_sends_one_mutation(delivered_order: datetime,
                                                                     server: httpx.Client,
                                                                     fake_shopify: FakeShopify) -> None:
    fake_shopify.return_request_delay = 0.5
    answers: list[httpx.Response] = []
    threads = [threading.Thread(target=lambda: answers.append(post(server, [shirt()]))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 201]
    assert answers[0].json()["return"] == answers[1].json()["return"]
    assert len(mutations(fake_shopify)) == 1


def test_a_quantity_above_what_remains_is_refused_in_the_customers_language(
        delivered_order: datetime, server: httpx.Client, fake_shopify: FakeShopify) -> None:
    assert post(server, [shirt(quantity=1)]).status_code == 201
    refused = post(server, [shirt(quantity=2, note="both")], locale="nl")
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"line": 0, "field": "quantity",
                                         "message": "Je kunt hiervan maximaal 1 retourneren."}]
    assert len(mutations(fake_shopify)) == 1


def test_a_line_that_is_not_eligible_is_refused(delivered_order: datetime, server: httpx.Client,
                                                fake_shopify: FakeShopify, send_webhook: Send,
                                                drain: Callable[[], int]) -> None:
    product = fixture("products_update__basic") | {"id": 921728736, "tags": "final-sale",
                                                   "updated_at": iso(datetime.now(UTC))}
    send_webhook("products/update", product)
    drain()
    refused = post(server, [{"line_item_id": TOTE, "quantity": 1, "reason_id": DAMAGED}])
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["message"] == "This item can no longer be returned."
    assert post(server, [{"line_item_id": 1, "quantity": 1, "reason_id": DAMAGED}]).status_code == 422
    assert mutations(fake_shopify) == []


def test_an_unknown_reason_is_refused(delivered_order: datetime, server: httpx.Client,
                                      fake_shopify: FakeShopify) -> None:
    refused = post(server, [shirt(reason="gid://shopify/ReturnReasonDefinition/999")])
    assert (refused.status_code, refused.json()["errors"][0]["field"]) == (422, "reason_id")
    assert post(server, [shirt(reason="damaged")]).status_code == 400  # not a definition id at all
    assert mutations(fake_shopify) == []


def test_shopifys_user_errors_reach_the_customer_and_nothing_is_recorded(
        app: Flask, delivered_order: datetime, server: httpx.Client, fake_shopify: FakeShopify) -> None:
    fake_shopify.return_request_user_errors = [{"field": ["input"], "message": "Return window has expired.",
                                                "code": "INVALID"}]
    refused = post(server, [shirt()], locale="de")
    assert refused.status_code == 422
    assert refused.json()["error"] == "Die Rücksendeanfrage wurde nicht angenommen: Return window has expired."
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReturnRequest)) == 0
    assert get(server).json()["lines"][0]["returnable_quantity"] == 2
    assert post(server, [shirt()]).status_code == 201  # trying again is a new request


# ---- who may ask ------------------------------------------------------------------------------------

def test_another_customers_order_is_not_found(delivered_order: datetime, server: httpx.Client,
                                              fake_shopify: FakeShopify) -> None:
    stranger = customer_token(customer=999)
    assert get(server, stranger).status_code == 404
    assert post(server, [shirt()], stranger).status_code == 404
    assert mutations(fake_shopify) == []


def test_a_token_for_another_shop_reads_nothing_here(delivered_order: datetime, server: httpx.Client,
                                                     fake_shopify: FakeShopify) -> None:
    other = customer_token(shop="other-shop.myshopify.com")
    assert get(server, other).status_code == 404
    assert post(server, [shirt()], other).status_code == 404
    assert mutations(fake_shopify) == []


@pytest.mark.parametrize("token", [
    pytest.param(lambda: customer_token(lifetime=60, issued_ago=600), id="expired"),
    pytest.param(lambda: customer_token(secret="another-app-secret-0000000000000000"), id="signed by another app"),
    pytest.param(lambda: "not-a-token", id="garbage"),
])
def test_a_bad_token_is_refused(delivered_order: datetime, server: httpx.Client, fake_shopify: FakeShopify,
                                token: Callable[[], str]) -> None:
    assert get(server, token()).status_code == 401
    assert post(server, [shirt()], token()).status_code == 401
    assert server.get(f"/api/customer/orders/{ORDER}/returns").status_code == 401
    assert mutations(fake_shopify) == []


def test_a_malformed_request_is_refused(delivered_order: datetime, server: httpx.Client) -> None:
    headers = {"Authorization": f"Bearer {customer_token()}"}
    for body in ({}, {"lines": []}, {"lines": [{"line_item_id": "x", "quantity": 1, "reason_id": DAMAGED}]},
                 {"lines": [shirt(quantity=0)]}, {"lines": [shirt(note="x" * 301)]}):
        response = server.post(f"/api/customer/orders/{ORDER}/returns", headers=headers, json=body)
        assert response.status_code == 400, body


def test_the_extension_may_call_across_origins(server: httpx.Client) -> None:
    preflight = server.options(f"/api/customer/orders/{ORDER}/returns",
                               headers={"Origin": "https://extensions.shopifycdn.com"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]


def test_a_request_whose_submit_died_midway_can_be_made_again(app: Flask, delivered_order: datetime,
                                                              server: httpx.Client, fake_shopify: FakeShopify) -> None:
    from cxplugin.models import Order, Shop
    from cxplugin.returns.requests import RequestedLine, _request_key

    with app.app_context():  # a claim left "sending" ten minutes ago by a worker that died
        shop = db.session.scalars(sa.select(Shop)).one()
        order = db.session.scalars(sa.select(Order).where(Order.shopify_id == ORDER)).one()
        key = _request_key(shop, order, CUSTOMER, [RequestedLine(SHIRT, 1, DAMAGED, "The seam came apart")])
        db.session.add(ReturnRequest(shop_id=shop.id, order_shopify_id=ORDER, customer_id=CUSTOMER, request_key=key,
                                     status="sending", lines=[], created_at=datetime.now(UTC) - timedelta(minutes=10)))
        db.session.commit()
    response = post(server, [shirt()])
    assert response.status_code == 201, response.text
    assert len(mutations(fake_shopify)) == 1


def test_shopify_out_of_reach_answers_502_and_records_nothing(app: Flask, delivered_order: datetime,
                                                              server: httpx.Client, fake_shopify: FakeShopify) -> None:
    fake_shopify.fail_next_graphql = 401
    response = post(server, [shirt()])
    assert response.status_code == 502
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReturnRequest)) == 0
    assert mutations(fake_shopify) == []
