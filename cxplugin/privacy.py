"""Shopify's mandatory privacy topics: erase a customer, erase a shop, export a customer's data; and
the retention of raw webhook payloads.

The one place that knows which columns hold personal data. A table that stores personal data
must be added here, with a test in tests/test_privacy.py. Nothing here logs an e-mail address.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from cxplugin.extensions import db
from cxplugin.models import (
    DataRequest,
    EventStatus,
    Order,
    OutboxMessage,
    Shipment,
    ShipmentStatusEvent,
    Shop,
    Survey,
    WebhookEvent,
)
from cxplugin.models.types import utcnow
from cxplugin.promise.on_orders import PROMISE_ATTRIBUTE, shown_promise
from cxplugin.schemas.orders import OrderOut

REDACTED_PAYLOAD = json.dumps({"redacted": True})

# Rows changed per statement by the retention purge, so that no transaction holds many rows for long.
PURGE_BATCH = 500


def email_hash(shop_id: int, address: str) -> str:
    """The shop's pseudonym for an address (suppression, throttling): HMAC-SHA256 under the instance's
    hash key, so that it cannot be reversed by hashing guessed addresses without that key."""
    key: bytes = current_app.config["CX_EMAIL_HASH_KEY"].encode()
    return hmac.new(key, f"{shop_id}:{address.strip().lower()}".encode(), hashlib.sha256).hexdigest()


def _customer_orders(shop: Shop, customer_id: int | None, email: str | None, order_ids: list[int]) -> list[Order]:
    match: list[sa.ColumnElement[bool]] = [Order.shopify_id.in_(order_ids)] if order_ids else []
    if customer_id is not None:
        match.append(Order.customer_id == customer_id)
    if email:
        match.append(sa.func.lower(Order.email) == email.lower())
    if not match:
        return []
    return list(db.session.scalars(sa.select(Order).where(Order.shop_id == shop.id, sa.or_(*match))))


def redact_customer(shop: Shop, customer_id: int | None, email: str | None, order_ids: list[int],
                    keep_event_id: int | None = None) -> int:
    """Erase a customer's personal data, keeping the anonymous facts (dates, statuses, counts).

    Raw webhook payloads are redacted by what they contain, whoever handled them (``keep_event_id``,
    the redaction's own event, is left to its handler)."""
    orders = _customer_orders(shop, customer_id, email, order_ids)
    spellings = {a.strip() for a in [email, *(o.email for o in orders)] if a}
    addresses = {a.lower() for a in spellings}
    now = utcnow()
    for order in orders:
        order.email = None
        order.first_name = None
        order.last_name = None
        order.destination_zip = None
        order.note = None
        order.note_attributes = _app_attributes(order.note_attributes)
        order.redacted_at = now
    ids = [o.id for o in orders]
    if ids:
        # The suppression list keeps its entry: see README, Privacy.
        db.session.execute(sa.update(Survey).where(Survey.order_id.in_(ids)).values(comment=None, email_hash=None))
        db.session.execute(sa.update(Shipment).where(Shipment.order_id.in_(ids))
                           .values(tracking_number=None, tracking_url=None))
        shipment_ids = sa.select(Shipment.id).where(Shipment.order_id.in_(ids))
        # Carrier scan texts name who took the parcel and where ("handed to Ada Lovelace, 228 W 29th St").
        db.session.execute(sa.update(ShipmentStatusEvent).where(ShipmentStatusEvent.shipment_id.in_(shipment_ids))
                           .values(message=None, city=None, province=None))
    shopify_ids = {o.shopify_id for o in orders} | set(order_ids)
    _redact_events(shop.domain, customer_id, spellings | addresses, shopify_ids, keep_event_id)
    _forget_outbox(shop, addresses, orders)
    if customer_id is not None:
        db.session.execute(sa.delete(DataRequest).where(DataRequest.shop_id == shop.id,
                                                        DataRequest.customer_id == customer_id))
    return len(orders)


def _app_attributes(attributes: dict[str, str]) -> dict[str, str]:
    """What survives of an order's note attributes: the promise the block wrote, re-serialised from
    its dates (the attribute is writable by anyone on the storefront, so nothing else is kept)."""
    shown = shown_promise(attributes.get(PROMISE_ATTRIBUTE))
    if shown is None:
        return {}
    return {PROMISE_ATTRIBUTE: json.dumps({"earliest": shown[0].isoformat(), "latest": shown[1].isoformat()})}


def redaction_record(raw_payload: str, customer_id: int, order_ids: list[int]) -> str:
    """What a customers/redact event keeps of its own payload: the ids it was about, nothing personal."""
    try:
        raw = json.loads(raw_payload)
    except ValueError:
        raw = {}
    raw = raw if isinstance(raw, dict) else {}
    return json.dumps({"shop_id": raw.get("shop_id"), "shop_domain": raw.get("shop_domain"),
                       "customer": {"id": customer_id}, "orders_to_redact": order_ids})


def _redact_events(domain: str, customer_id: int | None, spellings: set[str], order_ids: set[int],
                   keep_event_id: int | None) -> None:
    """Redact every recorded payload of the shop that mentions the customer, whatever its status.

    The database narrows the events down with a text search for the ids and the addresses as we know them
    (``spellings``; a case-insensitive search costs several times more on large payloads, and a payload
    that spells the address otherwise almost always carries the customer's or the order's id too); each
    candidate is then read as JSON, so an id that merely appears inside a longer number does not count.
    A payload not yet processed is not processed any more (it would bring the customer back)."""
    ids = {i for i in [customer_id, *order_ids] if i is not None}
    addresses = {a.lower() for a in spellings}
    if not ids and not addresses:
        return
    text = [WebhookEvent.payload.contains(needle, autoescape=True) for needle in [*map(str, ids), *spellings]]
    set_by_handler: list[sa.ColumnElement[bool]] = [WebhookEvent.order_id.in_(order_ids)] if order_ids else []
    if customer_id is not None:
        set_by_handler.append(WebhookEvent.customer_id == customer_id)
    candidates = db.session.execute(
        sa.select(WebhookEvent.id, WebhookEvent.payload, sa.or_(*set_by_handler) if set_by_handler else sa.false())
        .where(WebhookEvent.shop_domain == domain, WebhookEvent.payload != REDACTED_PAYLOAD,
               WebhookEvent.id != (keep_event_id or 0), sa.or_(*text, *set_by_handler))
    ).all()
    about = [event_id for event_id, payload, handled in candidates
             if handled or _mentions(payload, ids, addresses)]
    for start in range(0, len(about), PURGE_BATCH):
        batch = about[start:start + PURGE_BATCH]
        db.session.execute(sa.update(WebhookEvent).where(WebhookEvent.id.in_(batch))
                           .values(payload=REDACTED_PAYLOAD))
        db.session.execute(sa.update(WebhookEvent)
                           .where(WebhookEvent.id.in_(batch), WebhookEvent.status == EventStatus.PENDING)
                           .values(status=EventStatus.IGNORED, processed_at=utcnow(),
                                   last_error="redacted (customers/redact) before it was processed"))


def _mentions(payload: str, ids: set[int], addresses: set[str]) -> bool:
    """Whether a JSON payload holds one of the ids (as a number, a numeric string or a gid's tail) or
    one of the addresses (anywhere in a string). A payload that is not JSON is judged as text."""
    try:
        data = json.loads(payload)
    except ValueError:
        lowered = payload.lower()
        return any(a in lowered for a in addresses) or any(re.search(rf"(?<!\d){i}(?!\d)", payload) for i in ids)
    texts = {str(i) for i in ids}
    return any(_value_mentions(value, ids, texts, addresses) for value in _scalars(data))


def _value_mentions(value: Any, ids: set[int], texts: set[str], addresses: set[str]) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value in ids
    if isinstance(value, str):
        if value in texts or value.rsplit("/", 1)[-1] in texts:
            return True
        if "@" in value:
            lowered = value.lower()
            return any(a in lowered for a in addresses)
    return False


def _scalars(data: Any) -> Iterable[Any]:
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        else:
            yield item


def _forget_outbox(shop: Shop, addresses: set[str], orders: list[Order]) -> None:
    """Delete kept mail that was sent to the customer or that speaks of them: a merchant alert quotes
    the customer's comment beside the order's name."""
    patterns = [re.escape(a) for a in addresses] + [rf"{re.escape(o.name)}(?!\d)" for o in orders if o.name]
    if not patterns:
        return
    mentions = re.compile("|".join(patterns), re.IGNORECASE)
    doomed = []
    for message in db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.shop_id == shop.id)):
        if message.recipient.strip().lower() in addresses or mentions.search(_readable(message.raw)):
            doomed.append(message.id)
    if doomed:
        db.session.execute(sa.delete(OutboxMessage).where(OutboxMessage.id.in_(doomed)))


def _readable(raw: str) -> str:
    """A kept message as a person reads it: its headers and decoded text parts (bodies may be
    quoted-printable or base64 on the wire)."""
    message = email.message_from_string(raw, policy=email.policy.default)
    parts = [f"{k}: {v}" for k, v in message.items()]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            try:
                parts.append(part.get_content())
            except (LookupError, ValueError):
                parts.append(str(part.get_payload()))
    return "\n".join(parts)


def purge_payloads(now: datetime, retention_days: int) -> int:
    """Replace the raw payloads of events processed (done, ignored or failed) more than ``retention_days``
    ago with the redacted marker; the number of events purged. Pending events keep theirs."""
    cutoff = now - timedelta(days=retention_days)
    finished = [EventStatus.DONE, EventStatus.IGNORED, EventStatus.FAILED]
    purged = 0
    while True:
        # A failed event has no processed_at; one ignored at intake neither: their arrival counts then.
        batch = list(db.session.scalars(
            sa.select(WebhookEvent.id).where(
                WebhookEvent.status.in_(finished),
                sa.func.coalesce(WebhookEvent.processed_at, WebhookEvent.received_at) < cutoff,
                WebhookEvent.payload != REDACTED_PAYLOAD,
            ).order_by(WebhookEvent.id).limit(PURGE_BATCH)))
        if not batch:
            return purged
        db.session.execute(sa.update(WebhookEvent).where(WebhookEvent.id.in_(batch))
                           .values(payload=REDACTED_PAYLOAD))
        db.session.commit()
        purged += len(batch)


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
