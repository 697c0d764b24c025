"""A signed-in customer's returns: each line's eligibility on their order, and a return request sent to Shopify.

The customer and shop come from the verified customer-account token only. Eligibility is judged here again
(whatever the extension showed), under the terms in force when the order was placed. A double submit is one
request: a row keyed by the request's content is claimed (committed) before Shopify is asked, so a second
identical submit finds it instead of sending the mutation again. Shopify is never asked inside a transaction.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from cxplugin import i18n
from cxplugin.extensions import db
from cxplugin.logs import log
from cxplugin.models import Order, Product, Return, ReturnRequest, Shop
from cxplugin.models.types import utcnow
from cxplugin.returns import eligibility, records
from cxplugin.returns import terms as return_terms
from cxplugin.shopify.admin_api import AdminApiError, call
from cxplugin.shops import settings as shop_settings

RETURN_REASONS = """
query ReturnReasons {
  returnReasonDefinitions(first: 50) { nodes { id handle name deleted } }
}
"""
RETURNABLE = """
query Returnable($orderId: ID!) {
  returnableFulfillments(orderId: $orderId, first: 20) {
    nodes { returnableFulfillmentLineItems(first: 100) {
      nodes { quantity fulfillmentLineItem { id lineItem { id } } } } }
  }
}
"""
RETURN_REQUEST = """
mutation RequestReturn($input: ReturnRequestInput!) {
  returnRequest(input: $input) {
    return { id status }
    userErrors { field message code }
  }
}
"""
# How long a second identical submit waits for the first to finish before saying it is still on its way.
_WAIT_SECONDS = 15.0
_POLL_SECONDS = 0.1
# A claim still "sending" after this long belongs to a submit that died; the request may be made again (if Shopify
# did take the first one, it refuses the quantity a second time).
_ABANDONED_AFTER = timedelta(minutes=5)


class RefusedRequest(Exception):
    """The request cannot be made: ``status`` for the HTTP answer, ``errors`` to show the customer."""

    def __init__(self, status: int, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.status = status
        self.errors = errors


def customer_order(shop: Shop, customer_id: int, order_shopify_id: int) -> Order | None:
    """The order, only when it belongs to this customer (another's order is as unknown as a missing one)."""
    return db.session.scalar(sa.select(Order).where(Order.shop_id == shop.id, Order.shopify_id == order_shopify_id,
                                                    Order.customer_id == customer_id))


def _pending_quantities(shop: Shop, order: Order) -> dict[int, int]:
    """Quantities in requests sent through the app whose return Shopify has not told us about yet."""
    known = {f"gid://shopify/Return/{i}" for i in db.session.scalars(
        sa.select(Return.shopify_id).where(Return.shop_id == shop.id, Return.order_shopify_id == order.shopify_id))}
    pending: dict[int, int] = {}
    for row in db.session.scalars(sa.select(ReturnRequest).where(
            ReturnRequest.shop_id == shop.id, ReturnRequest.order_shopify_id == order.shopify_id)):
        if row.return_gid in known:
            continue
        for line in row.lines:
            pending[line["line_item_id"]] = pending.get(line["line_item_id"], 0) + line["quantity"]
    return pending


def lines_eligibility(shop: Shop, order: Order, now: datetime) -> list[tuple[dict[str, Any],
                                                                             eligibility.LineEligibility]]:
    """Each line of the order with its eligibility at ``now``."""
    settings = shop_settings.in_force_at(shop, order.placed_at or order.created_at)
    terms = return_terms.return_terms(settings, shop.timezone, shop.country_code)
    returned = records.returned_quantities(shop, order.shopify_id)
    for line_item_id, quantity in _pending_quantities(shop, order).items():
        returned[line_item_id] += quantity
    product_ids = [li["product_id"] for li in order.line_items if li.get("product_id")]
    products = {p.shopify_id: p for p in db.session.scalars(
        sa.select(Product).where(Product.shop_id == shop.id, Product.shopify_id.in_(product_ids)))}
    facts = records.order_facts(order)
    result = []
    for li in order.line_items:
        if not li.get("id"):
            continue
        product = products.get(li.get("product_id") or 0)
        line = eligibility.LineFacts(line_item_id=li["id"], quantity=li["quantity"],
                                     returned_quantity=returned.get(li["id"], 0),
                                     tags=tuple(product.tags) if product else (),
                                     product_type=product.product_type if product else None,
                                     discounted=bool(li.get("discounted")))
        result.append((li, eligibility.evaluate_line(terms, facts, line, now)))
    return result


def order_returns(shop: Shop, order: Order, now: datetime, locale: str) -> dict[str, Any]:
    """What the customer account shows: each line's status and last day, in the customer's language."""
    lines = []
    for li, judged in lines_eligibility(shop, order, now):
        text = ""
        if judged.status is eligibility.Status.ELIGIBLE and judged.last_day:
            text = return_terms.deadline_text(judged.last_day, locale, shop.country_code)
        elif judged.status is eligibility.Status.WINDOW_CLOSED and judged.last_day:
            text = i18n.phrase(locale, "returns", "closed", date=i18n.format_dates(
                judged.last_day, judged.last_day, locale, shop.country_code))
        elif judged.status is eligibility.Status.EXCLUDED and judged.reason is not eligibility.Exclusion.FULLY_RETURNED:
            text = i18n.phrase(locale, "returns", "final_sale")
        lines.append({"line_item_id": li["id"], "title": li.get("title"), "quantity": li["quantity"],
                      "returnable_quantity": judged.returnable_quantity, "status": judged.status.value,
                      "last_day": judged.last_day.isoformat() if judged.last_day else None,
                      "closed_since": judged.closed_since.isoformat() if judged.closed_since else None,
                      "reason": judged.reason.value if judged.reason else None, "text": text})
    return {"order_id": order.shopify_id, "locale": locale, "dir": i18n.direction(locale), "lines": lines}


def deadline_line(shop: Shop, order: Order, now: datetime, locale: str) -> str:
    """One line for the survey mail and page: the order's last day to return, 'final sale' when nothing in it can
    be returned, or nothing (not delivered yet, window closed, returns off)."""
    judged = [j for _, j in lines_eligibility(shop, order, now)]
    days = [j.last_day for j in judged if j.eligible and j.last_day]
    if days:
        return return_terms.deadline_text(max(days), locale, shop.country_code)
    final = (eligibility.Exclusion.EXCLUDED_TAG, eligibility.Exclusion.EXCLUDED_TYPE, eligibility.Exclusion.DISCOUNTED)
    if judged and all(j.reason in final for j in judged):
        return i18n.phrase(locale, "returns", "final_sale")
    return ""


@dataclass(frozen=True)
class ShopifyAccess:
    """Which shop's Admin API to call, read before the transaction ends (calls happen outside one); the one Admin
    API client keeps the shop's token fresh."""

    shop_id: int

    @classmethod
    def of(cls, shop: Shop) -> ShopifyAccess:
        if shop.access_token is None:
            raise AdminApiError("no_access_token", "the shop has no access token")
        return cls(shop.id)


def return_reasons(access: ShopifyAccess) -> list[dict[str, str]]:
    """Shopify's return reason definitions for the shop (id, handle, name), deleted ones left out."""
    data = call(access.shop_id, RETURN_REASONS)
    return [{"id": n["id"], "handle": n["handle"], "name": n["name"]}
            for n in data["returnReasonDefinitions"]["nodes"] if not n.get("deleted")]


@dataclass(frozen=True)
class RequestedLine:
    line_item_id: int
    quantity: int
    reason_id: str
    note: str


def _request_key(shop: Shop, order: Order, customer_id: int, lines: Sequence[RequestedLine]) -> str:
    content = json.dumps([shop.id, order.shopify_id, customer_id,
                          sorted([ln.line_item_id, ln.quantity, ln.reason_id, ln.note] for ln in lines)])
    return hashlib.sha256(content.encode()).hexdigest()


def _check(judged: dict[int, eligibility.LineEligibility], lines: Sequence[RequestedLine], locale: str,
           reason_ids: set[str]) -> None:
    errors = []
    asked: dict[int, int] = {}
    for ln in lines:
        asked[ln.line_item_id] = asked.get(ln.line_item_id, 0) + ln.quantity
    for n, ln in enumerate(lines):
        line = judged.get(ln.line_item_id)
        if line is None or not line.eligible:
            errors.append({"line": n, "field": "line_item_id",
                           "message": i18n.phrase(locale, "returns", "not_eligible")})
        elif asked[ln.line_item_id] > line.returnable_quantity:
            errors.append({"line": n, "field": "quantity", "message": i18n.phrase(
                locale, "returns", "too_many", quantity=str(line.returnable_quantity))})
        if ln.reason_id not in reason_ids:
            errors.append({"line": n, "field": "reason_id",
                           "message": i18n.phrase(locale, "returns", "unknown_reason")})
    if errors:
        raise RefusedRequest(422, errors)


def _fulfillment_lines(access: ShopifyAccess, order_gid: str, lines: Sequence[RequestedLine],
                       locale: str) -> list[dict[str, Any]]:
    """Shopify's returnable fulfilment line items for the requested lines (a line shipped in parts spans several)."""
    data = call(access.shop_id, RETURNABLE, {"orderId": order_gid})
    available: dict[int, list[list[Any]]] = {}
    for fulfillment in data["returnableFulfillments"]["nodes"]:
        for item in fulfillment["returnableFulfillmentLineItems"]["nodes"]:
            line_item = int(item["fulfillmentLineItem"]["lineItem"]["id"].rsplit("/", 1)[1])
            available.setdefault(line_item, []).append([item["fulfillmentLineItem"]["id"], item["quantity"]])
    items, errors = [], []
    for n, ln in enumerate(lines):
        wanted = ln.quantity
        for slot in available.get(ln.line_item_id, []):
            take = min(wanted, slot[1])
            if take:
                item = {"fulfillmentLineItemId": slot[0], "quantity": take, "returnReasonDefinitionId": ln.reason_id}
                items.append(item | ({"customerNote": ln.note} if ln.note else {}))
                slot[1] -= take
                wanted -= take
        if wanted:
            errors.append({"line": n, "field": "quantity", "message": i18n.phrase(locale, "returns", "not_eligible")})
    if errors:
        raise RefusedRequest(422, errors)
    return items


def _claim(shop_id: int, order_shopify_id: int, customer_id: int, key: str, lines: Sequence[RequestedLine]) -> bool:
    """Claim the request key (committed); False when another submit of the same request holds it."""
    db.session.add(ReturnRequest(shop_id=shop_id, order_shopify_id=order_shopify_id, customer_id=customer_id,
                                 request_key=key, status="sending",
                                 lines=[{"line_item_id": ln.line_item_id, "quantity": ln.quantity,
                                         "reason_id": ln.reason_id, "note": ln.note} for ln in lines]))
    try:
        db.session.commit()
        return True
    except sa.exc.IntegrityError:
        db.session.rollback()
        return False


def _held_request(shop_id: int, key: str) -> ReturnRequest | None:
    return db.session.scalar(sa.select(ReturnRequest).where(ReturnRequest.shop_id == shop_id,
                                                            ReturnRequest.request_key == key))


def _answer(row: ReturnRequest) -> dict[str, Any]:
    return {"return": {"id": row.return_gid, "status": "requested"}, "lines": row.lines}


def _wait_for_first(shop_id: int, key: str, locale: str) -> dict[str, Any]:
    deadline = time.monotonic() + _WAIT_SECONDS
    while time.monotonic() < deadline:
        db.session.rollback()  # see the other submit's commit
        row = _held_request(shop_id, key)
        if row is None:  # the first submit failed and let go: nothing was requested
            raise RefusedRequest(409, [{"message": i18n.phrase(locale, "returns", "in_progress")}])
        if row.status == "requested":
            return _answer(row)
        time.sleep(_POLL_SECONDS)
    raise RefusedRequest(409, [{"message": i18n.phrase(locale, "returns", "in_progress")}])


def request_return(shop: Shop, order: Order, customer_id: int, lines: Sequence[RequestedLine], now: datetime,
                   locale: str) -> tuple[dict[str, Any], bool]:
    """Send one return request for ``lines``; returns (the request, whether it was created now).

    Raises RefusedRequest for a line that is not eligible, a quantity above what remains, an unknown reason,
    or Shopify's user errors (nothing is then recorded as requested); AdminApiError when Shopify is unreachable.
    """
    shop_id, order_shopify_id = shop.id, order.shopify_id
    key = _request_key(shop, order, customer_id, lines)
    held = _held_request(shop_id, key)
    if held is not None and held.status == "sending" and held.created_at < now - _ABANDONED_AFTER:
        _release(shop_id, key)  # a submit that died between claiming and hearing back from Shopify
        held = None
    if held is not None:
        return (_answer(held), False) if held.status == "requested" else (_wait_for_first(shop_id, key, locale), False)
    judged = {li["id"]: j for li, j in lines_eligibility(shop, order, now)}
    access, domain = ShopifyAccess.of(shop), shop.domain
    db.session.rollback()  # end the reads: Shopify is asked outside any transaction
    order_gid = f"gid://shopify/Order/{order_shopify_id}"
    _check(judged, lines, locale, {r["id"] for r in return_reasons(access)})
    items = _fulfillment_lines(access, order_gid, lines, locale)
    if not _claim(shop_id, order_shopify_id, customer_id, key, lines):
        return _wait_for_first(shop_id, key, locale), False
    try:
        data = call(access.shop_id, RETURN_REQUEST,
                       {"input": {"orderId": order_gid, "returnLineItems": items}})
    except AdminApiError:
        _release(shop_id, key)
        raise
    payload = data["returnRequest"]
    if payload["userErrors"] or not payload["return"]:
        _release(shop_id, key)
        log("return request refused by Shopify", 30, shop=domain, errors=payload["userErrors"])
        raise RefusedRequest(422, [{"field": ".".join(e.get("field") or []), "message": i18n.phrase(
            locale, "returns", "refused", message=e["message"])} for e in payload["userErrors"]])
    row = _held_request(shop_id, key)
    assert row is not None
    row.status, row.return_gid, row.created_at = "requested", payload["return"]["id"], utcnow()
    db.session.commit()
    return _answer(row), True


def _release(shop_id: int, key: str) -> None:
    db.session.rollback()
    db.session.execute(sa.delete(ReturnRequest).where(ReturnRequest.shop_id == shop_id,
                                                      ReturnRequest.request_key == key))
    db.session.commit()
