"""Merchant alerts: the webhook URL reaches only the public internet, each shop and each channel (e-mail,
webhook) is delivered on its own, a dead channel is given up after a limit with one notice, and text from
shoppers cannot command the merchant's chat."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from cxplugin import mail
from cxplugin.extensions import db
from cxplugin.models import AlertChannel, Order, SettingsVersion, Shop, Survey, SurveyStatus
from cxplugin.shops.settings import current, merge
from cxplugin.surveys import alerts
from cxplugin.tasks import send_alert_batches
from tests import smtp_sink
from tests.shopify_signing import session_token


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {session_token()}"}  # fresh: a session token lives a minute


def put_hook(client: FlaskClient, url: str) -> Any:
    return client.put("/api/admin/settings", json={"surveys": {"alert_webhook_url": url}}, headers=auth())


# ---- the webhook URL at save ---------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "https://169.254.169.254/latest/meta-data/iam", "https://127.0.0.1:6379/", "https://10.0.0.5/",
    "https://[::1]/hook", "https://[::ffff:a9fe:a9fe]/", "https://localhost/hook",
    "https://metadata.google.internal/computeMetadata/v1/", "http://hooks.example.com/hook",
])
def test_settings_refuse_an_alert_hook_inside_the_network_with_422_and_keep_the_old_one(
        client: FlaskClient, shop: str, url: str) -> None:
    assert put_hook(client, "https://hooks.slack.com/services/T0/B0/abc").status_code == 200
    response = put_hook(client, url)
    assert response.status_code == 422
    [message] = response.get_json()["errors"]["surveys"]["alert_webhook_url"]
    assert "https://" in message or "not a public internet address" in message or "is a local name" in message
    saved = client.get("/api/admin/settings", headers=auth()).get_json()["surveys"]["alert_webhook_url"]
    assert saved == "https://hooks.slack.com/services/T0/B0/abc"


def test_settings_take_a_public_https_alert_hook(client: FlaskClient, shop: str) -> None:
    assert put_hook(client, "https://hooks.slack.com/services/T0/B0/abc").status_code == 200


def test_a_local_http_hook_is_taken_only_when_the_config_allows_it(app: Flask, client: FlaskClient,
                                                                  shop: str) -> None:
    assert put_hook(client, "http://127.0.0.1:8080/hook").status_code == 422
    app.config["CX_ALLOW_PRIVATE_ALERT_HOOKS"] = True
    assert put_hook(client, "http://127.0.0.1:8080/hook").status_code == 200


# ---- each shop and each channel on its own ---------------------------------------------------------

class Receiver:
    """A local HTTP server standing in for a chat webhook; answers ``status`` and keeps what it was sent."""

    def __init__(self) -> None:
        self.posted: list[Any] = []
        self.status = 200
        self.location: str | None = None

        @Request.application
        def receive(request: Request) -> Response:
            self.posted.append(request.get_json())
            headers = {"Location": self.location} if self.location else {}
            return Response("x", status=self.status, headers=headers)

        self.server = make_server("127.0.0.1", 0, receive)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture
def local_hooks(app: Flask) -> None:
    """The receivers listen on this machine over http: allowed here, explicitly, as in development."""
    app.config["CX_ALLOW_PRIVATE_ALERT_HOOKS"] = True


def add_shop(app: Flask, domain: str, *, alert_email: str | None, hook: str | None, name: str | None = None) -> int:
    """An installed shop whose settings were saved as given (as an older version of the app may have saved them)."""
    with app.app_context():
        shop = Shop(domain=domain, name=name or domain.split(".")[0], installed_at=datetime.now(UTC), timezone="UTC")
        db.session.add(shop)
        db.session.flush()
        data = merge(current(shop), {"surveys": {"alert_email": alert_email, "alert_webhook_url": hook}})
        db.session.add(SettingsVersion(shop_id=shop.id, version=1, data=data, effective_from=datetime.now(UTC)))
        db.session.commit()
        return int(shop.id)


def set_hook(app: Flask, shop_id: int, hook: str | None) -> None:
    with app.app_context():
        shop = db.session.get_one(Shop, shop_id)
        latest = db.session.scalars(sa.select(SettingsVersion).where(SettingsVersion.shop_id == shop_id)
                                    .order_by(SettingsVersion.version.desc())).first()
        assert latest is not None
        data = merge(current(shop), {"surveys": {"alert_webhook_url": hook}})
        db.session.add(SettingsVersion(shop_id=shop_id, version=latest.version + 1, data=data,
                                       effective_from=datetime.now(UTC)))
        db.session.commit()


def answer(app: Flask, shop_id: int, *, comment: str, csat: int = 1, order_name: str | None = None) -> int:
    """A shopper's answer that needs the merchant's attention."""
    with app.app_context():
        number = db.session.scalar(sa.select(sa.func.count()).select_from(Order)) or 0
        order = Order(shop_id=shop_id, shopify_id=5000 + number, name=order_name or f"#{1000 + number}",
                      note_attributes={}, line_items=[])
        db.session.add(order)
        db.session.flush()
        survey = Survey(shop_id=shop_id, order_id=order.id, question="csat", basis="delivered",
                        due_at=datetime.now(UTC), status=SurveyStatus.ANSWERED, csat=csat, comment=comment,
                        answered_at=datetime.now(UTC), alert_state="pending")
        db.session.add(survey)
        db.session.commit()
        return int(survey.id)


def states(app: Flask, survey_id: int) -> tuple[str | None, str | None]:
    with app.app_context():
        survey = db.session.get_one(Survey, survey_id)
        return survey.alert_email_state, survey.alert_webhook_state


def mails_to(sink: smtp_sink.Sink, address: str, subject_has: str = "") -> list[smtp_sink.Received]:
    return [m for m in sink.received if m.recipients == [address] and subject_has in str(m.message["Subject"])]


def run_job(times: int = 1) -> None:
    for _ in range(times):
        send_alert_batches.call_local()


NEED_ATTENTION = "need attention"
STOPPED = "stopped working"


def test_two_shops_one_with_a_dead_hook_get_one_alert_mail_each_and_the_dead_one_is_told_once_after_the_limit(
        app: Flask, sink: smtp_sink.Sink, receiver: Receiver, local_hooks: None) -> None:
    receiver.status = 404  # e.g. the merchant deleted the Slack app
    dead = add_shop(app, "aaa.myshopify.com", alert_email="a@owner.example", hook=receiver.url)
    fine = add_shop(app, "bbb.myshopify.com", alert_email="b@owner.example", hook=None)
    late = answer(app, dead, comment="late")
    answer(app, fine, comment="broken")

    run_job(3)  # three 15-minute runs
    assert len(mails_to(sink, "a@owner.example", NEED_ATTENTION)) == 1
    assert len(mails_to(sink, "b@owner.example", NEED_ATTENTION)) == 1
    assert len(receiver.posted) == 3  # the webhook is tried again each run, the mail is not
    assert mails_to(sink, "a@owner.example", STOPPED) == []
    assert states(app, late) == ("sent", "pending")

    run_job(4)  # the 5th attempt is the last; then nothing waits on the hook
    assert len(receiver.posted) == alerts.FAILURE_LIMIT
    assert states(app, late) == ("sent", "failed")
    [notice] = mails_to(sink, "a@owner.example", STOPPED)
    text = notice.part("plain")
    assert "127.0.0.1" in text and "failed 5 times in a row" in text and "HTTP 404" in text
    assert "Settings → Surveys" in text and "/hook" not in text  # the URL's secret path is not repeated
    assert mails_to(sink, "b@owner.example", STOPPED) == []

    # A new answer: its mail goes out, the hook gets one try, and the merchant is not told a second time.
    answer(app, dead, comment="still late")
    run_job(2)
    assert len(mails_to(sink, "a@owner.example", NEED_ATTENTION)) == 2
    assert len(receiver.posted) == alerts.FAILURE_LIMIT + 1
    assert len(mails_to(sink, "a@owner.example", STOPPED)) == 1


def test_a_hook_that_works_again_delivers_and_a_later_outage_is_told_again(
        app: Flask, sink: smtp_sink.Sink, receiver: Receiver, local_hooks: None) -> None:
    shop_id = add_shop(app, "aaa.myshopify.com", alert_email="a@owner.example", hook=receiver.url)
    receiver.status = 500
    first = answer(app, shop_id, comment="first")
    run_job(2)
    receiver.status = 200
    run_job()
    assert states(app, first) == ("sent", "sent")
    assert "first" in receiver.posted[-1]["text"]
    with app.app_context():
        record = db.session.scalars(sa.select(AlertChannel).where(AlertChannel.channel == "webhook")).one()
        assert (record.failures, record.last_error) == (0, None)

    receiver.status = 410
    answer(app, shop_id, comment="second")
    run_job(alerts.FAILURE_LIMIT)  # a fresh count: five tries again before giving up
    [notice] = mails_to(sink, "a@owner.example", STOPPED)
    assert "HTTP 410" in notice.part("plain")


def test_a_failing_alert_mail_does_not_stop_the_hook_nor_other_shops_and_is_retried(
        app: Flask, sink: smtp_sink.Sink, receiver: Receiver, local_hooks: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    broken = add_shop(app, "aaa.myshopify.com", alert_email="a@owner.example", hook=receiver.url)
    fine = add_shop(app, "bbb.myshopify.com", alert_email="b@owner.example", hook=None)
    survey = answer(app, broken, comment="late")
    answer(app, fine, comment="broken")
    real_send = mail.send

    def send_but_fail_for_a(message: Any, shop_id: int | None = None) -> None:
        if message["To"] == "a@owner.example":
            raise RuntimeError("a bug while sending shop A's alert")
        real_send(message, shop_id)

    monkeypatch.setattr(mail, "send", send_but_fail_for_a)
    run_job()
    assert len(receiver.posted) == 1
    assert len(mails_to(sink, "b@owner.example", NEED_ATTENTION)) == 1
    assert states(app, survey) == ("pending", "sent")
    monkeypatch.setattr(mail, "send", real_send)
    run_job()
    assert len(mails_to(sink, "a@owner.example", NEED_ATTENTION)) == 1
    assert len(receiver.posted) == 1 and states(app, survey) == ("sent", "sent")


def test_answers_waiting_on_a_hook_the_merchant_removed_are_dropped(
        app: Flask, sink: smtp_sink.Sink, receiver: Receiver, local_hooks: None) -> None:
    receiver.status = 503
    shop_id = add_shop(app, "aaa.myshopify.com", alert_email="a@owner.example", hook=receiver.url)
    survey = answer(app, shop_id, comment="late")
    run_job()
    set_hook(app, shop_id, None)
    run_job()
    assert states(app, survey) == ("sent", "dropped")
    assert len(receiver.posted) == 1


# ---- the webhook URL at send ---------------------------------------------------------------------

def test_with_the_default_config_a_loopback_hook_saved_earlier_is_refused_at_send(
        app: Flask, sink: smtp_sink.Sink, receiver: Receiver) -> None:
    shop_id = add_shop(app, "aaa.myshopify.com", alert_email="a@owner.example", hook=receiver.url)
    survey = answer(app, shop_id, comment="late")
    run_job(alerts.FAILURE_LIMIT)
    assert receiver.posted == []
    assert states(app, survey) == ("sent", "failed")
    [notice] = mails_to(sink, "a@owner.example", STOPPED)
    assert "Use an https:// address." in notice.part("plain")
    # The same receiver takes it when the config allows local hooks: the refusal above was the check's doing.
    app.config["CX_ALLOW_PRIVATE_ALERT_HOOKS"] = True
    answer(app, shop_id, comment="again")
    run_job()
    assert len(receiver.posted) == 1


def test_a_redirecting_hook_is_not_followed_and_counts_as_a_failure(
        app: Flask, sink: smtp_sink.Sink, receiver: Receiver, local_hooks: None) -> None:
    target = Receiver()
    try:
        receiver.status, receiver.location = 307, target.url
        shop_id = add_shop(app, "aaa.myshopify.com", alert_email=None, hook=receiver.url)
        survey = answer(app, shop_id, comment="late")
        run_job()
        assert len(receiver.posted) == 1 and target.posted == []
        assert states(app, survey) == (None, "pending")
        with app.app_context():
            record = db.session.scalars(sa.select(AlertChannel)).one()
            assert record.failures == 1 and "HTTP 307" in (record.last_error or "")
    finally:
        target.server.shutdown()


# ---- what shoppers write reaches the chat as text --------------------------------------------------

def test_mentions_and_disguised_links_from_shoppers_and_the_shop_reach_the_chat_as_plain_text(
        app: Flask, sink: smtp_sink.Sink, receiver: Receiver, local_hooks: None) -> None:
    evil = "<!channel> Refund failed, <https://evil.example/login|log in to Shopify admin> to fix"
    shop_id = add_shop(app, "ccc.myshopify.com", alert_email=None, hook=receiver.url, name="Ben & Jerry's <!here>")
    answer(app, shop_id, comment=evil, order_name="#1001 <@U024BE7LH>")
    run_job()
    [payload] = receiver.posted
    text = payload["text"]
    assert "<" not in text and ">" not in text  # Slack reads commands only inside < >
    assert "&lt;!channel&gt; Refund failed, &lt;https://evil.example/login|log in to Shopify admin&gt; to fix" in text
    assert "(Ben &amp; Jerry's &lt;!here&gt;)" in text
    assert "#1001 &lt;@U024BE7LH&gt;: CSAT 1" in text


@pytest.mark.parametrize(("written", "shown"), [
    ("a & b", "a &amp; b"), ("<!everyone>", "&lt;!everyone&gt;"), ("&lt;", "&amp;lt;"), ("plain", "plain"),
])
def test_slack_escaping_is_slacks_three_characters(written: str, shown: str) -> None:
    assert alerts.slack_escaped(written) == shown
