"""A shop's return terms as the eligibility rules take them, and as a shopper reads them in their language."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from babel.dates import format_skeleton
from babel.numbers import format_currency
from markupsafe import escape

from cxplugin import i18n
from cxplugin.returns import eligibility
from cxplugin.returns.eligibility import Exclusion, ReturnTerms


def return_terms(settings: dict[str, Any], timezone: str, country: str | None) -> ReturnTerms:
    """The rules' input for these settings (the ``returns`` section) in this shop's zone and country."""
    return _return_terms(json.dumps(settings["returns"], sort_keys=True), timezone, country or "")


@functools.lru_cache(maxsize=512)
def _return_terms(section_json: str, timezone: str, country: str) -> ReturnTerms:
    r = json.loads(section_json)
    return ReturnTerms(
        timezone=timezone, country=country, enabled=r["enabled"], window_days=r["window_days"],
        business_days=r["day_kind"] == "business", counts_from=r["counts_from"], fallback_days=r["fallback_days"],
        excluded_tags=frozenset(r["excluded_tags"]), excluded_product_types=frozenset(r["excluded_product_types"]),
        discounted_final_sale=r["discounted_final_sale"],
    )


def fee_text(section: dict[str, Any], locale: str) -> str | None:
    """The return fee as the shopper's locale writes money ("€4.95", "4,95 €"), or None for free returns."""
    fee = section.get("fee")
    if not fee or Decimal(fee["amount"]) == 0:
        return None
    return str(format_currency(Decimal(fee["amount"]), fee["currency"], locale=i18n.babel_locale(locale, None)))


def products_line(settings: dict[str, Any], timezone: str, country: str | None,
                  product_tags: Sequence[Iterable[str]], locale: str) -> dict[str, Any]:
    """The returns line for the products a shopper looks at: final sale when any of them is, else the window and fee.

    Product types and discounts are not known on a product page; they are judged after the purchase.
    """
    section = settings["returns"]
    terms = return_terms(settings, timezone, country)
    if not terms.enabled:
        return {"kind": "none", "text": ""}
    if any(eligibility.exclusion(terms, tags, None, False) is Exclusion.EXCLUDED_TAG for tags in product_tags):
        return {"kind": "final_sale", "text": i18n.phrase(locale, "returns", "final_sale")}
    return terms_line(section, locale)


def terms_line(section: dict[str, Any], locale: str) -> dict[str, Any]:
    """'Free returns within 30 days of delivery' / 'Returns within 14 days, €4.95' in the shopper's language."""
    if not section["enabled"]:
        return {"kind": "none", "text": ""}
    days = str(section["window_days"])
    unit = "business_days" if section["day_kind"] == "business" else "days"
    fee = fee_text(section, locale)
    key = f"paid_{unit}" if fee else f"free_{unit}"
    text = i18n.phrase(locale, "returns", key, days=days, fee=fee or "")
    return {"kind": "paid" if fee else "free", "text": text, "window_days": section["window_days"], "fee": fee}


def deadline_text(day: date, locale: str, country: str | None) -> str:
    """'You can return items until Mon, Dec 14' in the shopper's language."""
    when = format_skeleton("yMMMMEd", day, locale=i18n.babel_locale(locale, country))
    return i18n.phrase(locale, "returns", "until", date=when)


def _liquid_safe(text: str) -> str:
    """Text for a Liquid page: HTML-escaped, and braces and percent signs as entities so Liquid reads no tag in it."""
    escaped = str(escape(text))
    return escaped.replace("{", "&#123;").replace("}", "&#125;").replace("%", "&#37;")


def terms_page(settings: dict[str, Any], locale: str) -> str:
    """The return terms as a Liquid page for the app proxy, rendered by Shopify inside the shop's theme.

    Only the shop's own settings and the app's phrases go in, all escaped; nothing from the request does
    (the language is one of the app's ten, chosen by :func:`i18n.negotiate`). The one Liquid expression is
    the theme's own account URL.
    """
    section = settings["returns"]
    direction = i18n.direction(locale)
    parts = [f'<section class="cx-returns" dir="{direction}" lang="{locale}">',
             f"<h1>{_liquid_safe(i18n.phrase(locale, 'returns', 'title'))}</h1>"]
    line = terms_line(section, locale)
    if line["text"]:
        parts.append(f"<p>{_liquid_safe(line['text'])}</p>")
    if section["enabled"] and section["restocking_fee_percent"]:
        fee = i18n.phrase(locale, "returns", "restocking", percent=str(section["restocking_fee_percent"]))
        parts.append(f"<p>{_liquid_safe(fee)}</p>")
    how = section["instructions"].get(locale) or section["instructions"].get("en")
    if section["enabled"] and how:
        paragraphs = [p.strip() for p in how.split("\n\n") if p.strip()]
        parts.extend(f"<p>{_liquid_safe(p)}</p>" for p in paragraphs)
    if section["enabled"]:
        sign_in = _liquid_safe(i18n.phrase(locale, "returns", "sign_in"))
        parts.append(f'<p><a href="{{{{ routes.account_url }}}}">{sign_in}</a></p>')
    if section["policy_url"]:
        parts.append(f'<p><a href="{_liquid_safe(section["policy_url"])}">'
                     f"{_liquid_safe(i18n.phrase(locale, 'returns', 'policy'))}</a></p>")
    parts.append("</section>")
    return "\n".join(parts) + "\n"
