"""Each order's delivery facts, kept on the order so the scores never rebuild them from shipments.

``refresh`` runs after every change to an order or its shipments (webhooks/topics.py); the facts follow only
from the rows as they are, so any arrival order of the webhooks ends with the same facts. The rollups
(scores/rollup.py) follow the columns set here.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from cxplugin.extensions import db
from cxplugin.models import Order, Shipment, Shop
from cxplugin.promise import punctuality
from cxplugin.scores import rules

# Shipments that will never arrive do not hold an order back from being delivered.
DEAD_SHIPMENT_STATUSES = ("cancelled", "error", "failure")
_RETURN_WINDOW = timedelta(days=rules.RETURN_DAYS)


def customer_key(shop_id: int, customer_id: int | None, email: str | None) -> str | None:
    """Who the customer is for repeat purchase: the Shopify customer id, else a hash of the e-mail."""
    if customer_id is not None:
        return f"c:{customer_id}"
    if email:
        return "e:" + hashlib.sha256(f"{shop_id}:{email.strip().lower()}".encode()).hexdigest()[:60]
    return None


def refresh(shop: Shop, order: Order) -> None:
    """Set the order's delivery facts from its live shipments and promise, then its customer's repeat facts."""
    shipments = list(db.session.scalars(sa.select(Shipment).where(Shipment.order_id == order.id)))
    live = [s for s in shipments if s.fulfillment_status not in DEAD_SHIPMENT_STATUSES]
    delivered_at = punctuality.order_delivered_at([s.delivered_at for s in live])
    tz = ZoneInfo(shop.timezone)
    facts: dict[str, object] = {"delivered_at": delivered_at, "delivered_on": None, "lead_days": None,
                                "days_late": None, "punctuality": None, "delivered_early": False, "carrier": None}
    if delivered_at is not None:
        delivered_on = delivered_at.astimezone(tz).date()
        last = max((s for s in live if s.delivered_at is not None), key=lambda s: (s.delivered_at, s.id))
        facts |= {"delivered_on": delivered_on, "carrier": last.carrier}
        if order.placed_at is not None:
            facts["lead_days"] = (delivered_on - order.placed_at.astimezone(tz).date()).days
        if order.promise_latest is not None:
            verdict = punctuality.judge(order.promise_latest, delivered_at, shop.timezone)
            facts |= {"days_late": verdict.days_late, "punctuality": rules.bucket(verdict.days_late),
                      "delivered_early": order.promise_earliest is not None and delivered_on < order.promise_earliest}
    for name, value in facts.items():
        if getattr(order, name) != value:
            setattr(order, name, value)
    old_key = order.customer_key
    # After a redaction the e-mail is gone; the key already made from it stays (it names no one by itself).
    new_key = customer_key(shop.id, order.customer_id, order.email) or old_key
    if new_key != old_key:
        order.customer_key = new_key
    for key in {old_key, new_key} - {None}:
        assert key is not None
        refresh_customer(shop, key)


def refresh_customer(shop: Shop, key: str) -> None:
    """Mark the customer's first on-time and first late delivery, and whether they ordered again within
    RETURN_DAYS after each (an order placed later, not cancelled)."""
    orders = list(db.session.scalars(sa.select(Order).where(Order.shop_id == shop.id, Order.customer_key == key)))
    judged = sorted((o for o in orders if o.punctuality is not None and o.delivered_at is not None),
                    key=lambda o: (o.delivered_at, o.id))
    firsts = {id(next((o for o in judged if (o.punctuality == "on_time") == on_time), None))
              for on_time in (True, False)}
    for order in orders:
        first = id(order) in firsts
        came_back = first and order.delivered_at is not None and any(
            other is not order and other.cancelled_at is None and other.placed_at is not None
            and order.delivered_at < other.placed_at <= order.delivered_at + _RETURN_WINDOW
            for other in orders)
        if order.first_of_kind != first:
            order.first_of_kind = first
        if order.came_back != came_back:
            order.came_back = came_back
