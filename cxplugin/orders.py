"""Order and shipment state from webhook payloads: monotonic and safe against reordering.

Each payload carries its own timestamp (an order's or fulfilment's ``updated_at``, a carrier
event's ``happened_at``); ties are broken by ``X-Shopify-Triggered-At``. An older payload never
overwrites newer state, and applying the same payload twice changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from cxplugin.extensions import db
from cxplugin.models import Order, Shipment, ShipmentStatusEvent, Shop

# The shipment statuses that mark a milestone, and the column that keeps when it was first seen.
MILESTONES = {
    "in_transit": "in_transit_at",
    "out_for_delivery": "out_for_delivery_at",
    "delivered": "delivered_at",
}

_EPOCH = datetime.min.replace(tzinfo=UTC)


def is_newer(at: datetime, triggered: datetime | None,
             held_at: datetime | None, held_triggered: datetime | None) -> bool:
    """True when a payload stamped (at, triggered) is as new as or newer than what we hold."""
    if held_at is None:
        return True
    return (at, triggered or _EPOCH) >= (held_at, held_triggered or _EPOCH)


def _earliest(current: datetime | None, seen: datetime | None) -> datetime | None:
    if seen is None:
        return current
    return seen if current is None or seen < current else current


def order_for(shop: Shop, shopify_order_id: int) -> Order:
    """The order row, created as a stub when a fulfilment arrives before its order."""
    order = db.session.scalar(sa.select(Order).where(Order.shop_id == shop.id, Order.shopify_id == shopify_order_id))
    if order is None:
        order = Order(shop_id=shop.id, shopify_id=shopify_order_id, note_attributes={}, line_items=[])
        db.session.add(order)
        db.session.flush()
    return order


def apply_order(shop: Shop, payload: dict[str, Any], triggered_at: datetime | None) -> Order:
    """orders/create, orders/updated, orders/cancelled."""
    order = order_for(shop, payload["id"])
    if is_newer(payload["updated_at"], triggered_at, order.source_updated_at, order.source_triggered_at):
        _copy_order_fields(order, payload)
        order.source_updated_at = payload["updated_at"]
        order.source_triggered_at = triggered_at
    for fulfillment in payload["fulfillments"]:
        apply_fulfillment(shop, fulfillment, triggered_at)
    return order


def _copy_order_fields(order: Order, p: dict[str, Any]) -> None:
    customer = p["customer"] or {}
    address = p["shipping_address"] or {}
    order.name = p["name"]
    order.placed_at = p["created_at"]
    order.customer_id = customer.get("id")
    order.customer_locale = p["customer_locale"]
    order.destination_country = address.get("country_code")
    order.destination_province = address.get("province_code")
    order.line_items = [{key: li[key] for key in ("title", "quantity", "product_id", "variant_id")}
                        for li in p["line_items"]]
    order.financial_status = p["financial_status"]
    order.fulfillment_status = p["fulfillment_status"]
    order.cancelled_at = p["cancelled_at"]
    order.cancel_reason = p["cancel_reason"]
    if order.redacted_at is not None:
        return  # the customer asked to be forgotten: a late or retried payload brings nothing personal back
    order.email = p["email"] or p["contact_email"] or customer.get("email")
    order.first_name = customer.get("first_name") or address.get("first_name")
    order.last_name = customer.get("last_name")
    order.destination_zip = address.get("zip")
    order.note = p["note"]
    order.note_attributes = {a["name"]: "" if a["value"] is None else str(a["value"]) for a in p["note_attributes"]}


def shipment_for(shop: Shop, order: Order, fulfillment_id: int) -> Shipment:
    shipment = db.session.scalar(
        sa.select(Shipment).where(Shipment.shop_id == shop.id, Shipment.fulfillment_id == fulfillment_id)
    )
    if shipment is None:
        shipment = Shipment(shop_id=shop.id, order_id=order.id, fulfillment_id=fulfillment_id)
        db.session.add(shipment)
        db.session.flush()
    return shipment


def apply_fulfillment(shop: Shop, payload: dict[str, Any], triggered_at: datetime | None) -> Shipment:
    """fulfillments/create and fulfillments/update (and fulfilments embedded in an order)."""
    order = order_for(shop, payload["order_id"])
    shipment = shipment_for(shop, order, payload["id"])
    shipment.shipped_at = _earliest(shipment.shipped_at, payload["created_at"])
    updated_at: datetime = payload["updated_at"]
    if is_newer(updated_at, triggered_at, shipment.source_updated_at, shipment.source_triggered_at):
        shipment.name = payload["name"]
        shipment.fulfillment_status = payload["status"]
        if order.redacted_at is None:
            shipment.carrier = payload["tracking_company"]
            shipment.tracking_number = payload["tracking_number"]
            shipment.tracking_url = payload["tracking_url"]
        shipment.source_updated_at = updated_at
        shipment.source_triggered_at = triggered_at
    if payload["shipment_status"]:
        observe_status(shipment, payload["shipment_status"], updated_at, triggered_at,
                       source_key=f"fulfillment:{payload['shipment_status']}")
    return shipment


def apply_fulfillment_event(shop: Shop, payload: dict[str, Any], triggered_at: datetime | None) -> Shipment:
    """fulfillment_events/create: one carrier scan, which may arrive before its fulfilment."""
    order = order_for(shop, payload["order_id"])
    shipment = shipment_for(shop, order, payload["fulfillment_id"])
    happened_at: datetime = payload["happened_at"]
    keep_place = order.redacted_at is None  # a scan text or place may name the customer
    observe_status(
        shipment, payload["status"], happened_at, triggered_at,
        source_key=f"event:{payload['id']}",
        message=payload["message"] if keep_place else None,
        city=payload["city"] if keep_place else None,
        province=payload["province"] if keep_place else None,
        country=payload["country"],
    )
    estimate = payload["estimated_delivery_at"]
    if estimate is not None and (shipment.estimate_observed_at is None or happened_at >= shipment.estimate_observed_at):
        shipment.estimated_delivery_at = estimate
        shipment.estimate_observed_at = happened_at
    return shipment


def observe_status(shipment: Shipment, status: str, at: datetime, triggered_at: datetime | None, *,
                   source_key: str, message: str | None = None, city: str | None = None,
                   province: str | None = None, country: str | None = None) -> None:
    """Record that the shipment had ``status`` at ``at``: history, milestones, current status."""
    milestone = MILESTONES.get(status)
    if milestone:
        setattr(shipment, milestone, _earliest(getattr(shipment, milestone), at))
    _add_history(shipment, status, at, source_key, message, city, province, country)
    if is_newer(at, triggered_at, shipment.status_at, shipment.status_triggered_at):
        shipment.status = status
        shipment.status_at = at
        shipment.status_triggered_at = triggered_at


def _add_history(shipment: Shipment, status: str, at: datetime, source_key: str, message: str | None,
                 city: str | None, province: str | None, country: str | None) -> None:
    # A carrier event is the precise record of a status; a fulfilment update only stands in for
    # one until the carrier's event arrives, so the final history is the same in any arrival order.
    same_status = [h for h in shipment.history if h.status == status]
    if any(h.source_key == source_key for h in shipment.history):
        return
    from_fulfillment = source_key.startswith("fulfillment:")
    if from_fulfillment and same_status:
        return
    if not from_fulfillment:
        for stand_in in (h for h in same_status if h.source_key.startswith("fulfillment:")):
            shipment.history.remove(stand_in)
    shipment.history.append(ShipmentStatusEvent(
        shop_id=shipment.shop_id, source_key=source_key, status=status, happened_at=at,
        message=message, city=city, province=province, country=country,
    ))
