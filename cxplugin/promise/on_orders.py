"""The promise each order was made under: the one the shopper saw, or the one the settings gave then."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from cxplugin.models import Order, Shop
from cxplugin.promise import calculator as promise
from cxplugin.promise import punctuality
from cxplugin.promise.product_tags import tags_for
from cxplugin.shops import settings as shop_settings

# The cart attribute the storefront block writes; it reaches orders/create as a note attribute.
PROMISE_ATTRIBUTE = "_cx_promise"


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
    shown = shown_promise(order.note_attributes.get(PROMISE_ATTRIBUTE))
    settings = shop_settings.in_force_at(shop, order.placed_at)
    calculator_settings = shop_settings.promise_settings(settings, shop.timezone, shop.country_code)
    destination = promise.Destination(order.destination_country or "", order.destination_province,
                                      order.destination_zip)
    if order.destination_country:
        # The zone the destination fell in when the order was placed: the scores break deliveries down by it.
        zone, _ = calculator_settings.zone_for(destination)
        order.promise_zone = zone.name if zone else None
    if shown:
        order.promise_earliest, order.promise_latest = shown
        order.promise_source, order.promise_rule = "storefront", None
        return
    if not settings["promise"]["enabled"] or not order.destination_country:
        order.promise_source, order.promise_rule = "none", "no promise"
        return
    product_ids = [li["product_id"] for li in order.line_items if li.get("product_id")]
    result = promise.compute(
        calculator_settings, order.placed_at, destination,
        item_tags=tags_for(shop, product_ids) if product_ids else [],
    )
    order.promise_earliest, order.promise_latest = result.earliest, result.latest
    order.promise_source = "computed" if result.served else "none"
    order.promise_rule = result.rule


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
