"""Orders at risk end to end: signed webhooks in, the risk state recorded, the shopper's delay notice through a real
SMTP server, the discount code and the Flow triggers through the fake Admin API, and the merchant's list."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from cxplugin.extensions import db
from cxplugin.models import DelayNotice, FlowTrigger, Order, OrderRisk, RiskChange, Shop, Survey
from cxplugin.risk import checking, flow, notices
from cxplugin.shops import settings as shop_settings
from tests import smtp_sink
from tests.conftest import Send
from tests.fake_shopify import FakeShopify
from tests.shopify_signing import SHOP, fixture, session_token

ORDER_ID = 820982911946154508
NEW_YORK = ZoneInfo("America/New_York")


def daytime() -> datetime:
    """Noon today in the shop's time zone: inside its send window."""
    return datetime.combine(datetime.now(NEW_YORK).date(), time(12), tzinfo=NEW_YORK).astimezone(UTC)


def place(send: Send, drain: Callable[[], int], *, order_id: int = ORDER_ID, days_ago: float = 14,
          locale: str = "en", email: str = "ada@example.com") -> None:
    """An order placed ``days_ago`` days ago to New York; the shop's default settings promise it within about six
    business days (so after 14 days it is late, and placed today its promise is a week or more away)."""
    placed = datetime.now(UTC) - timedelta(days=days_ago)
    order = fixture("orders_create__basic")
    order.update(id=order_id, created_at=placed.isoformat(), updated_at=placed.isoformat(), customer_locale=locale,
                 email=email, contact_email=email, name=f"#{order_id % 10000}")
    order["customer"] = {**order["customer"], "email": email}
    order["note_attributes"] = [a for a in order["note_attributes"] if a["name"] != "_cx_promise"]
    assert send("orders/create", order, event_id=f"order-{order_id}").status_code == 200
    drain()


def ship(send: Send, drain: Callable[[], int], *, order_id: int = ORDER_ID, days_ago: float = 2,
         eta_in_days: int | None = None, status: str = "success") -> None:
    """The order's fulfilment, and (with ``eta_in_days``) a carrier scan carrying the carrier's estimate."""
    shipped = datetime.now(UTC) - timedelta(days=days_ago)
    fulfillment = fixture("fulfillments_create__basic")
    fulfillment.update(id=order_id + 1, order_id=order_id, created_at=shipped.isoformat(),
                       updated_at=(datetime.now(UTC) - timedelta(minutes=5)).isoformat(), status=status)
    topic = "fulfillments/create" if status == "success" else "fulfillments/update"
    assert send(topic, fulfillment, event_id=f"ful-{order_id}-{status}").status_code == 200
    if eta_in_days is not None:
        event = fixture("fulfillment_events_create__in_transit")
        event.update(id=order_id + 2, fulfillment_id=order_id + 1, order_id=order_id,
                     happened_at=(shipped + timedelta(minutes=30)).isoformat(),
                     estimated_delivery_at=(datetime.now(UTC) + timedelta(days=eta_in_days)).isoformat())
        assert send("fulfillment_events/create", event, event_id=f"scan-{order_id}").status_code == 200
    drain()


def risk_of(app: Flask, order_id: int = ORDER_ID) -> tuple[str, list[str]]:
    with app.app_context():
        order = db.session.scalars(sa.select(Order).where(Order.shopify_id == order_id)).one()
        risk = db.session.scalars(sa.select(OrderRisk).where(OrderRisk.order_id == order.id)).one()
        changes = db.session.scalars(sa.select(RiskChange.state).where(RiskChange.order_id == order.id)
                                     .order_by(RiskChange.id)).all()
        return risk.state, list(changes)


def notices_of(app: Flask, order_id: int = ORDER_ID) -> list[DelayNotice]:
    with app.app_context():
        rows = db.session.scalars(sa.select(DelayNotice).join(Order, Order.id == DelayNotice.order_id)
                                  .where(Order.shopify_id == order_id).order_by(DelayNotice.id)).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def send_notices(app: Flask) -> dict[str, int]:
    with app.app_context():
        return notices.send_due(daytime())


def configure(app: Flask, **risk: Any) -> None:
    with app.app_context():
        shop_settings.update(db.session.scalars(sa.select(Shop)).one(), {"risk": risk})


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {session_token()}"}


# ---- the risk state -------------------------------------------------------------------------------------

def test_a_promise_passed_without_delivery_is_late_and_recorded_once_however_often_checked(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int]) -> None:
    place(send_webhook, drain)
    for _ in range(3):
        with app.app_context():
            checking.check_all(datetime.now(UTC))
    assert risk_of(app) == ("late", ["late"])


def test_an_order_back_on_track_is_marked_so_once(app: Flask, shop: str, send_webhook: Send,
                                                  drain: Callable[[], int]) -> None:
    place(send_webhook, drain, days_ago=0.1)
    ship(send_webhook, drain, days_ago=0.05, eta_in_days=16)  # the carrier expects it after the promise
    assert risk_of(app) == ("carrier_eta_late", ["carrier_eta_late"])
    event = fixture("fulfillment_events_create__in_transit")
    event.update(id=ORDER_ID + 3, fulfillment_id=ORDER_ID + 1, order_id=ORDER_ID,
                 happened_at=(datetime.now(UTC) - timedelta(minutes=10)).isoformat(),
                 estimated_delivery_at=(datetime.now(UTC) + timedelta(days=3)).isoformat())
    send_webhook("fulfillment_events/create", event, event_id="scan-newer")
    drain()
    for _ in range(2):
        with app.app_context():
            checking.check_all(datetime.now(UTC))
    assert risk_of(app) == ("on_track", ["carrier_eta_late", "on_track"])


# ---- the shopper's delay notice -----------------------------------------------------------------------------

def test_a_late_order_gets_one_notice_in_english_through_smtp(
        app: Flask, shop: str, client: FlaskClient, send_webhook: Send, drain: Callable[[], int],
        sink: smtp_sink.Sink) -> None:
    place(send_webhook, drain)
    assert send_notices(app) == {"sent": 1}
    assert send_notices(app) == {"sent": 0}
    [mail] = sink.received
    assert str(mail.message["Subject"]).startswith("News about your order #4508 from ")
    text = mail.part("plain")
    assert "It has not reached you by the date we promised." in text
    assert "We are sorry for the wait." in text
    assert re.search(r"https://cx\.example\.test/u/notice/\S+", text)
    assert mail.message["List-Unsubscribe"]
    [notice] = notices_of(app)
    assert (notice.kind, notice.status) == ("late", "sent")
    risk = client.get(f"/api/admin/orders/{ORDER_ID}", headers=auth()).get_json()["risk"]
    assert (risk["state"], risk["shopper_notified"]) == ("late", True)  # the late order is marked as told


def test_a_hebrew_shopper_gets_the_carriers_new_date_right_to_left(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int], sink: smtp_sink.Sink) -> None:
    place(send_webhook, drain, days_ago=0.1, locale="he")
    ship(send_webhook, drain, days_ago=0.05, eta_in_days=16)
    assert send_notices(app) == {"sent": 1}
    [mail] = sink.received
    assert mail.message["Content-Language"] == "he"
    html = mail.part("html")
    assert 'dir="rtl"' in html and "חברת המשלוחים צופה כעת מסירה מאוחרת" in html
    assert "אנחנו צופים כעת שהיא תגיע ב-" in mail.part("plain")  # the new expected date is told


def test_notices_switched_off_for_a_kind_are_not_planned(app: Flask, shop: str, send_webhook: Send,
                                                         drain: Callable[[], int], sink: smtp_sink.Sink) -> None:
    configure(app, notices={"late": False})
    place(send_webhook, drain)
    assert send_notices(app) == {"sent": 0}
    assert notices_of(app) == [] and sink.received == []


def test_an_unsubscribed_shopper_gets_no_further_notice(
        app: Flask, shop: str, client: FlaskClient, send_webhook: Send, drain: Callable[[], int],
        sink: smtp_sink.Sink) -> None:
    place(send_webhook, drain)
    send_notices(app)
    path = re.search(r"https://cx\.example\.test(/u/notice/\S+)", sink.received[0].part("plain"))
    assert path
    assert client.get(path.group(1)).status_code == 200  # a scanner's GET unsubscribes nobody
    assert client.post(path.group(1)).status_code == 200
    place(send_webhook, drain, order_id=ORDER_ID + 100)
    assert send_notices(app) == {"sent": 0}
    assert [(n.status, n.skip_reason) for n in notices_of(app, ORDER_ID + 100)] == [("skipped", "unsubscribed")]
    assert len(sink.received) == 1


def test_a_tampered_unsubscribe_link_is_a_400(app: Flask, client: FlaskClient) -> None:
    assert client.post("/u/notice/not-a-token").status_code == 400


def test_a_shipment_cancelled_after_the_notice_was_planned_sends_nothing(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int], sink: smtp_sink.Sink) -> None:
    place(send_webhook, drain, days_ago=0.1)
    ship(send_webhook, drain, days_ago=0.05, eta_in_days=16)
    assert [n.status for n in notices_of(app)] == ["planned"]
    ship(send_webhook, drain, status="cancelled")
    assert send_notices(app) == {"sent": 0}
    assert [(n.status, n.skip_reason) for n in notices_of(app)] == [("skipped", "no_longer_at_risk")]
    assert sink.received == []


def test_an_order_redacted_while_at_risk_sends_nothing_and_leaves_the_list(
        app: Flask, shop: str, client: FlaskClient, send_webhook: Send, drain: Callable[[], int],
        sink: smtp_sink.Sink) -> None:
    place(send_webhook, drain)
    assert [o["order_id"] for o in client.get("/api/admin/at-risk", headers=auth()).get_json()["orders"]] == [
        ORDER_ID]
    assert send_webhook("customers/redact", "customers_redact__basic").status_code == 200
    drain()
    assert send_notices(app) == {"sent": 0}
    assert [n.status for n in notices_of(app)] == ["skipped"]
    assert client.get("/api/admin/at-risk", headers=auth()).get_json()["orders"] == []
    assert sink.received == []


# ---- the discount code ---------------------------------------------------------------------------------------

def test_the_notice_carries_a_single_use_code_created_once_even_when_the_job_runs_twice(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int], sink: smtp_sink.Sink,
        fake_shopify: FakeShopify) -> None:
    fake_shopify.add_shop(SHOP, access_token="shpat_test")
    configure(app, discount_percent=15)
    place(send_webhook, drain)
    [planned] = notices_of(app)
    # A run that created the code and died before recording it: the next run finds the code taken, keeps it.
    with app.app_context():
        notice = db.session.get_one(DelayNotice, planned.id)
        order = db.session.get_one(Order, notice.order_id)
        code = notices.discount_code_for(notice)
        notices.create_discount(db.session.get_one(Shop, notice.shop_id), order, code, 15, daytime())
    send_notices(app)
    send_notices(app)
    assert list(fake_shopify.discount_codes) == [code]
    created = fake_shopify.discount_codes[code]["input"]
    assert (created["usageLimit"], created["customerGets"]["value"]["percentage"]) == (1, 0.15)
    [mail] = sink.received
    assert code in mail.part("plain") and "15% off" in mail.part("plain")


def test_a_discount_that_cannot_be_created_holds_the_notice_back_and_is_retried(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int], sink: smtp_sink.Sink,
        fake_shopify: FakeShopify) -> None:
    fake_shopify.add_shop(SHOP, access_token="shpat_test")
    configure(app, discount_percent=10)
    place(send_webhook, drain)
    fake_shopify.flow_trigger_handles.clear()  # keep the Flow trigger out of this test's way
    fake_shopify.fail_next_graphql, fake_shopify.fail_graphql_times = 422, 1
    assert send_notices(app) == {"sent": 0}
    [held] = notices_of(app)
    assert (held.status, held.discount_code, held.attempts) == ("planned", None, 1)
    assert sink.received == [] and fake_shopify.discount_codes == {}
    assert send_notices(app) == {"sent": 1}
    [code] = fake_shopify.discount_codes
    assert code in sink.received[0].part("plain")


def test_the_claim_keeps_a_second_run_at_the_same_time_from_sending(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int], sink: smtp_sink.Sink) -> None:
    place(send_webhook, drain)
    [planned] = notices_of(app)
    with app.app_context():
        assert notices._claim(planned.id)  # the first run holds it, mid-send
        assert notices.send(planned.id, daytime()).result == "not_due"  # the second run, at the same time
    assert sink.received == []


# ---- Flow triggers --------------------------------------------------------------------------------------------

def _fields(repo_root: Path, extension: str) -> set[str]:
    toml = tomllib.loads((repo_root / "extensions" / extension / "shopify.extension.toml").read_text())
    return {f.get("key", "order_id") for f in toml["settings"]["fields"]}


def test_promise_at_risk_reaches_flow_once_with_the_extensions_fields(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int], fake_shopify: FakeShopify,
        repo_root: Path) -> None:
    fake_shopify.add_shop(SHOP, access_token="shpat_test")
    place(send_webhook, drain, days_ago=0.1)
    ship(send_webhook, drain, days_ago=0.05, eta_in_days=16)
    with app.app_context():
        assert flow.send_due(datetime.now(UTC)) == {"sent": 1}
        assert flow.send_due(datetime.now(UTC)) == {"sent": 0}
    [sent] = fake_shopify.flow_triggers
    eta = (datetime.now(UTC) + timedelta(days=16)).astimezone(NEW_YORK).date()
    assert sent["handle"] == "delivery-promise-at-risk"
    assert sent["payload"] == {"order_id": ORDER_ID, "Risk kind": "carrier_eta_late",
                               "New expected date": eta.isoformat()}
    assert set(sent["payload"]) == _fields(repo_root, "flow-promise-at-risk")


def test_an_unhappy_answer_reaches_flow_with_score_and_comment(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int], fake_shopify: FakeShopify,
        repo_root: Path) -> None:
    fake_shopify.add_shop(SHOP, access_token="shpat_test")
    configure(app, notices={"late": False})
    place(send_webhook, drain, days_ago=0.1)
    with app.app_context():
        order = db.session.scalars(sa.select(Order)).one()
        db.session.add(Survey(shop_id=order.shop_id, order_id=order.id, question="csat", basis="delivered",
                              due_at=datetime.now(UTC), status="answered", csat=1, comment="Box was crushed",
                              answered_at=datetime.now(UTC)))
        db.session.commit()
        assert flow.send_due(datetime.now(UTC)) == {"sent": 1}
        assert flow.send_due(datetime.now(UTC)) == {"sent": 0}
    [sent] = fake_shopify.flow_triggers
    assert sent["handle"] == "unhappy-customer"
    assert sent["payload"] == {"order_id": ORDER_ID, "Question": "csat", "Score": 1, "Comment": "Box was crushed"}
    assert set(sent["payload"]) == _fields(repo_root, "flow-unhappy-customer")


def test_a_flow_trigger_shopify_refuses_is_kept_and_tried_again(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int], fake_shopify: FakeShopify) -> None:
    fake_shopify.add_shop(SHOP, access_token="shpat_test")
    configure(app, notices={"late": False})
    fake_shopify.flow_trigger_handles.clear()  # not deployed yet
    place(send_webhook, drain)
    with app.app_context():
        assert flow.send_due(datetime.now(UTC)) == {"sent": 0}
        [trigger] = db.session.scalars(sa.select(FlowTrigger)).all()
        assert trigger.sent_at is None and "Invalid handle" in (trigger.last_error or "")
    fake_shopify.flow_trigger_handles.add("delivery-promise-at-risk")
    with app.app_context():
        assert flow.send_due(datetime.now(UTC)) == {"sent": 1}


# ---- the merchant's list ----------------------------------------------------------------------------------------

def test_the_at_risk_api_lists_the_order_with_what_to_do_and_takes_marks(
        app: Flask, shop: str, client: FlaskClient, send_webhook: Send, drain: Callable[[], int]) -> None:
    place(send_webhook, drain)
    body = client.get("/api/admin/at-risk", headers=auth()).get_json()
    [risk] = body["orders"]
    assert risk["kind"] == "late" and "Contact the carrier" in risk["actions"]
    assert risk["admin_url"] == f"https://admin.shopify.com/store/cx-test-shop/orders/{ORDER_ID}"
    assert set(body["late_with_vs_without_notice"]) == {"with_notice", "without_notice"}
    url = f"/api/admin/at-risk/orders/{ORDER_ID}/mark"
    assert client.put(url, json={"mark": "contacted"}, headers=auth()).status_code == 200
    assert client.get("/api/admin/at-risk", headers=auth()).get_json()["orders"][0]["mark"] == "contacted"
    assert client.put(url, json={"mark": "shipped"}, headers=auth()).status_code == 422
    assert client.put(url, data="mark", headers=auth()).status_code == 400
    assert client.put(f"/api/admin/at-risk/orders/{ORDER_ID + 5}/mark", json={"mark": "ignored"},
                      headers=auth()).status_code == 404
    assert client.get("/api/admin/at-risk").status_code == 401
    assert client.get("/api/admin/at-risk", headers=auth()).get_json()["orders"][0]["mark"] == "contacted"


def test_late_orders_are_scored_with_and_without_a_notice(app: Flask, shop: str) -> None:
    with app.app_context():
        shop_row = db.session.scalars(sa.select(Shop)).one()
        now = datetime.now(UTC)
        for n in range(12):
            order = Order(shop_id=shop_row.id, shopify_id=1000 + n, placed_at=now, promise_latest=date.today())
            db.session.add(order)
            db.session.flush()
            db.session.add(OrderRisk(shop_id=shop_row.id, order_id=order.id, state="delivered_late", reason="x",
                                     since=now, checked_at=now, closed=True))
            db.session.add(Survey(shop_id=shop_row.id, order_id=order.id, question="csat", basis="delivered",
                                  due_at=now, status="answered", csat=5 if n < 6 else 2, answered_at=now))
            if n < 6:
                db.session.add(DelayNotice(shop_id=shop_row.id, order_id=order.id, kind="late", status="sent",
                                           sent_at=now, attempts=0))
        db.session.commit()
        from cxplugin.risk.listing import late_with_vs_without_notice

        scores = late_with_vs_without_notice(shop_row)
    assert scores["with_notice"]["csat"] == {"answers": 6, "satisfied": 6, "rate": 1.0}
    assert scores["without_notice"]["csat"] == {"answers": 6, "satisfied": 0, "rate": 0.0}


@pytest.mark.parametrize("kind", ["late", "carrier_eta_late"])
def test_every_language_has_the_notice_text(kind: str) -> None:
    from cxplugin import i18n

    for locale in i18n.LOCALES:
        assert i18n.catalogue(locale)["delay_notice"][f"what_{kind}"]


def test_a_risk_that_changes_kind_before_the_daytime_sends_one_mail_about_what_holds_now(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int], sink: smtp_sink.Sink) -> None:
    place(send_webhook, drain, days_ago=0.1)
    ship(send_webhook, drain, days_ago=0.05, eta_in_days=16)
    with app.app_context():  # three weeks on, the promise has passed before any notice went out
        checking.check_all(datetime.now(UTC) + timedelta(days=21))
    assert send_notices(app) == {"sent": 1}
    assert [(n.kind, n.status, n.skip_reason) for n in notices_of(app)] == [
        ("carrier_eta_late", "skipped", "risk_changed"), ("late", "sent", None)]
    assert len(sink.received) == 1
