"""The shopper's survey page in a real Chromium: one click from the e-mail, then a comment, in en and he;
and the same without JavaScript."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from tests import smtp_sink
from tests.browser import chromium_page, live
from tests.conftest import Send
from tests.test_surveys import deliver, send_due, survey_of

pytestmark = pytest.mark.browser


def clicked_link(sink: smtp_sink.Sink, score: int) -> str:
    path = re.search(rf"https://cx\.example\.test(/s/\S+\?score={score})", sink.received[0].part("plain"))
    assert path
    return path.group(1)


@pytest.mark.parametrize(("locale", "direction"), [("en", "ltr"), ("he", "rtl")])
def test_the_page_confirms_the_score_clicked_in_the_email_then_takes_a_comment(
        app: Flask, shop: str, runner: FlaskCliRunner, send_webhook: Send, drain: Callable[[], int],
        sink: smtp_sink.Sink, locale: str, direction: str) -> None:
    deliver(send_webhook, drain, locale=locale)
    send_due(runner)
    with live(app) as base, chromium_page() as page:
        blocked: list[str] = []
        page.on("console", lambda message: blocked.append(message.text)
                if "Content Security Policy" in message.text else None)
        page.goto(base + clicked_link(sink, 4))
        assert page.locator("html").get_attribute("dir") == direction
        assert page.locator("html").get_attribute("lang") == locale
        assert page.evaluate("getComputedStyle(document.body).direction") == direction
        assert page.locator("input[name=csat]:checked").get_attribute("value") == "4"
        # The page's own style runs under the policy: the chosen score is filled with the brand colour.
        assert page.evaluate("getComputedStyle(document.querySelector('input:checked + label')).backgroundColor"
                             ) == "rgb(26, 115, 232)"
        page.wait_for_function("document.getElementById('hint').hidden")  # the script has confirmed the click
        assert survey_of(app).csat == 4
        page.locator("textarea[name=comment]").fill("Arrived a day early")
        page.locator("form button[type=submit]").click()
        page.wait_for_load_state()
        assert "/s/" in page.url
        assert blocked == []
    survey = survey_of(app)
    assert (survey.csat, survey.comment) == (4, "Arrived a day early")


def test_without_javascript_the_send_button_saves_the_clicked_score(
        app: Flask, shop: str, runner: FlaskCliRunner, send_webhook: Send, drain: Callable[[], int],
        sink: smtp_sink.Sink) -> None:
    deliver(send_webhook, drain)
    send_due(runner)
    with live(app) as base, chromium_page(javascript=False) as page:
        page.goto(base + clicked_link(sink, 2))
        assert page.locator("#hint").is_visible()  # "Press Send to save your answer."
        assert survey_of(app).csat is None
        page.locator("label[for=nps-3]").click()  # the second question, in the same form
        page.locator("form button[type=submit]").click()
        page.wait_for_load_state()
    survey = survey_of(app)
    assert (survey.csat, survey.nps, survey.alert_state) == (2, 3, "pending")
