"""POST /webhooks: verify, record once, answer fast — and refuse bad input without a trace.
The worker's dispatcher enqueues what intake recorded."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from cxplugin.extensions import db
from cxplugin.models import EventStatus, Order, WebhookEvent
from cxplugin.queue import huey
from cxplugin.tasks import process_webhook_event
from cxplugin.webhooks import recording
from cxplugin.webhooks.dispatch import dispatch_new_events
from cxplugin.webhooks.recording import Delivery
from tests.conftest import Send
from tests.shopify_signing import fixture, webhook_headers


def events(app: Flask) -> list[WebhookEvent]:
    with app.app_context():
        return list(db.session.scalars(sa.select(WebhookEvent).order_by(WebhookEvent.id)))


def test_signed_order_is_recorded_then_dispatched_and_not_processed_in_the_request(app: Flask, shop: str,
                                                                                 send_webhook: Send) -> None:
    response = send_webhook("orders/create", "orders_create__basic", event_id="evt-1",
                            triggered_at="2026-11-20T15:15:01.123456789Z")
    assert response.status_code == 200
    [event] = events(app)
    assert (event.topic, event.event_id, event.status, event.api_version) == ("orders/create", "evt-1", "pending",
                                                                              "2026-10")
    assert event.triggered_at is not None and event.triggered_at.isoformat() == "2026-11-20T15:15:01.123456+00:00"
    assert json.loads(event.payload)["id"] == fixture("orders_create__basic")["id"]
    assert event.dispatched_at is None and huey.pending_count() == 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0
        assert dispatch_new_events(process_webhook_event) == 1
        assert dispatch_new_events(process_webhook_event) == 0  # claimed once
    assert huey.pending_count() == 1


def test_missing_hmac_is_401_and_records_nothing(app: Flask, shop: str, client: FlaskClient) -> None:
    body = json.dumps(fixture("orders_create__basic")).encode()
    headers = webhook_headers("orders/create", body)
    del headers["X-Shopify-Hmac-Sha256"]
    assert client.post("/webhooks", data=body, headers=headers).status_code == 401
    assert events(app) == []


def test_wrong_hmac_is_401_and_records_nothing(app: Flask, shop: str, send_webhook: Send) -> None:
    assert send_webhook("orders/create", "orders_create__basic", secret="not-the-secret").status_code == 401
    assert events(app) == []


def test_tampered_body_is_401(app: Flask, shop: str, client: FlaskClient) -> None:
    body = json.dumps(fixture("orders_create__basic")).encode()
    headers = webhook_headers("orders/create", body)
    tampered = body.replace(b"ada@example.com", b"eve@example.com")
    assert client.post("/webhooks", data=tampered, headers=headers).status_code == 401
    assert events(app) == []


def test_lower_case_header_names_as_sent_over_http2_are_accepted(app: Flask, shop: str, send_webhook: Send) -> None:
    assert send_webhook("orders/create", "orders_create__basic", lower=True).status_code == 200
    assert len(events(app)) == 1


@pytest.mark.parametrize("rotation", ["old secret signs", "new secret signs"])
def test_both_secrets_are_accepted_during_rotation(config: dict[str, Any], rotation: str, request: Any) -> None:
    config["SHOPIFY_OLD_API_SECRET"] = "previous-secret"
    app: Flask = request.getfixturevalue("app")
    request.getfixturevalue("shop")
    send: Send = request.getfixturevalue("send_webhook")
    secret = "previous-secret" if rotation == "old secret signs" else config["SHOPIFY_API_SECRET"]
    assert send("orders/create", "orders_create__basic", secret=secret).status_code == 200
    assert len(events(app)) == 1


def test_unknown_shop_is_refused_with_404(app: Flask, send_webhook: Send) -> None:
    response = send_webhook("orders/create", "orders_create__basic", shop="stranger.myshopify.com")
    assert response.status_code == 404
    assert events(app) == []


def test_uninstalled_shop_gets_410_for_orders_but_compliance_still_lands(app: Flask, shop: str, send_webhook: Send,
                                                                        drain: Any) -> None:
    assert send_webhook("app/uninstalled", "app_uninstalled__basic").status_code == 200
    drain()
    assert send_webhook("orders/create", "orders_create__basic").status_code == 410
    assert send_webhook("customers/redact", "customers_redact__basic").status_code == 200
    assert [e.topic for e in events(app)] == ["app/uninstalled", "customers/redact"]


def test_compliance_webhook_for_a_shop_we_never_held_is_acknowledged(app: Flask, send_webhook: Send,
                                                                    drain: Any) -> None:
    payload = {**fixture("shop_redact__basic"), "shop_domain": "gone.myshopify.com"}
    assert send_webhook("shop/redact", payload, shop="gone.myshopify.com").status_code == 200
    drain()
    [event] = events(app)
    assert event.status == EventStatus.DONE


def test_non_json_body_with_valid_hmac_is_400(app: Flask, shop: str, send_webhook: Send) -> None:
    response = send_webhook("orders/create", b"{not json")
    assert response.status_code == 400
    assert "JSON" in response.get_json()["message"]
    assert events(app) == []


def test_json_that_is_not_an_object_is_400(app: Flask, shop: str, send_webhook: Send) -> None:
    assert send_webhook("orders/create", b"[1, 2, 3]").status_code == 400
    assert events(app) == []


def test_payload_missing_a_field_we_need_is_400(app: Flask, shop: str, send_webhook: Send) -> None:
    payload = fixture("fulfillments_update__delivered")
    del payload["order_id"]
    response = send_webhook("fulfillments/update", payload)
    assert response.status_code == 400
    assert "order_id" in response.get_json()["message"]
    assert events(app) == []


def test_missing_topic_header_is_400(app: Flask, shop: str, client: FlaskClient) -> None:
    body = json.dumps(fixture("orders_create__basic")).encode()
    headers = webhook_headers("orders/create", body)
    del headers["X-Shopify-Topic"]
    assert client.post("/webhooks", data=body, headers=headers).status_code == 400
    assert events(app) == []


def test_unknown_topic_is_200_recorded_as_ignored_and_not_enqueued(app: Flask, shop: str,
                                                                   send_webhook: Send) -> None:
    assert send_webhook("carts/update", {"id": 1, "token": "abc"}).status_code == 200
    [event] = events(app)
    assert event.status == EventStatus.IGNORED
    with app.app_context():
        assert dispatch_new_events(process_webhook_event) == 0
    assert huey.pending_count() == 0


def test_oversized_body_is_413_and_records_nothing(config: dict[str, Any], request: Any) -> None:
    config["CX_WEBHOOK_MAX_BYTES"] = 10_000
    app: Flask = request.getfixturevalue("app")
    request.getfixturevalue("shop")
    send: Send = request.getfixturevalue("send_webhook")
    payload = fixture("orders_create__basic")
    payload["note"] = "x" * 20_000
    assert send("orders/create", payload).status_code == 413
    assert events(app) == []


def test_get_is_not_allowed(client: FlaskClient) -> None:
    assert client.get("/webhooks").status_code == 405


def test_same_event_delivered_ten_times_concurrently_is_recorded_and_enqueued_once(app: Flask, shop: str) -> None:
    body = json.dumps(fixture("orders_create__basic")).encode()
    headers = webhook_headers("orders/create", body, event_id="evt-dup")
    statuses: list[int] = []
    barrier = threading.Barrier(10)

    def deliver() -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(client.post("/webhooks", data=body, headers=headers).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 10
    assert len(events(app)) == 1
    with app.app_context():
        assert dispatch_new_events(process_webhook_event) == 1
    assert huey.pending_count() == 1


def test_webhooks_arriving_together_are_each_recorded_once_and_each_told_so(app: Flask, shop: str) -> None:
    body = json.dumps(fixture("orders_create__basic")).encode()
    sends = [webhook_headers("orders/create", body, event_id=f"evt-{n % 20}") for n in range(40)]  # 20 twice
    answers: list[str] = []
    barrier = threading.Barrier(8)

    def deliver(batch: list[dict[str, str]]) -> None:
        client = app.test_client()
        barrier.wait()
        for headers in batch:
            response = client.post("/webhooks", data=body, headers=headers)
            assert response.status_code == 200
            answers.append(response.get_json()["message"])

    threads = [threading.Thread(target=deliver, args=(sends[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(e.event_id for e in events(app)) == sorted(f"evt-{n}" for n in range(20))
    assert (answers.count("Recorded."), answers.count("Already recorded.")) == (20, 20)


def test_a_delivery_queued_as_the_writer_lets_go_is_still_written(app: Flask, shop: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer found nothing left and is about to free its lane when another delivery queues, finds the
    lane taken and waits: the writer must look again after letting go, or that delivery waits forever."""
    with app.app_context():
        writer = recording._writer()
    body = json.dumps(fixture("orders_create__basic"))
    take_batch, found_nothing = writer._take_batch, threading.Event()

    def slow_to_let_go() -> list[Any]:
        batch = take_batch()
        if not batch and not found_nothing.is_set():
            found_nothing.set()
            time.sleep(0.3)  # the second delivery queues and finds the lane taken meanwhile
        return batch

    monkeypatch.setattr(writer, "_take_batch", slow_to_let_go)

    def deliver(event_id: str) -> threading.Thread:
        delivery = Delivery(shop_domain=shop, topic="orders/create", event_id=event_id, webhook_id=None,
                            api_version="2026-10", triggered_at=None, body=body)
        thread = threading.Thread(target=writer.insert_once, args=(delivery, EventStatus.PENDING), daemon=True)
        thread.start()
        return thread

    first = deliver("evt-first")
    assert found_nothing.wait(10)
    second = deliver("evt-second")
    first.join(10)
    second.join(10)
    assert not second.is_alive(), "the second delivery is still waiting for its answer"
    assert [e.event_id for e in events(app)] == ["evt-first", "evt-second"]


def test_redelivery_with_a_new_webhook_id_but_same_event_id_is_a_duplicate(app: Flask, shop: str,
                                                                          send_webhook: Send) -> None:
    first = send_webhook("orders/create", "orders_create__basic", event_id="evt-7")
    again = send_webhook("orders/create", "orders_create__basic", event_id="evt-7")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.get_json()["message"] == "Already recorded."
    assert len(events(app)) == 1


def test_database_down_gives_503_so_shopify_retries(config: dict[str, Any]) -> None:
    from cxplugin import create_app

    config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    client = create_app(config).test_client()
    body = json.dumps(fixture("orders_create__basic")).encode()
    response = client.post("/webhooks", data=body, headers=webhook_headers("orders/create", body))
    assert response.status_code == 503
    assert response.headers["Retry-After"]


def test_a_connection_lost_between_webhooks_is_replaced_and_the_webhook_recorded(app: Flask, shop: str,
                                                                                  send_webhook: Send) -> None:
    assert send_webhook("orders/create", "orders_create__basic", event_id="before").status_code == 200
    writer = app.extensions["cx_intake_writer"]
    [conn] = writer._idle
    conn.close()  # as a database restart leaves it: the intake connection is gone
    assert send_webhook("orders/create", "orders_create__basic", event_id="after").status_code == 200
    assert [e.event_id for e in events(app)] == ["before", "after"]


def test_a_write_the_database_refuses_gets_503_and_leaves_nothing(app: Flask, shop: str, send_webhook: Send) -> None:
    assert send_webhook("orders/create", "orders_create__basic", event_id="first").status_code == 200
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE webhook_events RENAME TO webhook_events_away"))
    try:
        response = send_webhook("orders/create", "orders_create__basic", event_id="second")
    finally:
        with app.app_context(), db.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE webhook_events_away RENAME TO webhook_events"))
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert [e.event_id for e in events(app)] == ["first"]


def test_when_the_database_cannot_be_reached_every_waiting_delivery_gets_503(app: Flask, shop: str,
                                                                             send_webhook: Send,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    assert send_webhook("orders/create", "orders_create__basic", event_id="first").status_code == 200
    writer = app.extensions["cx_intake_writer"]
    writer.close()  # no connection left to reuse

    def refused() -> None:  # fault injection: the database server is gone
        raise sa.exc.OperationalError("connect", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(writer, "_connect", refused)
    body = json.dumps(fixture("orders_create__basic")).encode()
    statuses: list[int] = []
    barrier = threading.Barrier(5)

    def deliver(n: int) -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(client.post("/webhooks", data=body,
                                    headers=webhook_headers("orders/create", body, event_id=f"down-{n}")).status_code)

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert statuses == [503] * 5
    assert [e.event_id for e in events(app)] == ["first"]
