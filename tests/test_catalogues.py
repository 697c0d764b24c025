"""The ten shopper languages: every catalogue has every phrase, with the same placeholders, and renders."""

from __future__ import annotations

import json
import string
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


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_there_is_a_catalogue_for_each_language_and_no_other() -> None:
    assert sorted(p.stem for p in CATALOGUES.glob("*.json")) == sorted(i18n.LOCALES)


@pytest.mark.parametrize("locale", [loc for loc in i18n.LOCALES if loc != "en"])
def test_catalogue_has_every_phrase_of_english_with_the_same_placeholders(locale: str) -> None:
    english, other = load("en"), load(locale)
    missing = [f"{section}.{key}" for section, phrases in english.items() for key in phrases
               if key not in other.get(section, {})]
    extra = [f"{section}.{key}" for section, phrases in other.items() for key in phrases
             if key not in english.get(section, {})]
    assert (missing, extra) == ([], []), f"{locale}.json"
    for section, phrases in english.items():
        for key, text in phrases.items():
            assert placeholders(other[section][key]) == placeholders(text), f"{locale}.json {section}.{key}"
            assert other[section][key].strip(), f"{locale}.json {section}.{key} is empty"


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
