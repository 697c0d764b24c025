"""Every order carries the promise it was made under; a delivered order is on time or late by N days."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from cxplugin.promise.punctuality import judge, order_delivered_at
from tests.conftest import Send
from tests.shopify_signing import fixture, session_token
from tests.test_order_state import LIFE, ORDER_ID, play


def held_promise(client: FlaskClient) -> dict[str, Any]:
    response = client.get(f"/api/admin/orders/{ORDER_ID}", headers={"Authorization": f"Bearer {session_token()}"})
    assert response.status_code == 200
    promise: dict[str, Any] = response.get_json()["promise"]
    return promise


def order_without_shown_promise() -> dict[str, Any]:
    order = fixture("orders_create__basic")
    order["note_attributes"] = [a for a in order["note_attributes"] if a["name"] != "_cx_promise"]
    return order


def test_the_promise_the_shopper_saw_is_kept_and_judged(shop: str, client: FlaskClient, send_webhook: Send,
                                                        drain: Callable[[], int]) -> None:
    play(send_webhook, drain, LIFE)  # shown 26–30 Nov, delivered 24 Nov 15:30 New York time
    assert held_promise(client) == {"earliest": "2026-11-26", "latest": "2026-11-30", "source": "storefront",
                                    "rule": None, "delivered_on": "2026-11-24", "kept": True, "days_late": 0}


def test_a_parcel_after_the_latest_date_is_late_by_the_days_past_it(shop: str, client: FlaskClient,
                                                                     send_webhook: Send,
                                                                     drain: Callable[[], int]) -> None:
    # Placed Fri 13 Nov 10:15 New York: the default settings promised 18–23 Nov then, 17–20 Nov a day before,
    # so a cart could have shown 20–22 Nov; delivered Tue 24 Nov.
    order = {**fixture("orders_create__basic"), "created_at": "2026-11-13T10:15:00-05:00"}
    for attribute in order["note_attributes"]:
        if attribute["name"] == "_cx_promise":
            attribute["value"] = json.dumps({"earliest": "2026-11-20", "latest": "2026-11-22"})
    send_webhook("orders/create", order, triggered_at="2026-11-13T15:15:01Z")
    drain()
    play(send_webhook, drain, LIFE[2:])
    promise = held_promise(client)
    assert (promise["kept"], promise["days_late"]) == (False, 2)


def test_without_a_shown_promise_the_settings_in_force_at_creation_decide(
        shop: str, client: FlaskClient, send_webhook: Send, drain: Callable[[], int]) -> None:
    # Settings saved today came after the order (placed Fri 20 Nov 10:15 New York), so the defaults judge it:
    # cutoff 14:00 → processing starts Fri 20; 1–2 dispatch days → Mon 23 / Tue 24;
    # 2–4 carrier days, Thanksgiving (Thu 26) skipped → Wed 25 / Tue 1 Dec.
    put = client.put("/api/admin/settings", json={"promise": {"processing_days": {"min": 5, "max": 9}}},
                     headers={"Authorization": f"Bearer {session_token()}"})
    assert put.status_code == 200
    send_webhook("orders/create", order_without_shown_promise())
    drain()
    promise = held_promise(client)
    assert (promise["earliest"], promise["latest"], promise["source"], promise["rule"]) == (
        "2026-11-25", "2026-12-01", "computed", "zone:Domestic")


def test_a_later_order_is_judged_by_the_newer_settings(shop: str, client: FlaskClient, send_webhook: Send,
                                                       drain: Callable[[], int]) -> None:
    client.put("/api/admin/settings", json={"promise": {"zones": [], "default_zone": None}},
               headers={"Authorization": f"Bearer {session_token()}"})
    order = order_without_shown_promise()
    order["created_at"] = order["updated_at"] = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    send_webhook("orders/create", order)
    drain()
    promise = held_promise(client)
    assert (promise["source"], promise["earliest"], promise["rule"]) == ("none", None, "not served")


@pytest.mark.parametrize(("delivered", "kept", "late"), [
    ("2026-11-30T23:59:00-05:00", True, 0),   # last minute of the promised day, shop-local
    ("2026-12-01T04:59:00+00:00", True, 0),   # still 30 Nov in New York
    ("2026-12-01T05:00:00+00:00", False, 1),  # 1 Dec in New York
    ("2026-12-04T12:00:00-05:00", False, 4),
])
def test_punctuality_is_judged_on_the_shops_calendar(delivered: str, kept: bool, late: int) -> None:
    verdict = judge(datetime.fromisoformat("2026-11-30").date(), datetime.fromisoformat(delivered),
                    "America/New_York")
    assert (verdict.kept, verdict.days_late) == (kept, late)


def test_an_order_is_delivered_when_its_last_shipment_is() -> None:
    first, last = datetime(2026, 11, 24, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC)
    assert order_delivered_at([first, last]) == last
    assert order_delivered_at([first, None]) is None
    assert order_delivered_at([]) is None
