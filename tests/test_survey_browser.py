"""The shopper's survey page in a real Chromium: one click from the e-mail, then a comment, in en and he."""

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


@pytest.mark.parametrize(("locale", "direction"), [("en", "ltr"), ("he", "rtl")])
def test_click_from_the_email_then_comment(app: Flask, shop: str, runner: FlaskCliRunner, send_webhook: Send,
                                           drain: Callable[[], int], sink: smtp_sink.Sink, locale: str,
                                           direction: str) -> None:
    deliver(send_webhook, drain, locale=locale)
    send_due(runner)
    text = sink.received[0].part("plain")
    path = re.search(r"https://cx\.example\.test(/s/\S+\?score=4)", text)
    assert path
    with live(app) as base, chromium_page() as page:
        page.goto(base + path.group(1))
        assert page.locator("html").get_attribute("dir") == direction
        assert page.locator("html").get_attribute("lang") == locale
        assert page.evaluate("getComputedStyle(document.body).direction") == direction
        assert page.locator("[aria-current=true]").first.inner_text().strip() == "4"
        page.locator("textarea[name=comment]").fill("Arrived a day early")
        page.locator("form button, form [type=submit]").first.click()
        page.wait_for_load_state()
        assert "/s/" in page.url
    survey = survey_of(app)
    assert (survey.csat, survey.comment) == (4, "Arrived a day early")
