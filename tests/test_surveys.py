"""Post-delivery surveys end to end: delivered webhook → survey due → real SMTP → click → stored answer."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from cxplugin import mail
from cxplugin.extensions import db
from cxplugin.models import Order, Shipment, Suppression, Survey, SurveyStatus
from cxplugin.surveys import links, sending
from cxplugin.tasks import send_alert_batches
from tests import smtp_sink
from tests.conftest import Send
from tests.shopify_signing import fixture, session_token

ORDER_ID = fixture("orders_create__basic")["id"]


def deliver(send: Send, drain: Callable[[], int], *, days_ago: float = 3, order_id: int = ORDER_ID,
            locale: str = "en", email: str | None = "ada@example.com", delivered: bool = True,
            **order_changes: Any) -> None:
    """An order placed and then delivered ``days_ago`` days ago, as Shopify's webhooks tell it."""
    delivered_at = datetime.now(UTC) - timedelta(days=days_ago)
    order = fixture("orders_create__basic")
    placed = (delivered_at - timedelta(days=3)).isoformat()
    order.update(id=order_id, created_at=placed, updated_at=placed, customer_locale=locale, email=email,
                 contact_email=email, **order_changes)
    order["customer"] = {**order["customer"], "email": email}
    fulfillment = fixture("fulfillments_update__delivered" if delivered else "fulfillments_create__basic")
    fulfillment.update(id=order_id + 1, order_id=order_id, created_at=(delivered_at - timedelta(days=2)).isoformat(),
                       updated_at=delivered_at.isoformat())
    assert send("orders/create", order).status_code == 200
    assert send("fulfillments/update", fulfillment).status_code == 200
    drain()


def survey_of(app: Flask, order_id: int = ORDER_ID) -> Survey:
    with app.app_context():
        survey = db.session.scalars(sa.select(Survey).join(Survey.order).where(Order.shopify_id == order_id)).one()
        db.session.expunge(survey)
        return survey


def suppressions(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Suppression)) or 0


def send_due(runner: FlaskCliRunner) -> str:
    result = runner.invoke(args=["cx", "surveys", "send-due"])
    assert result.exit_code == 0, result.output
    return result.output


def link(text: str, score: int) -> str:
    match = re.search(rf"(https://cx\.example\.test(/s/[^\s?]+)\?score={score})\b", text)
    assert match, text
    return f"{match.group(2)}?score={score}"


def click_and_confirm(client: FlaskClient, text: str, score: int, question: str = "csat") -> None:
    """The shopper clicks a score in the e-mail and the page's script posts it back (see survey/page.html)."""
    path = link(text, score)
    page = client.get(path)
    assert page.status_code == 200
    assert f'data-question="{question}" data-score="{score}"' in page.get_data(as_text=True)
    assert client.post(path.split("?")[0], data={question: str(score)}).status_code == 200


def test_delivered_order_gets_one_survey_and_one_click_records_the_answer(
        app: Flask, shop: str, client: FlaskClient, runner: FlaskCliRunner, send_webhook: Send,
        drain: Callable[[], int], sink: smtp_sink.Sink) -> None:
    deliver(send_webhook, drain)
    assert "1 sent" in send_due(runner)
    assert "nothing due" in send_due(runner)  # never twice
    [mail_in] = sink.received
    message = mail_in.message
    assert mail_in.recipients == ["ada@example.com"]
    assert message["Subject"] == f"How was your order from {shop}?"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<https://cx\.example\.test/u/\S+>", message["List-Unsubscribe"])
    assert message["Message-ID"] == f"<survey-{survey_of(app).id}-first@cx.example.test>"
    text, html = mail_in.part("plain"), mail_in.part("html")
    assert "Ada" in text and "Ada" in html
    assert 'dir="ltr"' in html and "style=" in html
    for score in range(1, 6):
        assert link(text, score) in html.replace("&amp;", "&")

    page = client.get(link(text, 5))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="csat" value="5" checked' in html  # the clicked score, chosen
    assert 'name="nps" value="9"' in html  # the NPS question comes next on the page
    assert survey_of(app).status == SurveyStatus.SENT  # the click alone is not an answer yet
    assert client.get(link(text, 5)).status_code == 200  # a double click: two pages, both confirm
    click_and_confirm(client, text, 5)
    assert client.post(link(text, 5).split("?")[0], data={"csat": "5"}).status_code == 200
    survey = survey_of(app)
    assert (survey.status, survey.csat, survey.nps) == (SurveyStatus.ANSWERED, 5, None)
    client.get(link(text, 4))
    assert survey_of(app).csat == 5  # a later click does not change a confirmed answer…
    path = link(text, 4).split("?")[0]
    assert client.post(path, data={"csat": "4", "nps": "9"}).status_code == 200
    assert (survey_of(app).csat, survey_of(app).nps) == (4, 9)  # …the page's form does


def test_the_survey_speaks_the_shoppers_language_right_to_left(
        shop: str, runner: FlaskCliRunner, send_webhook: Send, drain: Callable[[], int],
        sink: smtp_sink.Sink) -> None:
    deliver(send_webhook, drain, locale="he")
    send_due(runner)
    [mail_in] = sink.received
    assert 'dir="rtl"' in mail_in.part("html")
    assert 'lang="he"' in mail_in.part("html")
    assert mail_in.message["Content-Language"] == "he"
    assert not mail_in.message["Subject"].startswith("How was")


@pytest.mark.parametrize(("changes", "reason"), [
    ({"cancelled_at": "2026-11-01T10:00:00-05:00", "cancel_reason": "customer"}, "cancelled"),
    ({"financial_status": "refunded"}, "refunded"),
    ({"email": None}, "no_email"),
])
def test_orders_that_must_not_be_surveyed_are_skipped(
        app: Flask, shop: str, runner: FlaskCliRunner, send_webhook: Send, drain: Callable[[], int],
        sink: smtp_sink.Sink, changes: dict[str, Any], reason: str) -> None:
    email = changes.pop("email", "ada@example.com")
    deliver(send_webhook, drain, email=email, **changes)
    send_due(runner)
    assert (survey_of(app).status, survey_of(app).skip_reason) == (SurveyStatus.SKIPPED, reason)
    assert sink.received == []


def test_last_years_deliveries_are_not_surveyed_after_install(
        app: Flask, shop: str, runner: FlaskCliRunner, send_webhook: Send, drain: Callable[[], int],
        sink: smtp_sink.Sink) -> None:
    deliver(send_webhook, drain, days_ago=20)  # max_age_days is 14
    send_due(runner)
    assert survey_of(app).skip_reason == "too_old"
    assert sink.received == []


def test_a_shopper_surveyed_within_the_throttle_is_not_asked_again(
        app: Flask, shop: str, runner: FlaskCliRunner, send_webhook: Send, drain: Callable[[], int],
        sink: smtp_sink.Sink) -> None:
    deliver(send_webhook, drain)
    send_due(runner)
    deliver(send_webhook, drain, order_id=ORDER_ID + 100, email="ADA@example.com")
    send_due(runner)
    assert survey_of(app, ORDER_ID + 100).skip_reason == "recently_surveyed"
    assert len(sink.received) == 1


def test_without_a_delivery_event_the_survey_falls_back_to_days_after_shipping(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int]) -> None:
    deliver(send_webhook, drain, delivered=False, days_ago=1)
    survey = survey_of(app)
    assert survey.basis == "fallback"
    assert survey.status == SurveyStatus.SCHEDULED
    with app.app_context():  # the shipping time as recorded, not a second reading of the clock
        shipped = db.session.scalars(sa.select(Shipment.shipped_at)).one()
    assert shipped is not None
    assert timedelta(days=10) <= survey.due_at - shipped <= timedelta(days=10, hours=15)


def test_unsubscribe_asks_first_then_suppresses_the_address(
        app: Flask, shop: str, client: FlaskClient, runner: FlaskCliRunner, send_webhook: Send,
        drain: Callable[[], int], sink: smtp_sink.Sink) -> None:
    deliver(send_webhook, drain)
    send_due(runner)
    path = re.sub(r"^<https://cx\.example\.test|>$", "", sink.received[0].message["List-Unsubscribe"])
    assert client.get(path).status_code == 200  # a link scanner's GET changes nothing
    assert suppressions(app) == 0
    response = client.post(path, data="List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert suppressions(app) == 1
    deliver(send_webhook, drain, order_id=ORDER_ID + 200, days_ago=2)
    assert survey_of(app, ORDER_ID + 200).skip_reason == "unsubscribed"


def test_a_tampered_link_gets_a_friendly_page_and_records_nothing(
        app: Flask, shop: str, client: FlaskClient, runner: FlaskCliRunner, send_webhook: Send,
        drain: Callable[[], int], sink: smtp_sink.Sink) -> None:
    deliver(send_webhook, drain)
    send_due(runner)
    good = link(sink.received[0].part("plain"), 5)
    token = good.split("/")[2].split("?")[0]
    tampered = good.replace(token, token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"))
    page = client.get(tampered)
    assert page.status_code == 400
    assert "<html" in page.get_data(as_text=True)
    assert survey_of(app).csat is None


def test_an_expired_link_records_nothing(app: Flask, shop: str, client: FlaskClient, send_webhook: Send,
                                         drain: Callable[[], int], monkeypatch: pytest.MonkeyPatch) -> None:
    deliver(send_webhook, drain)
    import itsdangerous.timed

    real_time = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real_time() - 61 * 86400)
    with app.test_request_context():
        token = links.answer_token(db.session.get_one(Survey, survey_of(app).id), "csat")
    monkeypatch.setattr(itsdangerous.timed.time, "time", real_time)
    page = client.get(f"/s/{token}?score=5")
    assert page.status_code == 410
    assert survey_of(app).csat is None


def test_a_worker_killed_after_the_sent_record_sends_nothing_more(
        app: Flask, shop: str, runner: FlaskCliRunner, send_webhook: Send, drain: Callable[[], int],
        sink: smtp_sink.Sink) -> None:
    deliver(send_webhook, drain)
    send_due(runner)  # the job's process may die now, before huey acknowledges it
    with app.app_context():
        later = datetime.now(UTC) + timedelta(hours=1)
        assert sending.due_survey_ids(later) == []
    send_due(runner)
    assert len(sink.received) == 1


def test_a_worker_killed_between_smtp_and_the_sent_record_resends_with_the_same_message_id(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int], sink: smtp_sink.Sink,
        monkeypatch: pytest.MonkeyPatch) -> None:
    deliver(send_webhook, drain)
    real_send = mail.send

    def send_then_die(*args: Any) -> None:
        real_send(*args)
        raise SystemExit("killed after the SMTP server accepted the message")

    monkeypatch.setattr(mail, "send", send_then_die)
    survey_id = survey_of(app).id
    with app.app_context(), pytest.raises(SystemExit):
        sending.send(survey_id, datetime.now(UTC))
    monkeypatch.setattr(mail, "send", real_send)
    assert survey_of(app).status == SurveyStatus.SENDING
    with app.app_context():
        assert sending.due_survey_ids(datetime.now(UTC)) == []  # a fresh claim is left alone
        claimed_at = survey_of(app).claimed_at
        assert claimed_at is not None  # ten minutes pass (the claim's age is judged on the database's clock)
        db.session.execute(sa.update(Survey).values(claimed_at=claimed_at - sending.STALE_CLAIM - timedelta(seconds=1)))
        db.session.commit()
        assert sending.send(survey_id, datetime.now(UTC)).result == "sent"
    assert [m.message["Message-ID"] for m in sink.received] == [sink.received[0].message["Message-ID"]] * 2
    assert survey_of(app).status == SurveyStatus.SENT


def test_an_smtp_outage_is_retried_with_backoff(app: Flask, config: dict[str, Any], shop: str,
                                                send_webhook: Send, drain: Callable[[], int]) -> None:
    app.config["MAIL_URL"] = f"smtp://127.0.0.1:{smtp_sink.free_port()}"
    deliver(send_webhook, drain)
    now = datetime.now(UTC)
    with app.app_context():
        outcome = sending.send(survey_of(app).id, now)
    assert (outcome.result, outcome.retry_in) == ("retry", 60)
    survey = survey_of(app)
    assert (survey.status, survey.send_attempts) == (SurveyStatus.SCHEDULED, 1)
    assert survey.due_at == now + timedelta(seconds=60)
    assert "ConnectionRefusedError" in (survey.last_error or "")


def test_the_hourly_cap_holds_the_rest_for_later(app: Flask, shop: str, client: FlaskClient,
                                                 runner: FlaskCliRunner, send_webhook: Send,
                                                 drain: Callable[[], int], sink: smtp_sink.Sink) -> None:
    client.put("/api/admin/settings", json={"surveys": {"hourly_cap": 1}},
               headers={"Authorization": f"Bearer {session_token()}"})
    deliver(send_webhook, drain)
    deliver(send_webhook, drain, order_id=ORDER_ID + 300, email="grace@example.com")
    assert "1 held:hourly_cap, 1 sent" in send_due(runner)
    assert len(sink.received) == 1


def test_starttls_and_authentication(app: Flask, shop: str, runner: FlaskCliRunner, send_webhook: Send,
                                     drain: Callable[[], int], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import ssl

    cert, key = smtp_sink.self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    received = smtp_sink.Sink()
    controller = smtp_sink.start(received, tls_context=context, credentials=("mailer", "s3cret"))
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust our test server's certificate
    app.config["MAIL_URL"] = f"smtp://mailer:s3cret@127.0.0.1:{controller.port}?starttls=1"
    try:
        deliver(send_webhook, drain)
        assert "1 sent" in send_due(runner)
    finally:
        controller.stop()
    assert len(received.received) == 1


def test_outbox_mode_keeps_the_message_for_the_admin(app: Flask, shop: str, client: FlaskClient,
                                                     runner: FlaskCliRunner, send_webhook: Send,
                                                     drain: Callable[[], int]) -> None:
    app.config["MAIL_URL"] = "outbox"
    deliver(send_webhook, drain)
    send_due(runner)
    messages = client.get("/api/admin/outbox", headers={"Authorization": f"Bearer {session_token()}"}).get_json()
    [kept] = messages["messages"]
    assert kept["to"] == "ada@example.com"
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in kept["raw"]


def test_reminder_goes_once_to_those_who_did_not_answer(app: Flask, shop: str, client: FlaskClient,
                                                        runner: FlaskCliRunner, send_webhook: Send,
                                                        drain: Callable[[], int], sink: smtp_sink.Sink) -> None:
    client.put("/api/admin/settings", json={"surveys": {"reminder_days": 3}},
               headers={"Authorization": f"Bearer {session_token()}"})
    deliver(send_webhook, drain)
    send_due(runner)
    survey_id = survey_of(app).id
    with app.app_context():
        in_four_days = datetime.now(UTC) + timedelta(days=4)
        assert sending.send(survey_id, in_four_days).result == "reminded"
        assert sending.send(survey_id, in_four_days).result == "not_due"
    assert [m.message["Message-ID"].split("@")[0] for m in sink.received] == [
        f"<survey-{survey_id}-first", f"<survey-{survey_id}-reminder"]


@pytest.fixture
def alert_hook() -> Iterator[tuple[str, list[Any]]]:
    posted: list[Any] = []

    @Request.application
    def receive(request: Request) -> Response:
        posted.append(request.get_json())
        return Response("ok")

    server = make_server("127.0.0.1", 0, receive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", posted
    server.shutdown()


def test_detractors_and_comments_alert_the_merchant_in_one_batch(
        app: Flask, shop: str, client: FlaskClient, runner: FlaskCliRunner, send_webhook: Send,
        drain: Callable[[], int], sink: smtp_sink.Sink, alert_hook: tuple[str, list[Any]]) -> None:
    hook_url, posted = alert_hook
    app.config["CX_ALLOW_PRIVATE_ALERT_HOOKS"] = True  # the test receiver listens on this machine, over http
    saved = client.put("/api/admin/settings",
                       json={"surveys": {"alert_email": "owner@shop.example", "alert_webhook_url": hook_url}},
                       headers={"Authorization": f"Bearer {session_token()}"})
    assert saved.status_code == 200
    deliver(send_webhook, drain)
    deliver(send_webhook, drain, order_id=ORDER_ID + 400, email="grace@example.com")
    send_due(runner)
    [first, second] = sink.received
    click_and_confirm(client, first.part("plain"), 1)  # unhappy
    click_and_confirm(client, second.part("plain"), 5)
    client.post(link(second.part("plain"), 5).split("?")[0], data={"comment": "Lovely packaging"})
    send_alert_batches.call_local()
    alerts = [m for m in sink.received if m.recipients == ["owner@shop.example"]]
    assert len(alerts) == 1
    assert "Lovely packaging" in alerts[0].part("plain")
    [payload] = posted
    assert "CSAT 1" in payload["text"] and "Lovely packaging" in payload["text"]
    send_alert_batches.call_local()
    assert len([m for m in sink.received if m.recipients == ["owner@shop.example"]]) == 1
