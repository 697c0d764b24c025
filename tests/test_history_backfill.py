"""A new shop learns from its past: Shopify's bulk query over the last 12 months of fulfilled orders, its
bulk_operations/finish webhook, the JSONL import and the rebuilt learned promise."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from cxplugin.extensions import db
from cxplugin.models import HistoryBackfill, PastDelivery, PromiseModel
from cxplugin.promise import bulk_history
from tests.conftest import Send
from tests.fake_shopify import FakeShopify
from tests.shopify_signing import SHOP, session_token

NOW = datetime.now(UTC).replace(microsecond=0)
OTHER_SHOP = "other-shop.myshopify.com"


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {session_token()}"}


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def order(n: int, days_ago: float = 30, *, handed_off_after: timedelta = timedelta(hours=20),
          transit: timedelta | None = timedelta(days=3), only_a_delivered_scan: bool = False,
          status: str = "FULFILLED", province: str = "NY") -> dict[str, Any]:
    """An order as Shopify's Admin API holds it: placed ``days_ago``, one UPS parcel from Brooklyn."""
    placed = NOW - timedelta(days=days_ago)
    shipped = placed + handed_off_after
    delivered = shipped + transit if transit is not None else None
    events = [{"id": f"gid://shopify/FulfillmentEvent/{n}1", "status": "IN_TRANSIT", "happenedAt": iso(shipped)}]
    if delivered is not None:
        events.append({"id": f"gid://shopify/FulfillmentEvent/{n}2", "status": "DELIVERED",
                       "happenedAt": iso(delivered)})
    return {
        "id": f"gid://shopify/Order/{n}", "name": f"#{n}", "createdAt": iso(placed),
        "displayFulfillmentStatus": status,
        "shippingAddress": {"id": f"gid://shopify/MailingAddress/{n}", "countryCodeV2": "US",
                            "provinceCode": province, "zip": "10001"},
        "shippingLine": {"title": "Standard"},
        "fulfillments": [{
            "id": f"gid://shopify/Fulfillment/{n}", "createdAt": iso(shipped), "status": "SUCCESS",
            "deliveredAt": iso(delivered) if delivered is not None and not only_a_delivered_scan else None,
            "inTransitAt": iso(shipped), "location": {"id": "gid://shopify/Location/1", "name": "Brooklyn"},
            "trackingInfo": [{"company": "UPS", "number": f"1Z{n}", "url": None}], "events": events,
        }],
    }


@pytest.fixture
def config(base_config: dict[str, Any]) -> dict[str, Any]:
    # The fake serves its bulk files on this machine, over http.
    return {**base_config, "CX_ALLOW_PRIVATE_ALERT_HOOKS": True}


@pytest.fixture
def shopify(fake_shopify: FakeShopify, shop: str) -> Iterator[FakeShopify]:
    fake_shopify.add_shop(SHOP, access_token="shpat_test")
    yield fake_shopify


def backfill(runner: FlaskCliRunner, *args: str, shop: str = SHOP) -> tuple[int, str]:
    result = runner.invoke(args=["cx", "history", "backfill", "--shop", shop, *args])
    return result.exit_code, result.output


def finish(shopify: FakeShopify, send_webhook: Send, drain: Callable[[], int], *, shop: str = SHOP,
           **outcome: Any) -> dict[str, Any]:
    """Shopify finishes the shop's last bulk operation and tells the app; the worker runs what follows."""
    operation = shopify.bulk_operations_for(shop)[-1]
    payload = shopify.finish_bulk_operation(operation.id, **outcome)
    assert send_webhook("bulk_operations/finish", payload, shop=shop).status_code == 200
    drain()
    return payload


def held(app: Flask) -> tuple[list[PastDelivery], list[PromiseModel], HistoryBackfill]:
    with app.app_context():
        past = list(db.session.scalars(sa.select(PastDelivery).order_by(PastDelivery.order_ref)))
        models = list(db.session.scalars(sa.select(PromiseModel).order_by(PromiseModel.version)))
        row = db.session.scalars(sa.select(HistoryBackfill).order_by(HistoryBackfill.id.desc())).first()
        assert row is not None
        db.session.expunge_all()
        return past, models, row


# ---- the happy path -------------------------------------------------------------------------------------------

def test_a_backfill_reads_a_year_of_fulfilled_orders_and_the_learned_promise_counts_them(
        app: Flask, shopify: FakeShopify, runner: FlaskCliRunner, send_webhook: Send,
        drain: Callable[[], int]) -> None:
    for n in range(1, 31):
        shopify.add_order(SHOP, order(1000 + n, days_ago=10 + n * 10))
    shopify.add_order(SHOP, order(2001, days_ago=400))  # before the 12 months
    shopify.add_order(SHOP, order(2002, days_ago=20, status="UNFULFILLED"))

    code, output = backfill(runner)
    assert code == 0 and "Shopify is reading the past 12 months of orders" in output, output
    [operation] = shopify.bulk_operations_for(SHOP)
    assert f"created_at:>={bulk_history.since(NOW).isoformat()}" in operation.query
    assert "fulfillment_status:shipped" in operation.query
    assert held(app)[2].status == "running"

    finish(shopify, send_webhook, drain)

    past, models, row = held(app)
    assert len(past) == 30 and {p.source for p in past} == {"shopify"}
    first = next(p for p in past if p.order_ref == "1001")
    assert (first.country, first.region, first.zip, first.origin, first.carrier) == (
        "US", "NY", "10001", "Brooklyn", "UPS")
    assert first.placed_at == NOW - timedelta(days=20)
    assert first.delivered_at == NOW - timedelta(days=20) + timedelta(hours=20) + timedelta(days=3)
    assert (row.status, row.counts["orders"], row.counts["imported"]) == ("completed", 30, 30)
    [model] = models
    assert model.deliveries == 30
    assert "learned from 30 deliveries to US-NY by ups" in model.routes["US|NY|ups"]["explanation"]

    code, output = backfill(runner, "--status")
    assert code == 0 and output.startswith("Imported 30 deliveries from 30 past orders"), output


def test_a_new_install_subscribes_to_the_finish_and_starts_the_backfill(
        app: Flask, shopify: FakeShopify, drain: Callable[[], int]) -> None:
    from cxplugin.models import Shop
    from cxplugin.tasks import sync_shop_with_shopify

    with app.app_context():
        shop_id = db.session.scalars(sa.select(Shop.id)).one()
    sync_shop_with_shopify(shop_id)  # what the first load of the embedded app queues after an install
    drain()
    assert "BULK_OPERATIONS_FINISH" in {s.topic for s in shopify.subscriptions_for(SHOP)}
    [operation] = shopify.bulk_operations_for(SHOP)
    assert "fulfillment_status:shipped" in operation.query
    assert held(app)[2].operation_id == operation.id


def test_running_the_backfill_twice_imports_nothing_new(
        app: Flask, shopify: FakeShopify, runner: FlaskCliRunner, send_webhook: Send,
        drain: Callable[[], int]) -> None:
    for n in range(1, 11):
        shopify.add_order(SHOP, order(n, days_ago=n * 5))
    backfill(runner)
    finish(shopify, send_webhook, drain)
    code, output = backfill(runner)  # the first one is done: a second read starts
    assert code == 0 and len(shopify.bulk_operations_for(SHOP)) == 2
    finish(shopify, send_webhook, drain)

    past, models, row = held(app)
    assert len(past) == 10 and len(models) == 1  # nothing new: not learned again
    assert (row.status, row.counts["imported"], row.counts["already_held"]) == ("completed", 0, 10)
    assert backfill(runner, "--status")[1].startswith("Imported 0 deliveries from 10 past orders (10 already held")


def test_a_second_start_while_one_runs_asks_shopify_nothing(
        shopify: FakeShopify, runner: FlaskCliRunner) -> None:
    backfill(runner)
    code, output = backfill(runner)
    assert code == 0 and "Shopify is reading" in output
    assert len(shopify.bulk_operations_for(SHOP)) == 1


# ---- what goes wrong -----------------------------------------------------------------------------------------

def test_a_failed_operation_is_recorded_and_imports_nothing(
        app: Flask, client: FlaskClient, shopify: FakeShopify, runner: FlaskCliRunner, send_webhook: Send,
        drain: Callable[[], int]) -> None:
    for n in range(1, 6):
        shopify.add_order(SHOP, order(n))
    backfill(runner)
    payload = finish(shopify, send_webhook, drain, status="FAILED", error_code="INTERNAL_SERVER_ERROR")
    assert (payload["status"], payload["error_code"]) == ("failed", "internal_server_error")

    past, models, row = held(app)
    assert (past, models) == ([], [])
    assert (row.status, row.error) == ("failed", "internal_server_error")
    code, output = backfill(runner, "--status")
    assert code == 1
    assert "failed (internal_server_error); nothing was imported" in output
    assert f"cx history backfill --shop {SHOP}" in output
    shown = client.get("/api/admin/promise/learned", headers=auth()).get_json()["history_backfill"]
    assert (shown["status"], shown["error"], shown["counts"]) == ("failed", "internal_server_error", {})


def test_shopify_refusing_to_start_is_recorded_as_a_failure(
        app: Flask, shopify: FakeShopify, runner: FlaskCliRunner) -> None:
    shopify.bulk_user_errors = [{"field": None, "code": "LIMIT_REACHED",
                                 "message": "Too many bulk operations are running."}]
    code, output = backfill(runner)
    assert code == 1 and "Too many bulk operations are running." in output
    row = held(app)[2]
    assert (row.status, row.operation_id) == ("failed", None)


def test_partial_data_imports_the_complete_records_only_and_says_so(
        app: Flask, shopify: FakeShopify, runner: FlaskCliRunner, send_webhook: Send,
        drain: Callable[[], int]) -> None:
    for n in range(1, 11):
        shopify.add_order(SHOP, order(n, only_a_delivered_scan=False))
    backfill(runner)
    # Shopify timed out after four orders; the fourth line stops in the middle.
    finish(shopify, send_webhook, drain, status="FAILED", error_code="TIMEOUT", partial_lines=4)

    past, models, row = held(app)
    assert [p.order_ref for p in past] == ["1", "2", "3"]
    assert (row.status, row.error, row.counts["imported"]) == ("partial", "timeout", 3)
    assert models[0].deliveries == 3
    output = backfill(runner, "--status")[1]
    assert output.startswith("Shopify stopped early (timeout): only its complete records were read. "
                             "Imported 3 deliveries from 3 past orders"), output


def test_a_finish_for_an_unknown_or_another_shops_operation_changes_nothing(
        app: Flask, shopify: FakeShopify, runner: FlaskCliRunner, send_webhook: Send,
        drain: Callable[[], int]) -> None:
    shopify.add_order(SHOP, order(1))
    shopify.add_shop(OTHER_SHOP, access_token="shpat_other")
    shopify.add_order(OTHER_SHOP, order(2))
    assert runner.invoke(args=["cx", "shops", "add", OTHER_SHOP, "--token", "shpat_other"]).exit_code == 0
    backfill(runner)
    backfill(runner, shop=OTHER_SHOP)
    [mine], [theirs] = shopify.bulk_operations_for(SHOP), shopify.bulk_operations_for(OTHER_SHOP)

    unknown = {**shopify.finish_bulk_operation(mine.id), "admin_graphql_api_id": "gid://shopify/BulkOperation/999"}
    assert send_webhook("bulk_operations/finish", unknown).status_code == 200
    # The other shop's operation, announced as if it were this shop's.
    assert send_webhook("bulk_operations/finish", shopify.finish_bulk_operation(theirs.id)).status_code == 200
    drain()

    with app.app_context():
        rows = db.session.scalars(sa.select(HistoryBackfill).order_by(HistoryBackfill.id)).all()
        assert [r.status for r in rows] == ["running", "running"]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PastDelivery)) == 0
    assert [c.operation_name for c in shopify.graphql_calls].count("HistoryBackfillOperation") == 0


def test_a_malformed_line_is_counted_and_the_other_orders_imported(
        app: Flask, shopify: FakeShopify, runner: FlaskCliRunner, send_webhook: Send,
        drain: Callable[[], int]) -> None:
    for n in range(1, 6):
        shopify.add_order(SHOP, order(n))
    backfill(runner)
    finish(shopify, send_webhook, drain,
           edit_lines=lambda lines: [lines[0], '{"id": "gid://shopify/Order/2", "createdAt": ', *lines[2:]])

    past, _, row = held(app)
    assert [p.order_ref for p in past] == ["1", "3", "4", "5"]
    assert (row.status, row.counts["malformed"], row.counts["imported"]) == ("completed", 1, 4)
    assert "1 unreadable" in backfill(runner, "--status")[1]


def test_orders_never_delivered_or_delivered_before_their_hand_off_are_counted_not_learned(
        app: Flask, shopify: FakeShopify, runner: FlaskCliRunner, send_webhook: Send,
        drain: Callable[[], int]) -> None:
    shopify.add_order(SHOP, order(1))
    shopify.add_order(SHOP, order(2, transit=None))  # the carrier never reported a delivery
    shopify.add_order(SHOP, order(3, transit=None))
    shopify.add_order(SHOP, order(4, transit=timedelta(days=-2)))  # delivered before it was handed off
    # No deliveredAt, only a DELIVERED scan: a bulk query cannot read scans (a connection inside a list field).
    shopify.add_order(SHOP, order(5, only_a_delivered_scan=True))
    backfill(runner)
    finish(shopify, send_webhook, drain)

    past, _, row = held(app)
    assert [p.order_ref for p in past] == ["1"]
    assert row.counts == {"orders": 5, "imported": 1, "already_held": 0, "not_delivered": 3, "no_destination": 0,
                          "dropped": 1, "malformed": 0}
    output = backfill(runner, "--status")[1]
    assert "3 never marked delivered" in output and "1 with a delivery before their hand-off" in output


def test_the_finish_payload_is_checked_like_every_other_topic(send_webhook: Send, shop: str) -> None:
    answer = send_webhook("bulk_operations/finish", {"status": "completed", "type": "query"})
    assert answer.status_code == 400


# ---- reading the JSONL ---------------------------------------------------------------------------------------

def test_a_file_cut_in_its_last_line_keeps_the_records_before_it() -> None:
    lines = [json.dumps(order(1)) + "\n", json.dumps(order(2))[:40]]
    parsed = bulk_history.parse_jsonl(lines)
    assert parsed.truncated and parsed.malformed == 0
    assert [d.order_id for d in parsed.rows] == ["1"]


def test_the_backfill_query_keeps_to_shopifys_limits_on_bulk_queries(shopify: FakeShopify) -> None:
    # The fake refuses what Shopify refuses: a connection inside a list field (a fulfilment's events, say).
    from tests.fake_shopify import _bulk_query_problem

    assert _bulk_query_problem(shopify.schema, bulk_history.orders_query(NOW)) is None
    with_events = bulk_history.orders_query(NOW).replace(
        "trackingInfo { company }", "trackingInfo { company }\n events { edges { node { id status } } }")
    assert "connection field within a list field" in (_bulk_query_problem(shopify.schema, with_events) or "")


def test_a_child_line_is_not_taken_for_an_order() -> None:
    lines = [json.dumps(order(7)) + "\n",
             json.dumps({"id": "gid://shopify/FulfillmentEvent/1", "__parentId": "gid://shopify/Order/7"}) + "\n"]
    parsed = bulk_history.parse_jsonl(lines)
    assert [d.order_id for d in parsed.rows] == ["7"] and parsed.orders == 1 and parsed.malformed == 0


def test_the_year_before_a_leap_day_starts_on_the_28th() -> None:
    assert bulk_history.since(datetime(2028, 2, 29, 12, tzinfo=UTC)).isoformat() == "2027-02-28"
