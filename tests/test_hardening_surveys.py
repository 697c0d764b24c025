"""The survey path against what the real world does to it: mail scanners that fetch every link, odd
scores, rotated secrets, refused and malformed mail, workers whose clocks disagree."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from cxplugin.models import SurveyStatus
from tests import smtp_sink
from tests.conftest import Send
from tests.test_surveys import click_and_confirm, deliver, link, send_due, survey_of

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
