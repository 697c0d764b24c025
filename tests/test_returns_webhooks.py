"""Returns webhooks become data: each return's lines and reasons, a status that only moves forward, returns that
come before their order, and the figures under GET /api/admin/returns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from tests.conftest import Send
from tests.shopify_signing import fixture, session_token


def admin_returns(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/admin/returns", headers={"Authorization": f"Bearer {session_token()}"})
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def deliver_order(send_webhook: Send) -> None:
    assert send_webhook("orders/create", "orders_create__basic").status_code == 200
    assert send_webhook("fulfillments/update", "fulfillments_update__delivered").status_code == 200


def test_a_requested_return_keeps_its_lines_quantities_and_reason_handle(client: FlaskClient, shop: str,
                                                                         send_webhook: Send,
                                                                         drain: Callable[[], int]) -> None:
    deliver_order(send_webhook)
    assert send_webhook("returns/request", "returns_request__basic").status_code == 200
    drain()
    [held] = admin_returns(client)["returns"]
    assert (held["id"], held["order_id"], held["status"], held["order_known"]) == (
        945000954, 820982911946154508, "requested", True)
    assert held["lines"] == [{"line_item_id": 487817672276298554, "fulfillment_line_item_id": 1025578643,
                              "quantity": 1, "reason": "damaged", "note": "The seam came apart"}]


def test_a_return_status_only_moves_forward_whatever_order_the_webhooks_come_in(
        client: FlaskClient, shop: str, send_webhook: Send, drain: Callable[[], int]) -> None:
    deliver_order(send_webhook)
    send_webhook("returns/approve", "returns_approve__basic")
    send_webhook("returns/close", "returns_close__basic")
    drain()
    send_webhook("returns/request", "returns_request__basic")  # the request came last
    drain()
    [held] = admin_returns(client)["returns"]
    assert held["status"] == "closed"
    assert held["lines"][0]["reason"] == "damaged"  # the late request still brings the lines


def test_a_declined_return_stays_declined(client: FlaskClient, shop: str, send_webhook: Send,
                                          drain: Callable[[], int]) -> None:
    deliver_order(send_webhook)
    send_webhook("returns/request", "returns_request__basic")
    send_webhook("returns/decline", "returns_decline__basic")
    drain()
    send_webhook("returns/approve", "returns_approve__basic")
    drain()
    assert admin_returns(client)["returns"][0]["status"] == "declined"


def test_a_return_for_an_unknown_order_is_kept_and_applied_when_the_order_arrives(
        client: FlaskClient, shop: str, send_webhook: Send, drain: Callable[[], int]) -> None:
    assert send_webhook("returns/request", "returns_request__basic").status_code == 200
    drain()
    [waiting] = admin_returns(client)["returns"]
    assert (waiting["status"], waiting["order_known"]) == ("requested", False)
    deliver_order(send_webhook)
    drain()
    [linked] = admin_returns(client)["returns"]
    assert linked["order_known"] is True
    assert admin_returns(client)["summary"]["return_rate"]["on_time"] == {"orders": 1, "returned": 1, "rate": None}


def test_the_summary_splits_return_rate_by_punctuality_and_names_the_top_reasons(
        client: FlaskClient, shop: str, send_webhook: Send, drain: Callable[[], int]) -> None:
    # Six orders kept on time (delivered 24 Nov, promised by 30 Nov), two of them returned.
    for n in range(6):
        order = fixture("orders_create__basic") | {"id": 1000 + n}
        fulfillment = fixture("fulfillments_update__delivered") | {"id": 2000 + n, "order_id": 1000 + n}
        send_webhook("orders/create", order, event_id=f"o{n}")
        send_webhook("fulfillments/update", fulfillment, event_id=f"f{n}")
    for n in range(2):
        ret = fixture("returns_request__basic") | {"id": 3000 + n, "order": {"id": 1000 + n}}
        send_webhook("returns/request", ret, event_id=f"r{n}")
    drain()
    summary = admin_returns(client)["summary"]
    assert summary["return_rate"]["on_time"] == {"orders": 6, "returned": 2, "rate": 0.3333}
    assert summary["return_rate"]["late"] == {"orders": 0, "returned": 0, "rate": None}
    assert summary["top_reasons"] == [{"reason": "damaged", "items": 2}]


def test_the_returns_list_needs_a_session_token(client: FlaskClient, shop: str) -> None:
    assert client.get("/api/admin/returns").status_code == 401


def test_a_customers_redaction_erases_their_return_notes_but_keeps_quantities_and_reasons(
        client: FlaskClient, shop: str, send_webhook: Send, drain: Callable[[], int]) -> None:
    deliver_order(send_webhook)
    send_webhook("returns/request", "returns_request__basic")
    drain()
    send_webhook("customers/redact", "customers_redact__basic")
    drain()
    [line] = admin_returns(client)["returns"][0]["lines"]
    assert (line["note"], line["quantity"], line["reason"]) == (None, 1, "damaged")
