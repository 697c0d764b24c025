"""The promise each order was made under: the one the shopper saw, or the one the settings gave then.

The shopper's browser writes the promise it showed into a cart attribute, which anyone can write: it is
taken only when the settings could have made it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from cxplugin.extensions import db
from cxplugin.logs import log
from cxplugin.models import Order, Shop
from cxplugin.models.types import utcnow
from cxplugin.promise import calculator as promise
from cxplugin.promise import learning, punctuality
from cxplugin.promise import product_tags as products
from cxplugin.shops import settings as shop_settings

# The cart attribute the storefront block writes; it reaches orders/create as a note attribute.
PROMISE_ATTRIBUTE = "_cx_promise"
# How long before the order a promise shown in the cart may have been given: the storefront answer is held
# until its cutoff passes, and a cart may wait in a tab overnight.
SHOWN_VALIDITY = timedelta(hours=24)


def shown_promise(raw: str | None) -> tuple[date, date] | None:
    """Parse the block's cart attribute, ``{"earliest": "YYYY-MM-DD", "latest": "YYYY-MM-DD", …}``."""
    if not raw:
        return None
    try:
        data = json.loads(raw)
        earliest, latest = date.fromisoformat(data["earliest"]), date.fromisoformat(data["latest"])
    except (ValueError, TypeError, KeyError):
        return None
    return (earliest, latest) if earliest <= latest else None


def attach(shop: Shop, order: Order) -> None:
    """Record the order's promise once, as soon as we know when the order was placed."""
    if order.promise_source is not None or order.placed_at is None:
        return
    product_ids = [li["product_id"] for li in order.line_items if li.get("product_id")]
    # The tags held now; products not held count as untagged, and are fetched once this transaction commits
    # (no call to Shopify inside it), so that later orders see their tags.
    tags, wanted = products.known_tags(shop.id, product_ids, utcnow()) if product_ids else ({}, [])
    products.want_after_commit(db.session(), shop.id, wanted)
    item_tags = products.tags_in_order(tags, product_ids)
    shown = shown_promise(order.note_attributes.get(PROMISE_ATTRIBUTE))
    if shown is not None:
        window = possible_window(shop, order, item_tags)
        if window is not None and window[0] <= shown[0] and shown[1] <= window[1]:
            order.promise_earliest, order.promise_latest = shown
            order.promise_source, order.promise_rule = "storefront", None
            return
        log("cart promise refused: the settings could not have made it", 30, shop=shop.domain,
            order_id=order.shopify_id, shown=[d.isoformat() for d in shown],
            possible=[d.isoformat() for d in window] if window else None)
    computed = _computed(shop, order, order.placed_at, item_tags)
    if computed is None:
        order.promise_source, order.promise_rule = "none", "no promise"
        return
    result, choice = computed
    order.promise_earliest, order.promise_latest = result.earliest, result.latest
    order.promise_source = "computed" if result.served else "none"
    order.promise_rule = result.rule
    order.promise_mode, order.promise_model_version = choice.mode, choice.model_version


def _destination(order: Order, region: str | None) -> promise.Destination:
    return promise.Destination(order.destination_country or "", region, order.destination_zip)


def _computed(shop: Shop, order: Order, moment: datetime, item_tags: Sequence[Iterable[str]],
              destination: promise.Destination | None = None,
              method: str | None = None) -> tuple[promise.Promise, learning.Choice] | None:
    """The promise the settings in force at ``moment`` give the order's destination (the learned model then in
    force, in learned mode), and how it was chosen; None when promises are off."""
    settings = shop_settings.in_force_at(shop, moment)
    if not settings["promise"]["enabled"] or not order.destination_country:
        return None
    target = destination or _destination(order, order.destination_province)
    mode = settings["promise"]["mode"]
    choice = learning.promise_settings_for(
        shop_settings.promise_settings(settings, shop.timezone, shop.country_code), mode,
        learning.latest(shop.id, at=moment) if mode == "learned" else None, target)
    return promise.compute(choice.settings, moment, target, method, item_tags), choice


def possible_window(shop: Shop, order: Order, item_tags: Sequence[Iterable[str]]) -> tuple[date, date] | None:
    """The earliest and latest dates the storefront could have shown for this order: the answers of the
    settings from SHOWN_VALIDITY before the order to the order itself (a promise only moves later with
    the clock), for the order's region or its country alone (the block may not know the region), by any
    shipping method of the zone. None when no promise could have been shown."""
    if order.placed_at is None or not order.destination_country:
        return None
    dates: list[date] = []
    for moment in (order.placed_at - SHOWN_VALIDITY, order.placed_at):
        settings = shop_settings.in_force_at(shop, moment)
        if not settings["promise"]["enabled"]:
            continue
        calculator = shop_settings.promise_settings(settings, shop.timezone, shop.country_code)
        for destination in {_destination(order, order.destination_province), _destination(order, None)}:
            zone, _ = calculator.zone_for(destination)
            for method in [None, *(zone.methods if zone else ())]:
                computed = _computed(shop, order, moment, item_tags, destination, method)
                result = computed[0] if computed is not None else None
                if result is not None and result.served and result.earliest and result.latest:
                    dates += [result.earliest, result.latest]
    return (min(dates), max(dates)) if dates else None


def summary(shop: Shop, order: Order) -> dict[str, Any]:
    """The promise and whether it was kept, for the admin API."""
    delivered_at = punctuality.order_delivered_at(
        [s.delivered_at for s in order.shipments if s.fulfillment_status not in ("cancelled", "error", "failure")])
    verdict = (punctuality.judge(order.promise_latest, delivered_at, shop.timezone)
               if delivered_at and order.promise_latest else None)
    return {
        "earliest": order.promise_earliest.isoformat() if order.promise_earliest else None,
        "latest": order.promise_latest.isoformat() if order.promise_latest else None,
        "source": order.promise_source,
        "rule": order.promise_rule,
        "delivered_on": verdict.delivered_on.isoformat() if verdict else None,
        "kept": verdict.kept if verdict else None,
        "days_late": verdict.days_late if verdict else None,
    }
