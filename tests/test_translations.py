"""The ten catalogues agree with English, and the survey e-mail, alert and survey page render in them.

No Flask app here: the catalogues are read from disk and the templates rendered with a plain Jinja
environment that escapes .html and leaves .txt alone, as Flask does.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

ROOT = Path(__file__).resolve().parent.parent / "cxplugin"
CATALOGUES = ROOT / "translations"
LOCALES = ("en", "he", "nl", "ar", "pl", "vi", "pt-BR", "es", "fr", "de")
RTL = {"he", "ar"}
SHOP = "Ben & Jerry's <Shop>"
ESCAPED_SHOP = "Ben &amp; Jerry&#39;s &lt;Shop&gt;"
URL = "https://cx.example.test"
Catalogue = dict[str, dict[str, str]]


@cache
def load(locale: str) -> Catalogue:
    data: Catalogue = json.loads((CATALOGUES / f"{locale}.json").read_text(encoding="utf-8"))
    return data


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def translator(locale: str, section: str) -> Callable[..., str]:
    def t(key: str, **values: Any) -> str:
        return load(locale)[section][key].format(**{k: str(v) for k, v in values.items()})
    return t


@pytest.fixture(scope="module")
def env() -> Environment:
    return Environment(loader=FileSystemLoader(str(ROOT / "templates")), autoescape=select_autoescape(["html"]),
                       undefined=StrictUndefined)


def without_style_blocks(html: str) -> str:
    return re.sub(r"<(style|script)\b[^>]*>.*?</\1>", "", html, flags=re.S)


# ---- catalogues ---------------------------------------------------------------------------------

def test_there_is_a_catalogue_for_each_language_and_no_other() -> None:
    assert sorted(p.stem for p in CATALOGUES.glob("*.json")) == sorted(LOCALES)


def test_every_catalogue_has_exactly_the_sections_and_keys_of_english() -> None:
    english = load("en")
    problems = []
    for locale in LOCALES[1:]:
        other = load(locale)
        for section in english.keys() - other.keys():
            problems.append(f"{locale}.json: missing section {section!r}")
        for section in other.keys() - english.keys():
            problems.append(f"{locale}.json: extra section {section!r}")
        for section in english.keys() & other.keys():
            problems += [f"{locale}.json: missing key {section}.{key}"
                         for key in english[section].keys() - other[section].keys()]
            problems += [f"{locale}.json: extra key {section}.{key}"
                         for key in other[section].keys() - english[section].keys()]
    assert problems == []


def test_the_sections_the_templates_use_are_there() -> None:
    assert {"storefront", "survey", "survey_page", "alert"} <= load("en").keys()


@pytest.mark.parametrize("locale", LOCALES[1:])
def test_placeholders_match_english(locale: str) -> None:
    english, other = load("en"), load(locale)
    wrong = [f"{locale}.json {section}.{key}: {sorted(placeholders(other[section][key]))} "
             f"instead of {sorted(placeholders(text))}"
             for section, phrases in english.items() for key, text in phrases.items()
             if key in other.get(section, {}) and placeholders(other[section][key]) != placeholders(text)]
    assert wrong == []


@pytest.mark.parametrize("locale", LOCALES)
def test_no_phrase_is_empty_unless_english_is(locale: str) -> None:
    english, other = load("en"), load(locale)
    empty = [f"{locale}.json {section}.{key}" for section, phrases in other.items() for key, text in phrases.items()
             if not text.strip() and english.get(section, {}).get(key, "").strip()]
    assert empty == []


@pytest.mark.parametrize("locale", LOCALES)
def test_every_phrase_formats_with_its_placeholders(locale: str) -> None:
    for section, phrases in load(locale).items():
        for key, text in phrases.items():
            formatted = text.format(**{name: "X" for name in placeholders(text)})
            assert "{" not in formatted and "}" not in formatted, f"{locale}.json {section}.{key}"


# ---- survey e-mail ------------------------------------------------------------------------------

def survey_context(locale: str, question: str, **overrides: Any) -> dict[str, Any]:
    scores = range(1, 6) if question == "csat" else range(0, 11)
    context: dict[str, Any] = {
        "t": translator(locale, "survey"), "locale": locale, "dir": "rtl" if locale in RTL else "ltr",
        "shop_name": SHOP, "logo_url": None, "brand_color": "#1a73e8", "first_name": "Dana",
        "item_title": "Linen shirt", "more_items": 2, "question": question,
        "score_links": [(score, f"{URL}/s/tok-{question}?score={score}") for score in scores],
        "unsubscribe_url": f"{URL}/u/unsub-token", "reminder": False,
    }
    context.update(overrides)
    return context


@pytest.mark.parametrize("question", ["csat", "nps"])
@pytest.mark.parametrize("locale", LOCALES)
def test_survey_mail_renders_in_every_language(env: Environment, locale: str, question: str) -> None:
    context = survey_context(locale, question)
    html = env.get_template("email/survey.html").render(context)
    text = env.get_template("email/survey.txt").render(context)
    phrases = load(locale)["survey"]
    direction = "rtl" if locale in RTL else "ltr"

    assert f'<html lang="{locale}" dir="{direction}">' in html
    for score, url in context["score_links"]:
        assert f'href="{url}"' in html
        assert f"{score} — {url}\n" in text
    assert html.count("?score=") == text.count("?score=") == len(context["score_links"])
    assert 'href="https://cx.example.test/u/unsub-token"' in html
    assert text.rstrip().endswith("https://cx.example.test/u/unsub-token")
    for key in (f"{question}_low", f"{question}_high", "one_click"):
        assert phrases[key] in text
    assert phrases["greeting"].format(name="Dana") in text
    assert phrases["intro_more"].format(item="Linen shirt", count=2, shop=SHOP) in text
    assert phrases[f"{question}_question"].format(shop=SHOP) in text
    assert phrases["footer"].format(shop=SHOP) in text
    for leftover in ("{", "}"):
        assert leftover not in text
        assert leftover not in without_style_blocks(html)
    # the shop's name is escaped in HTML and left alone in the text part
    assert ESCAPED_SHOP in html and "<Shop>" not in html
    assert SHOP in text
    assert "<style" not in without_style_blocks(html)  # apart from the optional media query, CSS is inline


@pytest.mark.parametrize("locale", ["en", "he", "ar", "de"])
def test_survey_mail_variants(env: Environment, locale: str) -> None:
    phrases = load(locale)["survey"]
    context = survey_context(locale, "csat", first_name=None, item_title="Mug", more_items=0, reminder=True,
                             logo_url="https://cdn.example.test/logo.png", brand_color="#ffd400")
    html = env.get_template("email/survey.html").render(context)
    text = env.get_template("email/survey.txt").render(context)
    assert phrases["greeting_anonymous"] in text and phrases["greeting_anonymous"] in html
    assert phrases["intro_one"].format(item="Mug", shop=SHOP) in text
    assert f'<img src="https://cdn.example.test/logo.png" alt="{ESCAPED_SHOP}"' in html
    assert "color:#111111" in html  # dark text on a light brand colour

    bare = survey_context(locale, "nps", item_title=None, more_items=0)
    text = env.get_template("email/survey.txt").render(bare)
    assert "None" not in text and phrases["greeting"].format(name="Dana") in text
    assert "color:#ffffff" in env.get_template("email/survey.html").render(bare)  # white on the default blue


# ---- merchant alert -----------------------------------------------------------------------------

@pytest.mark.parametrize("locale", ["en", "fr"])
def test_alert_renders(env: Environment, locale: str) -> None:
    items = [{"order_name": "#1001", "csat": 1, "nps": None, "comment": "Box <crushed> & late", "detractor": True},
             {"order_name": None, "csat": None, "nps": 9, "comment": "Lovely packaging", "detractor": False}]
    context = {"t": translator(locale, "alert"), "shop_name": SHOP, "admin_url": "https://admin.shopify.com/store/x",
               "items": items}
    html = env.get_template("email/alert.html").render(context)
    text = env.get_template("email/alert.txt").render(context)
    phrases = load(locale)["alert"]
    for part in (html, text):
        assert phrases["subject"].format(count=2) in part
        assert phrases["order"].format(name="#1001") in part
        assert "CSAT 1/5" in part and "NPS 9/10" in part
        assert "https://admin.shopify.com/store/x" in part
        assert "{" not in part and "}" not in part
    assert "Box &lt;crushed&gt; &amp; late" in html
    assert "Box <crushed> & late" in text


# ---- survey page --------------------------------------------------------------------------------

def page_context(locale: str, state: str, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "t": translator(locale, "survey_page"), "ts": translator(locale, "survey"), "locale": locale,
        "dir": "rtl" if locale in RTL else "ltr", "shop_name": SHOP, "brand_color": "#1a73e8", "state": state,
        "nonce": "n0nce",
    }
    context.update(extra)
    return context


def answer(questions: tuple[str, ...] = ("csat", "nps"), chosen: int | None = 4, *,
           answered: bool = True, confirm: tuple[str, int] | None = None) -> dict[str, Any]:
    scales = [{"question": q, "scores": list(range(1, 6) if q == "csat" else range(0, 11)),
               "chosen": chosen if i == 0 else None} for i, q in enumerate(questions)]
    return {"scales": scales, "answered": answered, "confirm": confirm, "form_action": "/s/tok",
            "comment": "Arrived <early> & intact"}


EXPECTED = {
    "answer": ["thanks_score", "change_score", "comment_label", "comment_placeholder", "submit"],
    "thanks": ["thanks_final"],
    "invalid": ["invalid_title", "invalid_body"],
    "expired": ["expired_title", "expired_body"],
    "unsubscribe": ["unsubscribe_title", "unsubscribe_confirm", "unsubscribe_button"],
    "unsubscribed": ["unsubscribe_title", "unsubscribed"],
}


@pytest.mark.parametrize("state", list(EXPECTED))
@pytest.mark.parametrize("locale", ["en", "he"])
def test_page_renders_in_every_state(env: Environment, locale: str, state: str) -> None:
    extra = answer() if state == "answer" else {"form_action": "/u/tok"} if state == "unsubscribe" else {}
    html = env.get_template("survey/page.html").render(page_context(locale, state, **extra))
    direction = "rtl" if locale in RTL else "ltr"
    assert f'<html lang="{locale}" dir="{direction}">' in html
    phrases = load(locale)["survey_page"]
    for key in EXPECTED[state]:
        expected = str(env.from_string("{{ p }}").render(p=phrases[key].format(shop=SHOP)))
        assert expected in html, f"{locale} {state}: {key}"
    assert "{" not in without_style_blocks(html) and "}" not in without_style_blocks(html)
    assert "<Shop>" not in html and "http://" not in html and "https://" not in html  # standalone
    if state in ("answer", "unsubscribe"):
        assert f'<form method="post" action="{extra["form_action"]}"' in html
        assert '<button type="submit">' in html


def test_answer_page_marks_the_chosen_score_and_asks_the_second_question_in_the_same_form(
        env: Environment) -> None:
    html = env.get_template("survey/page.html").render(page_context("he", "answer", **answer()))
    assert without_style_blocks(html).count(" checked") == 1
    assert '<input type="radio" id="csat-4" name="csat" value="4" checked><label for="csat-4">4</label>' in html
    assert all(f'name="nps" value="{s}"' in html for s in range(0, 11))
    assert load("he")["survey"]["nps_question"].format(shop="X").split("X")[0] in html
    assert '<textarea id="comment" name="comment" maxlength="2000"' in html
    assert '<label for="comment">' in html
    assert ">Arrived &lt;early&gt; &amp; intact</textarea>" in html
    assert "<script" not in html  # nothing to confirm: no script


def test_answer_page_without_a_score_or_second_question(env: Environment) -> None:
    html = env.get_template("survey/page.html").render(
        page_context("en", "answer", **answer(("nps",), chosen=None, answered=False)))
    assert " checked" not in without_style_blocks(html)
    assert html.count('name="nps"') == 11
    assert load("en")["survey"]["nps_question"].format(shop=ESCAPED_SHOP) in html
    assert load("en")["survey_page"]["thanks_score"] not in html


@pytest.mark.parametrize("locale", LOCALES)
def test_a_clicked_score_is_offered_for_confirmation_by_script_and_by_the_send_button(
        env: Environment, locale: str) -> None:
    html = env.get_template("survey/page.html").render(
        page_context(locale, "answer", **answer(chosen=2, answered=False, confirm=("csat", 2))))
    phrases = load(locale)["survey_page"]
    assert str(env.from_string("{{ p }}").render(p=phrases["confirm_hint"])) in html
    assert 'data-question="csat" data-score="2"' in html
    assert '<script nonce="n0nce">' in html and '<style nonce="n0nce">' in html
    assert '<button type="submit">' in html
