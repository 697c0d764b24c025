"""Shopper-facing languages: which we speak, their direction, their phrases and CLDR date formats."""

from __future__ import annotations

import functools
import json
from datetime import date
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_interval, format_skeleton

LOCALES = ("en", "he", "nl", "ar", "pl", "vi", "pt-BR", "es", "fr", "de")
RTL = frozenset({"he", "ar"})
_CATALOGUES = Path(__file__).parent / "translations"
_DATE_SKELETON = "MMMEd"  # weekday, day and month: "Thu, Nov 26"


def negotiate(*candidates: str | None) -> str:
    """The first supported language among the candidates (e.g. the shopper's, then the shop's); else English."""
    for candidate in candidates:
        if not candidate:
            continue
        tag = candidate.replace("_", "-").strip()
        if tag in LOCALES:
            return tag
        language = tag.split("-")[0].lower()
        if language == "pt":
            return "pt-BR"
        if language == "iw":  # the old code for Hebrew, still sent by some systems
            return "he"
        if language in LOCALES:
            return language
    return "en"


def direction(locale: str) -> str:
    return "rtl" if locale in RTL else "ltr"


@functools.cache
def catalogue(locale: str) -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads((_CATALOGUES / f"{locale}.json").read_text(encoding="utf-8"))
    return data


def phrase(locale: str, section: str, key: str, **values: str) -> str:
    template = catalogue(locale)[section].get(key) or catalogue("en")[section][key]
    return template.format(**values) if values else template


@functools.lru_cache(maxsize=1024)
def babel_locale(locale: str, country: str | None) -> Locale:
    """The language as written in the destination country (en + GB → "Thu 26 Nov"), when CLDR knows it."""
    language = locale.replace("-", "_")
    if country and "_" not in language:
        try:
            return Locale.parse(f"{language}_{country.upper()}")
        except (UnknownLocaleError, ValueError):
            pass
    return Locale.parse(language)


@functools.lru_cache(maxsize=4096)
def format_dates(earliest: date, latest: date, locale: str, country: str | None) -> str:
    where = babel_locale(locale, country)
    if earliest == latest:
        return format_skeleton(_DATE_SKELETON, earliest, locale=where)
    return format_interval(earliest, latest, _DATE_SKELETON, locale=where)


def country_name(code: str, locale: str) -> str:
    name: str = babel_locale(locale, None).territories.get(code.upper(), code.upper())
    return name
