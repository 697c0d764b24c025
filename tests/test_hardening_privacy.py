"""Privacy hardening: compliance webhooks act on the shop their signed body names, an erased customer
leaves nothing personal behind (raw payloads, scan messages, outbox mail, survey hashes, logs), raw
payloads are purged after the retention period, and a cart's promise is taken only when the settings
could have made it."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import importlib.util
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from cxplugin import create_app, privacy
from cxplugin.extensions import db
from cxplugin.logs import JsonFormatter
from cxplugin.models import (
    EventStatus,
    Order,
    OutboxMessage,
    SettingsVersion,
    ShipmentStatusEvent,
    Shop,
    Suppression,
    Survey,
    SurveyStatus,
    WebhookEvent,
)
from cxplugin.shops.settings import current, merge
from cxplugin.tasks import purge_old_webhook_payloads, send_alert_batches
from cxplugin.webhooks import processing
from tests.conftest import Send
from tests.shopify_signing import SHOP, fixture, session_token
from tests.test_order_state import LIFE, ORDER_ID, play

CUSTOMER_ID = fixture("customers_redact__basic")["customer"]["id"]

OTHER = "other-shop.myshopify.com"


def shops(app: Flask) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(sa.select(Shop.domain)))


def recorded_topics(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(WebhookEvent.topic).order_by(WebhookEvent.id)))


# ---------------------------------------------------------------- the shop of a compliance webhook

@pytest.mark.parametrize(("topic", "name"), [("shop/redact", "shop_redact__basic"),
                                             ("customers/redact", "customers_redact__basic"),
                                             ("customers/data_request", "customers_data_request__basic")])
def test_a_compliance_webhook_whose_body_names_another_shop_is_refused_and_not_recorded(
        app: Flask, shop: str, runner: FlaskCliRunner, send_webhook: Send, drain: Callable[[], int],
        topic: str, name: str) -> None:
    runner.invoke(args=["cx", "shops", "add", OTHER, "--token", "shpat_other"])
    body = fixture(name)
    assert body["shop_domain"] == SHOP
    response = send_webhook(topic, body, shop=OTHER)  # the unsigned header names the other shop
    assert response.status_code == 400
    assert "shop_domain" in response.get_json()["message"]
    drain()
    assert recorded_topics(app) == []
    assert shops(app) == [SHOP, OTHER]


def test_shop_redact_erases_the_shop_the_signed_body_and_header_agree_on(
        app: Flask, shop: str, runner: FlaskCliRunner, send_webhook: Send, drain: Callable[[], int]) -> None:
    runner.invoke(args=["cx", "shops", "add", OTHER, "--token", "shpat_other"])
    body: dict[str, Any] = {**fixture("shop_redact__basic"), "shop_domain": OTHER}
    assert send_webhook("shop/redact", body, shop="other-shop").status_code == 200  # handle or full domain
    drain()
    assert shops(app) == [SHOP]


# ---------------------------------------------------------------- an erased customer leaves nothing behind

def events_by_id(app: Flask) -> dict[str, WebhookEvent]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(WebhookEvent)))
        db.session.expunge_all()
    return {e.event_id: e for e in rows}


def personal(payload: str) -> bool:
    return any(s in payload for s in ("ada@example.com", "Lovelace", "228 W 29th St", "555-625-1199"))


def test_customers_redact_erases_every_payload_that_names_the_customer_whatever_became_of_it(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int]) -> None:
    unreadable = fixture("orders_create__basic")
    unreadable["line_items"][0]["quantity"] = "two"  # intake's quick check passes, the worker's schema fails
    send_webhook("orders/create", unreadable, event_id="failed")
    send_webhook("customers/update", {"id": CUSTOMER_ID, "email": "Ada@Example.com"}, event_id="ignored")
    someone_else = json.loads(json.dumps(fixture("orders_create__basic")).replace(str(ORDER_ID), "5550001")
                              .replace(str(CUSTOMER_ID), "42").replace("ada@example.com", "grace@example.com"))
    someone_else["line_items"][0]["quantity"] = "two"
    send_webhook("orders/create", someone_else, event_id="someone-else")
    drain()
    send_webhook("orders/updated", "orders_updated__basic", event_id="pending")  # not yet processed
    send_webhook("customers/redact", "customers_redact__basic", event_id="redact")
    with app.app_context():
        redact_id = db.session.scalar(sa.select(WebhookEvent.id).where(WebhookEvent.event_id == "redact"))
        assert processing.process_event(redact_id).status == EventStatus.DONE
    drain()

    events = events_by_id(app)
    assert (events["failed"].status, events["ignored"].status) == (EventStatus.FAILED, EventStatus.IGNORED)
    for name in ("failed", "ignored", "pending"):
        assert events[name].payload == privacy.REDACTED_PAYLOAD, name
    # A payload waiting for the worker is not processed after the erasure: it would bring the customer back.
    assert events["pending"].status == EventStatus.IGNORED
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0
    # The redaction keeps the record of what it erased, by ids only.
    assert json.loads(events["redact"].payload) == {
        "shop_id": 548380009, "shop_domain": SHOP, "customer": {"id": CUSTOMER_ID},
        "orders_to_redact": [ORDER_ID]}
    # Another customer's payload is not touched.
    assert "grace@example.com" in events["someone-else"].payload


def test_customers_redact_clears_carrier_scan_texts_and_keeps_status_time_and_country(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int]) -> None:
    scan = {**fixture("fulfillment_events_create__delivered"), "id": 999,
            "message": "Delivered: handed to Ada Lovelace, 228 W 29th St Apt 4B"}
    play(send_webhook, drain, LIFE)
    send_webhook("fulfillment_events/create", scan, event_id="scan-999")
    drain()
    send_webhook("customers/redact", "customers_redact__basic")
    drain()
    late = {**scan, "id": 1000, "message": "Signed for by A. Lovelace"}
    send_webhook("fulfillment_events/create", late, event_id="scan-1000")
    drain()
    with app.app_context():
        history = db.session.execute(sa.select(ShipmentStatusEvent.message, ShipmentStatusEvent.status,
                                               ShipmentStatusEvent.happened_at, ShipmentStatusEvent.country)).all()
    assert len(history) == 5
    assert all(message is None for message, *_ in history)
    assert all(status and happened_at and country == "US" for _, status, happened_at, country in history)


def test_customers_redact_forgets_the_address_hash_of_the_survey_but_honours_the_unsubscribe(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int]) -> None:
    play(send_webhook, drain, LIFE)
    with app.app_context():
        survey = db.session.scalars(sa.select(Survey)).one()
        assert survey.email_hash is not None
        db.session.add(Suppression(shop_id=survey.shop_id, email_hash=survey.email_hash))
        db.session.commit()
    send_webhook("customers/redact", "customers_redact__basic")
    drain()
    with app.app_context():
        assert db.session.scalars(sa.select(Survey.email_hash)).all() == [None]
        # The customer said "no more surveys": that stays true after the erasure (README, Privacy).
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Suppression)) == 1


def test_the_address_hash_is_keyed_so_guessing_addresses_does_not_reverse_it(
        app: Flask, config: dict[str, Any], shop: str, send_webhook: Send, drain: Callable[[], int]) -> None:
    play(send_webhook, drain, LIFE)
    with app.app_context():
        survey = db.session.scalars(sa.select(Survey)).one()
        shop_id, held = survey.shop_id, survey.email_hash
    assert held != hashlib.sha256(f"{shop_id}:ada@example.com".encode()).hexdigest()
    key = config["CX_EMAIL_HASH_KEY"].encode()
    assert held == hmac.new(key, f"{shop_id}:ada@example.com".encode(), hashlib.sha256).hexdigest()
    other = create_app({**config, "CX_EMAIL_HASH_KEY": "another-instance-key-of-32-characters-or-more"})
    with other.app_context():
        assert privacy.email_hash(shop_id, "Ada@Example.com ") != held


def test_a_short_address_hash_key_stops_the_app_at_start(config: dict[str, Any]) -> None:
    with pytest.raises(RuntimeError, match="CX_EMAIL_HASH_KEY"):
        create_app({**config, "CX_EMAIL_HASH_KEY": "short"})


def _answered_survey_with_pending_alert(app: Flask, comment: str) -> None:
    with app.app_context():
        shop_row = db.session.scalars(sa.select(Shop)).one()
        data = merge(current(shop_row), {"surveys": {"alert_email": "owner@shop.example"}})
        version = db.session.scalar(sa.select(sa.func.max(SettingsVersion.version))) or 0
        db.session.add(SettingsVersion(shop_id=shop_row.id, version=version + 1, data=data,
                                       effective_from=datetime.now(UTC)))
        survey = db.session.scalars(sa.select(Survey)).one()
        survey.status, survey.csat, survey.comment = SurveyStatus.ANSWERED, 1, comment
        survey.answered_at, survey.alert_state = datetime.now(UTC), "pending"
        db.session.commit()


def outbox_texts(app: Flask) -> list[tuple[str, str]]:
    with app.app_context():
        messages = list(db.session.scalars(sa.select(OutboxMessage)))
        return [(m.recipient, "\n".join(part.get_content() for part in
                                         email.message_from_string(m.raw, policy=email.policy.default).walk()
                                         if part.get_content_maintype() == "text")) for m in messages]


def test_customers_redact_deletes_kept_alert_mail_that_quotes_the_customer(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int]) -> None:
    play(send_webhook, drain, LIFE)
    _answered_survey_with_pending_alert(app, "I am Ada Lovelace, call me on 555-625-1199")
    send_alert_batches.call_local()
    [(recipient, text)] = outbox_texts(app)
    assert recipient == "owner@shop.example" and "555-625-1199" in text  # the merchant's alert, kept
    with app.app_context():  # and a kept mail about another order stays
        db.session.add(OutboxMessage(shop_id=db.session.scalars(sa.select(Shop.id)).one(),
                                     recipient="owner@shop.example", subject="About #10010",
                                     message_id="<other@x>", raw="Subject: About #10010\n\nOrder #10010: CSAT 5\n"))
        db.session.commit()
    send_webhook("customers/redact", "customers_redact__basic")
    drain()
    assert [text for _, text in outbox_texts(app)] == ["Order #10010: CSAT 5\n"]


def test_log_lines_never_carry_an_email_address() -> None:
    record = logging.LogRecord("cxplugin", logging.WARNING, __file__, 1, "survey mail failed", None, None)
    record.fields = {"error": "SMTPRecipientsRefused: {'Ada.Lovelace+shop@Example.co.uk': (550, b'<x@y.example>')}",
                     "shop": SHOP}
    line = JsonFormatter().format(record)
    assert "@" not in line.replace(SHOP, "")
    assert json.loads(line)["error"] == "SMTPRecipientsRefused: {'<e-mail>': (550, b'<<e-mail>>')}"
    assert json.loads(line)["shop"] == SHOP


# ---------------------------------------------------------------- retention of raw payloads

@pytest.fixture
def config(base_config: dict[str, Any]) -> dict[str, Any]:
    return {**base_config, "CX_PAYLOAD_RETENTION_DAYS": 30}


def test_raw_payloads_are_purged_once_processed_longer_ago_than_the_retention_period(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int]) -> None:
    unreadable = fixture("orders_create__basic")
    unreadable["line_items"][0]["quantity"] = "two"
    send_webhook("orders/create", unreadable, event_id="old-failed")
    send_webhook("orders/updated", "orders_updated__basic", event_id="old-done")
    send_webhook("customers/update", {"id": 1}, event_id="old-ignored")
    send_webhook("orders/updated", "orders_updated__basic", event_id="recent-done")
    drain()
    send_webhook("orders/updated", "orders_updated__basic", event_id="old-pending")
    long_ago, lately = datetime.now(UTC) - timedelta(days=31), datetime.now(UTC) - timedelta(days=29)
    with app.app_context():
        for event_id, received, processed in [("old-failed", long_ago, None), ("old-done", long_ago, long_ago),
                                              ("old-ignored", long_ago, None), ("old-pending", long_ago, None),
                                              ("recent-done", long_ago, lately)]:
            db.session.execute(sa.update(WebhookEvent).where(WebhookEvent.event_id == event_id)
                               .values(received_at=received, processed_at=processed))
        db.session.commit()
    assert purge_old_webhook_payloads.call_local() == {"purged": 3, "retention_days": 30}
    events = events_by_id(app)
    assert {name for name, e in events.items() if e.payload == privacy.REDACTED_PAYLOAD} == {
        "old-failed", "old-done", "old-ignored"}
    assert personal(events["recent-done"].payload) and personal(events["old-pending"].payload)
    assert purge_old_webhook_payloads.call_local()["purged"] == 0


# ---------------------------------------------------------------- address hashes made before the key

def _migration() -> Any:
    path = Path(__file__).parent.parent / "migrations" / "versions" / "0007_hardening.py"
    spec = importlib.util.spec_from_file_location("hardening_0007", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_rekeys_plain_address_hashes_and_keeps_the_unsubscribes_it_can(
        app: Flask, shop: str, client: FlaskClient, send_webhook: Send, drain: Callable[[], int]) -> None:
    play(send_webhook, drain, LIFE)
    with app.app_context():
        survey = db.session.scalars(sa.select(Survey)).one()
        keyed = survey.email_hash
        plain = hashlib.sha256(f"{survey.shop_id}:ada@example.com".encode()).hexdigest()
        survey.email_hash = plain  # as the app made them before
        db.session.add_all([Suppression(shop_id=survey.shop_id, email_hash=plain),
                            Suppression(shop_id=survey.shop_id, email_hash="0" * 64)])  # address unknown now
        db.session.commit()
        migration = _migration()
        with db.engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
            migration._rehash_addresses(migration._keyed_hash)
        assert db.session.scalars(sa.select(Survey.email_hash)).all() == [keyed]
        assert db.session.scalars(sa.select(Suppression.email_hash)).all() == [keyed]
    order = client.get(f"/api/admin/orders/{ORDER_ID}", headers={"Authorization": f"Bearer {session_token()}"})
    assert order.status_code == 200


# ---------------------------------------------------------------- the cart's promise, written by the shopper's browser

def order_showing(promise: dict[str, Any] | str, **extra: str) -> dict[str, Any]:
    """The basic order (placed Fri 20 Nov 10:15 New York, to NY) with this cart promise and attributes."""
    order = fixture("orders_create__basic")
    value = promise if isinstance(promise, str) else json.dumps(promise)
    order["note_attributes"] = [{"name": "_cx_promise", "value": value},
                                *({"name": k, "value": v} for k, v in extra.items())]
    return order


def held(client: FlaskClient) -> dict[str, Any]:
    response = client.get(f"/api/admin/orders/{ORDER_ID}", headers={"Authorization": f"Bearer {session_token()}"})
    assert response.status_code == 200
    order: dict[str, Any] = response.get_json()
    return order


def test_a_cart_promise_the_settings_could_not_have_made_is_refused_for_the_computed_one(
        shop: str, client: FlaskClient, send_webhook: Send, drain: Callable[[], int],
        caplog: pytest.LogCaptureFixture) -> None:
    send_webhook("orders/create", order_showing({"earliest": "2000-01-01", "latest": "2099-12-31"}))
    logger = logging.getLogger("cxplugin")
    logger.addHandler(caplog.handler)  # the app's logger does not propagate to the root that caplog watches
    try:
        drain()
    finally:
        logger.removeHandler(caplog.handler)
    # What the default settings promised on Fri 20 Nov 10:15: 25 Nov – 1 Dec (Thanksgiving skipped).
    promise = held(client)["promise"]
    assert (promise["earliest"], promise["latest"], promise["source"], promise["rule"]) == (
        "2026-11-25", "2026-12-01", "computed", "zone:Domestic")
    refused = [r.fields for r in caplog.records if r.getMessage().startswith("cart promise refused")]  # type: ignore[attr-defined]
    assert [(r["order_id"], r["shown"]) for r in refused] == [(ORDER_ID, ["2000-01-01", "2099-12-31"])]


def test_a_cart_promise_given_the_day_before_and_held_until_the_order_is_kept(
        shop: str, client: FlaskClient, send_webhook: Send, drain: Callable[[], int]) -> None:
    # Thu 19 Nov 11:15, before the 14:00 cutoff, the block showed 24–30 Nov; the order came the next morning.
    send_webhook("orders/create", order_showing({"earliest": "2026-11-24", "latest": "2026-11-30"}))
    drain()
    promise = held(client)["promise"]
    assert (promise["earliest"], promise["latest"], promise["source"]) == ("2026-11-24", "2026-11-30", "storefront")


def test_a_cart_promise_older_than_its_validity_is_refused(
        shop: str, client: FlaskClient, send_webhook: Send, drain: Callable[[], int]) -> None:
    # 23 Nov could only be promised before Thu 19 Nov 10:15, more than a day before the order.
    send_webhook("orders/create", order_showing({"earliest": "2026-11-23", "latest": "2026-11-30"}))
    drain()
    assert held(client)["promise"]["source"] == "computed"


def test_redaction_keeps_only_the_dates_of_the_cart_promise_and_no_other_app_attribute(
        shop: str, client: FlaskClient, send_webhook: Send, drain: Callable[[], int]) -> None:
    shown = {"earliest": "2026-11-26", "latest": "2026-11-30", "who": "Ada Lovelace, 555-625-1199"}
    send_webhook("orders/create", order_showing(shown, _cx_gift_message="To Ada Lovelace, 228 W 29th St Apt 4B"))
    drain()
    send_webhook("customers/redact", "customers_redact__basic")
    drain()
    order = held(client)
    assert order["note_attributes"] == {"_cx_promise": '{"earliest": "2026-11-26", "latest": "2026-11-30"}'}
    assert (order["promise"]["earliest"], order["promise"]["latest"]) == ("2026-11-26", "2026-11-30")


def test_redaction_drops_a_cart_promise_it_cannot_read(
        shop: str, client: FlaskClient, send_webhook: Send, drain: Callable[[], int]) -> None:
    send_webhook("orders/create", order_showing("Ada Lovelace, 228 W 29th St"))
    drain()
    send_webhook("customers/redact", "customers_redact__basic")
    drain()
    assert held(client)["note_attributes"] == {}
