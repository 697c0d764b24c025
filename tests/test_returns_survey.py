"""After delivery, the survey e-mail and its thank-you page carry one line: the order's return deadline, or
'final sale' when nothing in it can be returned."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from babel.dates import format_skeleton
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from cxplugin.extensions import db
from cxplugin.models import SettingsVersion
from tests import smtp_sink
from tests.conftest import Send
from tests.shopify_signing import fixture, session_token
from tests.test_surveys import deliver, link, send_due

NYC = ZoneInfo("America/New_York")


def test_the_survey_mail_and_thank_you_page_tell_the_return_deadline(
        shop: str, client: FlaskClient, runner: FlaskCliRunner, send_webhook: Send, drain: Callable[[], int],
        sink: smtp_sink.Sink) -> None:
    deliver(send_webhook, drain, days_ago=3)
    send_due(runner)
    [mail_in] = sink.received
    last_day = (datetime.now(UTC) - timedelta(days=3)).astimezone(NYC).date() + timedelta(days=30)
    sentence = f"You can return this order until {format_skeleton('yMMMMEd', last_day, locale='en_US')}"
    text, html = mail_in.part("plain"), mail_in.part("html")
    assert sentence in text and sentence in html
    page = client.post(link(text, 5).split("?")[0], data={"csat": "5", "nps": "9", "comment": "ok"})
    assert sentence in page.get_data(as_text=True)


def test_an_order_of_final_sale_items_says_final_sale_in_the_shoppers_language(
        shop: str, runner: FlaskCliRunner, send_webhook: Send, drain: Callable[[], int],
        sink: smtp_sink.Sink) -> None:
    for product_id in (788032119674292922, 921728736):
        product = fixture("products_update__basic") | {"id": product_id, "tags": "final-sale"}
        send_webhook("products/update", product, event_id=f"p{product_id}")
    deliver(send_webhook, drain, days_ago=3, locale="pl")
    send_due(runner)
    assert "Wyprzedaż — bez możliwości zwrotu" in sink.received[0].part("plain")


def test_a_closed_window_adds_no_line(app: Flask, shop: str, runner: FlaskCliRunner, send_webhook: Send,
                                      drain: Callable[[], int], sink: smtp_sink.Sink, client: FlaskClient) -> None:
    saved = client.put("/api/admin/settings", json={"returns": {"window_days": 1}},
                       headers={"Authorization": f"Bearer {session_token()}"})
    assert saved.status_code == 200
    with app.app_context():  # terms in force well before the order was placed
        db.session.execute(sa.update(SettingsVersion).values(effective_from=datetime.now(UTC) - timedelta(days=30)))
        db.session.commit()
    deliver(send_webhook, drain, days_ago=3)
    send_due(runner)
    assert "return" not in sink.received[0].part("plain").lower()
