"""Returns as data: what Shopify's returns webhooks say, each order's returned quantities, and the returns figures.

A return's status only moves forward (requested → open → closed, or → declined / canceled), whatever order the
webhooks come in. A return whose order has not arrived yet is kept and linked when the order comes.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from cxplugin.extensions import db
from cxplugin.models import Order, Return, ReturnRequest, Shop
from cxplugin.promise import punctuality
from cxplugin.returns import eligibility

STATUS_BY_TOPIC = {
    "returns/request": "requested",
    "returns/approve": "open",
    "returns/decline": "declined",
    "returns/close": "closed",
    "returns/cancel": "canceled",
}
_RANK = {"requested": 0, "open": 1, "declined": 2, "canceled": 2, "closed": 2}
# Returns that take items back (or may): a declined or canceled one gives the quantity back to the shopper.
COUNTING = ("requested", "open", "closed")


def _reason(item: dict[str, Any]) -> str | None:
    definition = item.get("return_reason_definition") or {}
    reason: str | None = definition.get("handle") or item.get("return_reason")
    return reason.strip().lower().replace("_", "-") if reason else None


def _lines(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    lines = []
    for item in items:
        fli = item.get("fulfillment_line_item") or {}
        line_item = fli.get("line_item") or {}
        lines.append({"line_item_id": line_item.get("id"), "fulfillment_line_item_id": fli.get("id"),
                      "quantity": item["quantity"], "reason": _reason(item), "note": item.get("customer_note")})
    return lines


def apply_return(shop: Shop, topic: str, payload: dict[str, Any], at: datetime) -> Return:
    """A returns/* webhook: create or move the return (never backwards) and keep its lines and reasons."""
    order_ref = (payload["order"] or {}).get("id") or payload["order_id"]
    held = db.session.scalar(sa.select(Return).where(Return.shop_id == shop.id, Return.shopify_id == payload["id"]))
    status = STATUS_BY_TOPIC[topic]
    if held is None:
        held = Return(shop_id=shop.id, shopify_id=payload["id"], status=status, lines=[], status_at=at)
        db.session.add(held)
    elif _RANK[status] > _RANK[held.status]:
        held.status, held.status_at = status, at
    if order_ref and held.order_shopify_id is None:
        held.order_shopify_id = order_ref
    if payload["return_line_items"] and not held.lines:
        held.lines = _lines(payload["return_line_items"])
    if held.requested_at is None:
        held.requested_at = payload["requested_at"] or payload["created_at"] or at
    if held.order_id is None and held.order_shopify_id is not None:
        held.order_id = db.session.scalar(sa.select(Order.id).where(Order.shop_id == shop.id,
                                                                    Order.shopify_id == held.order_shopify_id))
    db.session.flush()
    return held


def link_waiting_returns(shop: Shop, order: Order) -> None:
    """Returns that came before their order are applied to it now."""
    db.session.execute(sa.update(Return).where(Return.shop_id == shop.id, Return.order_shopify_id == order.shopify_id,
                                               Return.order_id.is_(None)).values(order_id=order.id))


def returned_quantities(shop: Shop, order_shopify_id: int) -> Counter[int]:
    """Quantity per order line item already in a return that takes it back."""
    counts: Counter[int] = Counter()
    rows = db.session.scalars(sa.select(Return).where(Return.shop_id == shop.id,
                                                      Return.order_shopify_id == order_shopify_id,
                                                      Return.status.in_(COUNTING)))
    for row in rows:
        for line in row.lines:
            if line.get("line_item_id"):
                counts[int(line["line_item_id"])] += int(line["quantity"])
    return counts


def order_facts(order: Order) -> eligibility.OrderFacts:
    """The last delivery (when every shipment is delivered) and the last fulfilment of an order."""
    delivered = punctuality.order_delivered_at([s.delivered_at for s in order.shipments])
    shipped = [s.shipped_at or s.created_at for s in order.shipments]
    return eligibility.OrderFacts(delivered_at=delivered, fulfilled_at=max(shipped) if shipped else None)


def listing(shop: Shop, limit: int = 200) -> list[dict[str, Any]]:
    rows = db.session.scalars(sa.select(Return).where(Return.shop_id == shop.id)
                              .order_by(Return.requested_at.desc(), Return.id.desc()).limit(limit))
    return [{"id": r.shopify_id, "order_id": r.order_shopify_id, "order_known": r.order_id is not None,
             "status": r.status, "requested_at": r.requested_at.isoformat() if r.requested_at else None,
             "lines": r.lines} for r in rows]


def summary(shop: Shop, top: int = 5) -> dict[str, Any]:
    """Return rate of delivered orders kept on time against late ones, and the most given reasons.

    An order counts once it is delivered and had a promise; it is "returned" when any return that takes items
    back was made for it. Rates are ``None`` under 5 orders, as the scores do.
    """
    returned = set(db.session.scalars(sa.select(Return.order_id).where(
        Return.shop_id == shop.id, Return.order_id.is_not(None), Return.status.in_(COUNTING))))
    orders = db.session.scalars(sa.select(Order).options(so.selectinload(Order.shipments))
                                .where(Order.shop_id == shop.id, Order.promise_latest.is_not(None)))
    buckets = {"on_time": [0, 0], "late": [0, 0]}
    for order in orders:
        delivered = punctuality.order_delivered_at([s.delivered_at for s in order.shipments])
        if delivered is None or order.promise_latest is None:
            continue
        bucket = buckets["on_time" if punctuality.judge(order.promise_latest, delivered, shop.timezone).kept
                         else "late"]
        bucket[0] += 1
        bucket[1] += order.id in returned
    reasons: Counter[str] = Counter()
    for lines in db.session.scalars(sa.select(Return.lines).where(Return.shop_id == shop.id,
                                                                  Return.status.in_(COUNTING))):
        for line in lines:
            reasons[line.get("reason") or "unknown"] += int(line.get("quantity") or 1)
    return {
        "return_rate": {name: {"orders": n, "returned": r, "rate": round(r / n, 4) if n >= 5 else None}
                        for name, (n, r) in buckets.items()},
        "top_reasons": [{"reason": reason, "items": count} for reason, count in reasons.most_common(top)],
    }


def forget_notes(shop: Shop, order_shopify_ids: list[int]) -> None:
    """A customer's redaction: their words in returns and return requests go; quantities and reasons stay."""
    if not order_shopify_ids:
        return
    for row in db.session.scalars(sa.select(Return).where(Return.shop_id == shop.id,
                                                          Return.order_shopify_id.in_(order_shopify_ids))):
        row.lines = [line | {"note": None} for line in row.lines]
    db.session.execute(sa.update(ReturnRequest).where(ReturnRequest.shop_id == shop.id,
                                                      ReturnRequest.order_shopify_id.in_(order_shopify_ids))
                       .values(lines=[]))
