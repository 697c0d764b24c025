"""Shopify's mandatory privacy topics: erase a customer, erase a shop, export a customer's data.

The one place that knows which columns hold personal data. A table that stores personal data
must be added here, with a test in tests/test_privacy.py.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from cxplugin.extensions import db
from cxplugin.models import DataRequest, Order, OutboxMessage, Shipment, ShipmentStatusEvent, Shop, Survey, WebhookEvent
from cxplugin.models.types import utcnow
from cxplugin.returns import records as returns
from cxplugin.schemas.orders import OrderOut

REDACTED_PAYLOAD = json.dumps({"redacted": True})

# Note attributes the app itself writes (no personal data) survive redaction.
_APP_ATTRIBUTE_PREFIX = "_cx_"


def _customer_orders(shop: Shop, customer_id: int | None, email: str | None, order_ids: list[int]) -> list[Order]:
    match: list[sa.ColumnElement[bool]] = [Order.shopify_id.in_(order_ids)] if order_ids else []
    if customer_id is not None:
        match.append(Order.customer_id == customer_id)
    if email:
        match.append(sa.func.lower(Order.email) == email.lower())
    if not match:
        return []
    return list(db.session.scalars(sa.select(Order).where(Order.shop_id == shop.id, sa.or_(*match))))


def redact_customer(shop: Shop, customer_id: int | None, email: str | None, order_ids: list[int]) -> int:
    """Erase a customer's personal data, keeping the anonymous facts (dates, statuses, counts)."""
    orders = _customer_orders(shop, customer_id, email, order_ids)
    addresses = {a.lower() for a in [email, *(o.email for o in orders)] if a}
    now = utcnow()
    for order in orders:
        order.email = None
        order.first_name = None
        order.last_name = None
        order.destination_zip = None
        order.note = None
        order.note_attributes = {k: v for k, v in order.note_attributes.items() if k.startswith(_APP_ATTRIBUTE_PREFIX)}
        order.redacted_at = now
    ids = [o.id for o in orders]
    if ids:
        db.session.execute(sa.update(Survey).where(Survey.order_id.in_(ids)).values(comment=None))
        db.session.execute(sa.update(Shipment).where(Shipment.order_id.in_(ids))
                           .values(tracking_number=None, tracking_url=None))
        shipment_ids = sa.select(Shipment.id).where(Shipment.order_id.in_(ids))
        db.session.execute(sa.update(ShipmentStatusEvent).where(ShipmentStatusEvent.shipment_id.in_(shipment_ids))
                           .values(city=None, province=None))
    shopify_ids = [o.shopify_id for o in orders] + list(order_ids)
    returns.forget_notes(shop, shopify_ids)
    about_customer: list[sa.ColumnElement[bool]] = [WebhookEvent.order_id.in_(shopify_ids)]
    if customer_id is not None:
        about_customer.append(WebhookEvent.customer_id == customer_id)
    db.session.execute(
        sa.update(WebhookEvent)
        .where(WebhookEvent.shop_domain == shop.domain, sa.or_(*about_customer),
               WebhookEvent.topic != "customers/redact")
        .values(payload=REDACTED_PAYLOAD)
    )
    if addresses:
        db.session.execute(sa.delete(OutboxMessage).where(OutboxMessage.shop_id == shop.id,
                                                          sa.func.lower(OutboxMessage.recipient).in_(addresses)))
    if customer_id is not None:
        db.session.execute(sa.delete(DataRequest).where(DataRequest.shop_id == shop.id,
                                                        DataRequest.customer_id == customer_id))
    return len(orders)


def erase_shop(domain: str, keep_event_id: int | None = None) -> None:
    """Delete every row of the shop (its shop-owned rows go with it through ON DELETE CASCADE)."""
    db.session.execute(sa.delete(Shop).where(Shop.domain == domain))
    events = sa.delete(WebhookEvent).where(WebhookEvent.shop_domain == domain)
    if keep_event_id is not None:
        events = events.where(WebhookEvent.id != keep_event_id)
    db.session.execute(events)


def export_customer(shop: Shop, shopify_request_id: int | None, customer_id: int | None, email: str | None,
                    order_ids: list[int]) -> DataRequest:
    """Build (or rebuild) the export of what we hold on a customer, for the merchant to send on."""
    orders = _customer_orders(shop, customer_id, email, order_ids)
    answers = db.session.scalars(sa.select(Survey).where(Survey.order_id.in_([o.id for o in orders])))
    export: dict[str, Any] = {
        "shop": shop.domain,
        "customer": {"id": customer_id, "email": email},
        "generated_at": utcnow().isoformat(),
        "orders": OrderOut(many=True).dump(orders),
        "surveys": [{"order_id": s.order.shopify_id, "sent_at": s.sent_at.isoformat() if s.sent_at else None,
                     "csat": s.csat, "nps": s.nps, "comment": s.comment} for s in answers],
    }
    request = None
    if shopify_request_id is not None:
        request = db.session.scalar(sa.select(DataRequest).where(
            DataRequest.shop_id == shop.id, DataRequest.shopify_request_id == shopify_request_id))
    if request is None:
        request = DataRequest(shop_id=shop.id, shopify_request_id=shopify_request_id)
        db.session.add(request)
    request.customer_id = customer_id
    request.email = email
    request.export = export
    return request
