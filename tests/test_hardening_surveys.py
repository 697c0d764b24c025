"""The survey path against what the real world does to it: mail scanners that fetch every link, odd
scores, rotated secrets, refused and malformed mail, workers whose clocks disagree."""

from __future__ import annotations

import json
import logging
import re
import smtplib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from itsdangerous.encoding import base64_decode

from cxplugin import create_app, logs, mail
from cxplugin.extensions import db
from cxplugin.models import Order, SettingsVersion, Shop, Survey, SurveyStatus
from cxplugin.shops import settings as shop_settings
from cxplugin.surveys import links, sending
from tests import smtp_sink
from tests.conftest import Send
from tests.shopify_signing import session_token
from tests.test_surveys import ORDER_ID, click_and_confirm, deliver, link, send_due, suppressions, survey_of

# ---- mail scanners (SafeLinks-like) fetch every link of the mail, in document order -------------


def scanner_sweep(client: FlaskClient, text: str) -> None:
    for score in range(1, 6):
        assert client.get(link(text, score)).status_code == 200
        assert client.head(link(text, score)).status_code == 200


def test_a_scanner_alone_answers_nothing_and_alerts_nobody(
        app: Flask, shop: str, client: FlaskClient, runner: FlaskCliRunner, send_webhook: Send,
        drain: Callable[[], int], sink: smtp_sink.Sink) -> None:
    deliver(send_webhook, drain)
    send_due(runner)
    scanner_sweep(client, sink.received[0].part("plain"))
    survey = survey_of(app)
    assert (survey.status, survey.csat, survey.answered_at, survey.alert_state) == (SurveyStatus.SENT, None,
                                                                                     None, None)


def test_the_shoppers_click_after_a_scanner_sweep_is_the_answer(
        app: Flask, shop: str, client: FlaskClient, runner: FlaskCliRunner, send_webhook: Send,
        drain: Callable[[], int], sink: smtp_sink.Sink) -> None:
    deliver(send_webhook, drain)
    send_due(runner)
    text = sink.received[0].part("plain")
    scanner_sweep(client, text)
    click_and_confirm(client, text, 2)
    survey = survey_of(app)
    assert (survey.status, survey.csat, survey.alert_state) == (SurveyStatus.ANSWERED, 2, "pending")


def test_a_scanner_sweep_after_the_shoppers_answer_leaves_it_alone(
        app: Flask, shop: str, client: FlaskClient, runner: FlaskCliRunner, send_webhook: Send,
        drain: Callable[[], int], sink: smtp_sink.Sink) -> None:
    deliver(send_webhook, drain)
    send_due(runner)
    text = sink.received[0].part("plain")
    click_and_confirm(client, text, 1)
    scanner_sweep(client, text)
    page = client.get(link(text, 5)).get_data(as_text=True)
    assert 'name="csat" value="1" checked' in page and "data-score" not in page  # nothing for a script to post
    assert (survey_of(app).csat, survey_of(app).alert_state) == (1, "pending")


def test_a_score_that_is_not_ascii_digits_is_a_400_and_records_nothing(
        app: Flask, shop: str, client: FlaskClient, runner: FlaskCliRunner, send_webhook: Send,
        drain: Callable[[], int], sink: smtp_sink.Sink) -> None:
    deliver(send_webhook, drain)
    send_due(runner)
    path = link(sink.received[0].part("plain"), 5).split("?")[0]
    app.config["PROPAGATE_EXCEPTIONS"] = False
    for raw in ("%C2%B2", "%D9%A3", "%EF%BC%93", "+3", "3.0", "03%20", "0", "6", "99999999999999999999", ""):
        response = client.get(f"{path}?score={raw}")
        assert response.status_code == 400, raw
        assert "<html" in response.get_data(as_text=True)
    for raw in ("²", "٣", "-1", "6", "x"):
        assert client.post(path, data={"csat": raw, "comment": "should not be kept"}).status_code == 400, raw
    survey = survey_of(app)
    assert (survey.status, survey.csat, survey.comment) == (SurveyStatus.SENT, None, None)


# ---- links: rotation, opaque ids, logs ----------------------------------------------------------

def mailed_paths(sink: smtp_sink.Sink) -> tuple[str, str]:
    """The survey link (score 4) and the unsubscribe link of the first mail, as paths."""
    message = sink.received[0]
    unsubscribe = re.sub(r"^<https://cx\.example\.test|>$", "", message.message["List-Unsubscribe"])
    return link(message.part("plain"), 4), unsubscribe


def test_links_mailed_before_the_app_secret_is_rotated_keep_working(
        app: Flask, shop: str, client: FlaskClient, runner: FlaskCliRunner, send_webhook: Send,
        drain: Callable[[], int], sink: smtp_sink.Sink) -> None:
    deliver(send_webhook, drain)
    send_due(runner)
    answer_path, unsubscribe_path = mailed_paths(sink)
    app.config["SHOPIFY_OLD_API_SECRET"] = app.config["SHOPIFY_API_SECRET"]  # rotating, as the README says
    app.config["SHOPIFY_API_SECRET"] = "a-brand-new-secret-after-rotation-00001"

    click_and_confirm(client, sink.received[0].part("plain"), 4)
    response = client.post(unsubscribe_path, data="List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert (survey_of(app).csat, suppressions(app)) == (4, 1)

    app.config["SHOPIFY_OLD_API_SECRET"] = None  # rotation finished: the old secret signs nothing any more
    assert client.get(answer_path).status_code == 400


def test_links_made_after_rotation_are_signed_with_the_new_secret(app: Flask, shop: str, send_webhook: Send,
                                                                  drain: Callable[[], int]) -> None:
    deliver(send_webhook, drain)
    app.config["SHOPIFY_OLD_API_SECRET"] = app.config["SHOPIFY_API_SECRET"]
    app.config["SHOPIFY_API_SECRET"] = "a-brand-new-secret-after-rotation-00001"
    with app.test_request_context():
        token = links.answer_token(db.session.get_one(Survey, survey_of(app).id), "csat")
        app.config["SHOPIFY_OLD_API_SECRET"] = None
        assert links.survey_from_token(token, "survey")[0].id == survey_of(app).id


def token_payload(path: str) -> dict[str, Any]:
    token = path.split("/")[2].split("?")[0]
    data: dict[str, Any] = json.loads(base64_decode(token.split(".")[0]))
    return data


def test_links_name_the_survey_by_a_random_id_not_its_row_number(
        app: Flask, shop: str, runner: FlaskCliRunner, send_webhook: Send, drain: Callable[[], int],
        sink: smtp_sink.Sink) -> None:
    deliver(send_webhook, drain)
    deliver(send_webhook, drain, order_id=ORDER_ID + 500, email="grace@example.com")
    send_due(runner)
    payloads = [token_payload(path) for received in sink.received
                for path in (link(received.part("plain"), 4),
                             re.sub(r"^<https://cx\.example\.test|>$", "", received.message["List-Unsubscribe"]))]
    assert all(set(p) <= {"p", "q"} and re.fullmatch(r"[0-9a-f]{24}", p["p"]) for p in payloads)
    assert {p["p"] for p in payloads} == {survey_of(app).public_id, survey_of(app, ORDER_ID + 500).public_id}


def test_links_mailed_with_the_row_id_still_work_until_they_expire(
        app: Flask, shop: str, client: FlaskClient, send_webhook: Send, drain: Callable[[], int]) -> None:
    deliver(send_webhook, drain)
    survey_id = survey_of(app).id
    with app.app_context():
        old_shape = links._serializer("survey").dumps({"s": survey_id, "q": "csat"})
        old_unsubscribe = links._serializer("unsubscribe").dumps({"s": survey_id})
    assert 'data-score="3"' in client.get(f"/s/{old_shape}?score=3").get_data(as_text=True)
    assert client.post(f"/s/{old_shape}", data={"csat": "3"}).status_code == 200
    assert client.post(f"/u/{old_unsubscribe}").status_code == 200
    assert (survey_of(app).csat, suppressions(app)) == (3, 1)


@pytest.fixture
def request_log() -> Iterator[list[dict[str, Any]]]:
    lines: list[dict[str, Any]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append({"msg": record.getMessage(), **getattr(record, "fields", {})})

    handler = Keep()
    logs.logger.addHandler(handler)
    yield lines
    logs.logger.removeHandler(handler)


def test_the_request_log_names_the_route_not_the_link_token(
        app: Flask, shop: str, client: FlaskClient, runner: FlaskCliRunner, send_webhook: Send,
        drain: Callable[[], int], sink: smtp_sink.Sink, request_log: list[dict[str, Any]]) -> None:
    deliver(send_webhook, drain)
    send_due(runner)
    answer_path, unsubscribe_path = mailed_paths(sink)
    client.get(answer_path)
    client.post(answer_path.split("?")[0], data={"csat": "4"})
    client.get(unsubscribe_path)
    client.post(unsubscribe_path)
    tokens = [answer_path.split("/")[2].split("?")[0], unsubscribe_path.split("/")[2]]
    requests = [line for line in request_log if line["msg"] == "request"]
    assert [(r["method"], r["path"]) for r in requests if r["path"] != "/webhooks"] == [
        ("GET", "/s/<token>"), ("POST", "/s/<token>"), ("GET", "/u/<token>"), ("POST", "/u/<token>")]
    assert not any(token in json.dumps(line) for line in request_log for token in tokens)


def test_the_migration_gives_existing_surveys_distinct_public_ids(
        base_config: dict[str, Any], tmp_path: Path) -> None:
    from flask_migrate import downgrade, upgrade

    app = create_app({**base_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'migrated.db'}"})
    with app.app_context():
        upgrade()
        shop = Shop(domain="m.myshopify.com", timezone="UTC")
        db.session.add(shop)
        db.session.flush()
        for n in range(3):
            order = Order(shop_id=shop.id, shopify_id=n + 1, note_attributes={}, line_items=[])
            db.session.add(order)
            db.session.flush()
            db.session.add(Survey(shop_id=shop.id, order_id=order.id, question="csat", basis="delivered",
                                  due_at=datetime.now(UTC)))
        db.session.commit()
        downgrade(revision="0006")
        upgrade()
        ids = list(db.session.scalars(sa.select(Survey.public_id)))
        db.engine.dispose()
    assert len(ids) == len(set(ids)) == 3
    assert all(re.fullmatch(r"[0-9a-f]{24}", i) for i in ids)


# ---- refused mail -------------------------------------------------------------------------------

class Refusing(smtp_sink.Sink):
    """An SMTP server that refuses every recipient with ``reply`` (``{address}`` filled in)."""

    def __init__(self, reply: str) -> None:
        super().__init__()
        self.reply = reply

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          rcpt_options: Any) -> str:
        return self.reply.format(address=address)


@pytest.fixture
def refusing(app: Flask) -> Iterator[Callable[[str], None]]:
    """``refusing("550 5.1.1 <{address}>: User unknown")`` points the app's mail at such a server."""
    controllers: list[Any] = []

    def start(reply: str) -> None:
        controller = smtp_sink.start(Refusing(reply))
        controllers.append(controller)
        app.config["MAIL_URL"] = f"smtp://127.0.0.1:{controller.port}"

    yield start
    for controller in controllers:
        controller.stop()


def send_until_settled(app: Flask, survey_id: int, tries: int = 30) -> list[str]:
    """Send as the periodic job would: again at each retry's due time, until the survey is no longer retried."""
    results, now = [], datetime.now(UTC)
    with app.app_context():
        for _ in range(tries):
            outcome = sending.send(survey_id, now)
            results.append(outcome.result)
            if outcome.result != "retry":
                break
            now = db.session.get_one(Survey, survey_id).due_at
            db.session.rollback()
    return results


def test_a_hard_bounce_ends_the_survey_and_suppresses_the_address(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int], refusing: Callable[[str], None],
        request_log: list[dict[str, Any]]) -> None:
    refusing("550 5.1.1 <{address}>: Recipient address rejected: User unknown")
    deliver(send_webhook, drain)
    deliver(send_webhook, drain, order_id=ORDER_ID + 600, email="Ada@Example.com", days_ago=2.5)
    first = survey_of(app)
    assert send_until_settled(app, first.id) == ["skipped:bounced"]
    survey, other = survey_of(app), survey_of(app, ORDER_ID + 600)
    assert (survey.status, survey.skip_reason, survey.send_attempts) == (SurveyStatus.SKIPPED, "bounced", 1)
    assert (other.status, other.skip_reason) == (SurveyStatus.SKIPPED, "bounced")  # same address, same shop
    assert suppressions(app) == 1
    assert survey.last_error == "SMTPRecipientsRefused: 550 5.1.1 <<address>>: Recipient address rejected: " \
                                "User unknown"
    assert not any("example.com" in json.dumps(line).lower() for line in request_log)
    deliver(send_webhook, drain, order_id=ORDER_ID + 700, days_ago=1)
    assert survey_of(app, ORDER_ID + 700).skip_reason == "unsubscribed"  # later orders are not asked either
    deliver(send_webhook, drain)  # the order's webhooks again: the bounced survey stays given up
    assert (survey_of(app).skip_reason, survey_of(app).send_attempts) == ("bounced", 1)


def test_a_permanent_refusal_that_is_not_about_the_address_ends_the_survey_without_suppressing(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int],
        refusing: Callable[[str], None]) -> None:
    refusing("554 5.7.1 <{address}>: rejected by policy")
    deliver(send_webhook, drain)
    assert send_until_settled(app, survey_of(app).id) == ["skipped:rejected"]
    assert (survey_of(app).skip_reason, suppressions(app)) == ("rejected", 0)


def test_a_temporary_refusal_is_retried_with_backoff_and_given_up_after_the_cap(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int], refusing: Callable[[str], None],
        request_log: list[dict[str, Any]]) -> None:
    refusing("450 4.2.1 <{address}>: mailbox busy, try later")
    deliver(send_webhook, drain)
    results = send_until_settled(app, survey_of(app).id)
    assert results == ["retry"] * (sending.MAX_SEND_ATTEMPTS - 1) + ["skipped:failed"]
    survey = survey_of(app)
    assert (survey.status, survey.skip_reason, survey.send_attempts) == (SurveyStatus.SKIPPED, "failed",
                                                                           sending.MAX_SEND_ATTEMPTS)
    assert survey.last_error == "SMTPRecipientsRefused: 450 4.2.1 <<address>>: mailbox busy, try later"
    assert suppressions(app) == 0
    failures = [line for line in request_log if line["msg"] == "survey mail failed"]
    assert len(failures) == sending.MAX_SEND_ATTEMPTS
    assert not any("ada@" in json.dumps(line).lower() for line in failures)
    with app.app_context():
        assert sending.due_survey_ids(datetime.now(UTC) + timedelta(days=1)) == []


@pytest.mark.parametrize(("error", "kind", "stored"), [
    (smtplib.SMTPRecipientsRefused({"a@b.example": (550, b"5.1.1 <a@b.example> unknown")}), "bounced",
     "SMTPRecipientsRefused: 550 5.1.1 <<address>> unknown"),
    (smtplib.SMTPRecipientsRefused({"a@b.example": (550, b"no such user a@b.example")}), "bounced",
     "SMTPRecipientsRefused: 550 no such user <address>"),
    (smtplib.SMTPRecipientsRefused({"a@b.example": (552, b"5.2.2 mailbox full")}), "rejected",
     "SMTPRecipientsRefused: 552 5.2.2 mailbox full"),
    (smtplib.SMTPRecipientsRefused({"a@b.example": (421, b"4.7.0 try again")}), "temporary",
     "SMTPRecipientsRefused: 421 4.7.0 try again"),
    (smtplib.SMTPDataError(554, b"5.6.0 message refused for x@y.example"), "rejected",
     "SMTPDataError: 554 5.6.0 message refused for <address>"),
    (smtplib.SMTPSenderRefused(553, b"sender not allowed", "shop@from.example"), "temporary",
     "SMTPSenderRefused: 553 sender not allowed"),
    (smtplib.SMTPAuthenticationError(535, b"bad credentials"), "temporary",
     "SMTPAuthenticationError: 535 bad credentials"),
    (ConnectionRefusedError(111, "Connection refused"), "temporary",
     "ConnectionRefusedError: [Errno 111] Connection refused"),
])
def test_what_a_send_error_means_and_how_it_is_kept(error: Exception, kind: str, stored: str) -> None:
    assert sending.mail_failure(error) == sending.MailFailure(kind, stored)


# ---- malformed text in headers ------------------------------------------------------------------

def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {session_token()}"}  # fresh: a session token lives a minute


@pytest.mark.parametrize("bad", ["Ada's\nShop", "Ada's\r\nBcc: x@evil.example", "Ada\tShop", "Ada\x00", "Ada\x85Shop",
                                 "Ada\u2028Shop"])
@pytest.mark.parametrize(("section", "patch", "path"), [
    ("surveys", lambda bad: {"sender_name": bad}, ["sender_name"]),
    ("promise", lambda bad: {"zones": [{"name": bad, "regions": ["US"], "transit_days": {"min": 1, "max": 2}}]},
     ["zones", "0", "name"]),
    ("promise", lambda bad: {"tag_rules": [{"tag": bad, "add_days": 1}]}, ["tag_rules", "0", "tag"]),
])
def test_single_line_settings_refuse_line_breaks_and_control_characters(
        client: FlaskClient, shop: str, bad: str, section: str, patch: Callable[[str], dict[str, Any]],
        path: list[str]) -> None:
    before = client.get("/api/admin/settings", headers=auth()).get_json()
    response = client.put("/api/admin/settings", json={section: patch(bad)}, headers=auth())
    assert response.status_code == 422
    errors = response.get_json()["errors"][section]
    for key in path:
        errors = errors[key if key in errors else int(key)]
    assert errors
    assert client.get("/api/admin/settings", headers=auth()).get_json() == before


def test_a_sender_name_in_any_script_is_still_accepted(client: FlaskClient, shop: str) -> None:
    name = "Café Ünïcode — 店 · חנות"
    response = client.put("/api/admin/settings", json={"surveys": {"sender_name": name}}, headers=auth())
    assert response.status_code == 200
    assert response.get_json()["surveys"]["sender_name"] == name


def test_a_line_break_saved_before_the_check_does_not_stop_the_mail(
        app: Flask, shop: str, runner: FlaskCliRunner, send_webhook: Send, drain: Callable[[], int],
        sink: smtp_sink.Sink) -> None:
    with app.app_context():
        shop_row = db.session.scalars(sa.select(Shop)).one()
        data = shop_settings.merge(shop_settings.current(shop_row), {"surveys": {"sender_name": "Ada's\r\nShop"}})
        db.session.add(SettingsVersion(shop_id=shop_row.id, version=1, data=data, effective_from=datetime.now(UTC)))
        db.session.commit()
    deliver(send_webhook, drain)
    assert "1 sent" in send_due(runner)
    assert sink.received[0].message["From"] == "Ada's Shop <surveys@localhost>"


def test_a_message_that_cannot_be_built_releases_the_survey_with_the_error_kept(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int], sink: smtp_sink.Sink) -> None:
    deliver(send_webhook, drain)
    with app.app_context():  # the shop's e-mail (the Reply-To) as a shop/update webhook could leave it
        db.session.execute(sa.update(Shop).values(email="owner@shop.example\nBcc: all@evil.example"))
        db.session.commit()
    survey_id = survey_of(app).id
    results = send_until_settled(app, survey_id)
    assert results == ["retry"] * (sending.MAX_SEND_ATTEMPTS - 1) + ["skipped:failed"]
    survey = survey_of(app)
    assert (survey.status, survey.claimed_at, survey.skip_reason) == (SurveyStatus.SKIPPED, None, "failed")
    assert survey.last_error is not None and survey.last_error.startswith("ValueError: ")
    assert "@" not in survey.last_error
    assert sink.received == []


# ---- one send, whatever the workers' clocks; the sent-record keeps an answer ----------------------

def test_a_worker_whose_clock_runs_ahead_does_not_take_over_a_live_claim(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int], sink: smtp_sink.Sink,
        monkeypatch: pytest.MonkeyPatch) -> None:
    deliver(send_webhook, drain)
    survey_id = survey_of(app).id
    real_send = mail.send
    second_worker: list[str] = []

    def meanwhile_a_fast_clock_worker_runs(message: Any, shop_id: int | None = None) -> None:
        if not started:  # while the first worker talks to the SMTP server (and only then)
            started.append(True)
            with app.app_context():
                ahead = datetime.now(UTC) + sending.STALE_CLAIM + timedelta(minutes=1)
                second_worker.append(sending.send(survey_id, ahead).result)
        real_send(message, shop_id)

    started: list[bool] = []
    monkeypatch.setattr(mail, "send", meanwhile_a_fast_clock_worker_runs)
    with app.app_context():
        assert sending.send(survey_id, datetime.now(UTC)).result == "sent"
    assert second_worker == ["not_due"]
    assert len(sink.received) == 1


def test_a_claim_left_by_a_dead_worker_is_taken_over_after_the_claim_timeout(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int], sink: smtp_sink.Sink) -> None:
    deliver(send_webhook, drain)
    survey_id = survey_of(app).id
    with app.app_context():
        # A worker claimed the survey and died: its claim, as the database recorded it, is growing old.
        assert sending._claim(db.session.get_one(Survey, survey_id), False, datetime.now(UTC))
        assert sending.send(survey_id, datetime.now(UTC)).result == "not_due"
        claimed_at = db.session.get_one(Survey, survey_id).claimed_at
        assert claimed_at is not None
        db.session.execute(sa.update(Survey).values(claimed_at=claimed_at - sending.STALE_CLAIM - timedelta(seconds=1)))
        db.session.commit()
        assert sending.due_survey_ids(datetime.now(UTC)) == [survey_id]
        assert sending.send(survey_id, datetime.now(UTC)).result == "sent"
    assert len(sink.received) == 1


def test_an_answer_given_while_the_mail_is_being_sent_is_not_undone_by_the_sent_record(
        app: Flask, shop: str, client: FlaskClient, send_webhook: Send, drain: Callable[[], int],
        sink: smtp_sink.Sink, monkeypatch: pytest.MonkeyPatch) -> None:
    deliver(send_webhook, drain)
    survey_id = survey_of(app).id
    real_send = mail.send

    def delivered_and_answered_at_once(message: Any, shop_id: int | None = None) -> None:
        real_send(message, shop_id)
        click_and_confirm(client, sink.received[-1].part("plain"), 2)  # before the worker writes its record

    monkeypatch.setattr(mail, "send", delivered_and_answered_at_once)
    with app.app_context():
        assert sending.send(survey_id, datetime.now(UTC)).result == "sent"
    survey = survey_of(app)
    assert (survey.status, survey.csat, survey.alert_state) == (SurveyStatus.ANSWERED, 2, "pending")
    assert survey.sent_at is not None and survey.message_id is not None and survey.claimed_at is None
