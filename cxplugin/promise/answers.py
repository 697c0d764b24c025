"""The storefront's promise answer: the calculator's result plus ready-to-show sentences."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from werkzeug.datastructures import MultiDict

from cxplugin import i18n
from cxplugin.promise import calculator as promise
from cxplugin.promise import learning
from cxplugin.schemas.storefront import PromiseQuery
from cxplugin.shopify.signatures import PROXY_SIGNING_PARAMS
from cxplugin.shops import settings as shop_settings
from cxplugin.shops.snapshot import ShopView, product_tags, remembered

_SECOND = timedelta(seconds=1)
_QUERY = PromiseQuery()


@dataclass(frozen=True)
class HeldAnswer:
    """A promise answer that stays true until its cutoff passes: only the countdown moves before then.

    The calculator's dates depend on ``now`` only through the day processing starts, and that day stays
    the same until its cutoff (after a cutoff, or on a closed day, it is the next open day, which is
    also what any later moment before that day's cutoff gives).
    """

    answer: dict[str, Any]
    cutoff_at: datetime | None

    def still_true(self, now: datetime) -> bool:
        return self.cutoff_at is None or now < self.cutoff_at

    def json(self, now: datetime) -> bytes:
        seconds = (self.cutoff_at - now) // _SECOND if self.cutoff_at is not None else None
        return orjson.dumps(self.answer | {"seconds_to_cutoff": seconds})


def held_promise_answer(shop: ShopView, args: MultiDict[str, str], now: datetime) -> HeldAnswer:
    """The answer to a storefront's query ``args``. A storefront asks the same few questions again and again,
    so each distinct question's answer is held until its cutoff (at most the snapshot's 30 s).

    Raises marshmallow's ValidationError when ``args`` are not a valid promise query.
    """
    asked = _question(args.lists())
    return remembered(shop.id, ("promise", asked), lambda: promise_answer(shop, _QUERY.load(args), now),
                      lambda answer: answer.still_true(now))


def _question(params: Iterable[tuple[str, list[str]]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    # What the storefront asked, without what Shopify's proxy adds to sign it.
    return tuple(sorted((key, tuple(values)) for key, values in params if key not in PROXY_SIGNING_PARAMS))


def promise_answer(shop: ShopView, query: dict[str, Any], now: datetime) -> HeldAnswer:
    """The answer for ``query`` as of ``now``, in the form that can be held and served again."""
    settings = shop.settings
    locale = i18n.negotiate(query["locale"], shop.primary_locale)
    country = (query["country"] or shop.country_code or "").upper()
    answer: dict[str, Any] = {"locale": locale, "dir": i18n.direction(locale)}
    if not settings["promise"]["enabled"] or not country:
        return HeldAnswer(answer | _not_served("disabled" if country else "no_destination", locale, country), None)
    tags = product_tags(shop, query["product_ids"]) if query["product_ids"] else []
    destination = promise.Destination(country, query["region"])
    choice = learning.promise_settings_for(shop_settings.promise_settings(settings, shop.timezone, shop.country_code),
                                           settings["promise"]["mode"], shop.learned, destination)
    result = promise.compute(choice.settings, now, destination, query["method"], tags)
    if not result.served or result.earliest is None or result.latest is None:
        return HeldAnswer(answer | _not_served(result.reason or "destination_not_served", locale, country), None)
    dates = i18n.format_dates(result.earliest, result.latest, locale, country)
    return HeldAnswer(answer | {
        "served": True,
        "earliest": result.earliest.isoformat(),
        "latest": result.latest.isoformat(),
        "dispatch": result.dispatch_earliest.isoformat() if result.dispatch_earliest else None,
        "cutoff_at": result.cutoff_at.isoformat() if result.cutoff_at else None,
        "seconds_to_cutoff": result.seconds_to_cutoff,
        "rule": result.rule,
        "mode": choice.mode,
        "text": {
            "arrival": i18n.phrase(locale, "storefront", "arrival", dates=dates),
            "dates": dates,
            "countdown": i18n.phrase(locale, "storefront", "countdown"),
            "hours_minutes": i18n.phrase(locale, "storefront", "hours_minutes"),
            "minutes": i18n.phrase(locale, "storefront", "minutes"),
            "not_served": "",
        },
    }, result.cutoff_at)


def _not_served(reason: str, locale: str, country: str) -> dict[str, Any]:
    sentence = i18n.phrase(locale, "storefront", "not_served", country=i18n.country_name(country, locale)) \
        if country and reason == "destination_not_served" else ""
    return {
        "served": False, "reason": reason, "earliest": None, "latest": None, "dispatch": None, "cutoff_at": None,
        "seconds_to_cutoff": None, "rule": "not served",
        "text": {"arrival": "", "dates": "", "countdown": "", "hours_minutes": "", "minutes": "",
                 "not_served": sentence},
    }
