"""The survey mail, end to end over SMTP, in each of the ten shopper languages.

That the catalogues agree with each other is tests/test_translations.py's concern."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from cxplugin import i18n
from tests import smtp_sink
from tests.conftest import Send

CATALOGUES = Path(__file__).resolve().parent.parent / "cxplugin" / "translations"


def load(locale: str) -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads((CATALOGUES / f"{locale}.json").read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_survey_mail_renders_in_every_language(locale: str, app: Flask, shop: str, runner: FlaskCliRunner,
                                               send_webhook: Send, drain: Callable[[], int],
                                               sink: smtp_sink.Sink) -> None:
    from tests.test_surveys import deliver, send_due

    deliver(send_webhook, drain, locale=locale)
    send_due(runner)
    [received] = sink.received
    html, text = received.part("html"), received.part("plain")
    expected: dict[str, Any] = load(locale)["survey"]
    assert received.message["Subject"] == expected["subject"].format(shop=shop)
    assert f'dir="{i18n.direction(locale)}"' in html
    assert expected["csat_question"] in text and expected["csat_question"] in html
    for leftover in ("{", "}"):
        assert leftover not in text
    assert text.count("?score=") == 5
