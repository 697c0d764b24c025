"""A shop's past deliveries as Shopify's bulk query returns them: the query text, and its JSONL answer read into
deliveries. PURE: no I/O, no clock (``now`` is an argument), nothing from Flask or SQLAlchemy.

The JSONL holds one order per line, its fulfilments inline (``Order.fulfillments`` is a list, and Shopify's bulk
queries take no connection inside a list, so a fulfilment's tracking events cannot be asked for). A fulfilment's
hand-off is its creation (as for the shipments the app follows through webhooks), its delivery ``deliveredAt``,
which Shopify sets from the carrier's delivered scan. An order learns from the last of its parcels to arrive:
that is when the shopper had it all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from cxplugin.promise.model import Delivery

# Shopify's FulfillmentStatus values of a parcel that never left.
_DEAD = ("CANCELLED", "ERROR", "FAILURE")

_QUERY = """
{
  orders(query: %s, sortKey: CREATED_AT) {
    edges {
      node {
        id
        createdAt
        shippingAddress { countryCodeV2 provinceCode zip }
        shippingLine { title }
        fulfillments {
          id
          status
          createdAt
          deliveredAt
          location { name }
          trackingInfo { company }
        }
      }
    }
  }
}
"""


def since(now: datetime) -> date:
    """The first day the backfill reads: the same day a year (12 months) before ``now``, in UTC."""
    today = now.date()
    try:
        return today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        return today.replace(year=today.year - 1, day=28)


def orders_query(now: datetime) -> str:
    """The bulk query: fulfilled orders placed since :func:`since`, with their fulfilments."""
    search = f"created_at:>={since(now).isoformat()} fulfillment_status:shipped"
    return _QUERY % json.dumps(search)


@dataclass(frozen=True)
class ParsedHistory:
    """The deliveries found, and how many orders or lines could not be learned from, by reason."""

    rows: list[Delivery]
    orders: int = 0  # orders read
    not_delivered: int = 0  # no parcel with a delivery time (the carrier never reported one)
    no_destination: int = 0  # no shipping country
    dropped: int = 0  # delivered before their hand-off, or handed off before the order was placed
    malformed: int = 0  # lines that are not JSON, or an order without the fields it must have
    truncated: bool = False  # the file stopped in the middle of its last line


def _moment(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return moment


def _legacy_id(gid: str) -> str:
    """``gid://shopify/Order/1001`` → ``1001``, the id the app's own orders carry."""
    return gid.rsplit("/", 1)[-1]


def _delivered(fulfillment: dict[str, Any]) -> datetime | None:
    return _moment(fulfillment["deliveredAt"]) if fulfillment.get("deliveredAt") else None


def parse_jsonl(lines: Iterable[str]) -> ParsedHistory:
    """Read a bulk query's JSONL (lines as a text file gives them, newline kept) into deliveries.

    A line that is not JSON is counted and skipped; a last line without its newline that is not JSON is a file
    cut short (``truncated``): the complete records before it are still read."""
    orders: dict[str, dict[str, Any]] = {}
    malformed = 0
    truncated = False
    for raw in lines:
        text = raw.strip()
        if not text:
            continue
        try:
            item = json.loads(text)
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise ValueError("not an object with an id")
        except ValueError:
            if raw.endswith("\n"):
                malformed += 1
            else:
                truncated = True
            continue
        if item.get("__parentId") is None:  # the query has one connection: a child line is none of ours
            orders[item["id"]] = item

    rows: list[Delivery] = []
    counts = {"not_delivered": 0, "no_destination": 0, "dropped": 0}
    for order in orders.values():
        try:
            reason, delivery = _read_order(order)
        except (KeyError, TypeError, ValueError, AttributeError):
            malformed += 1
            continue
        if delivery is None:
            counts[reason] += 1
        else:
            rows.append(delivery)
    return ParsedHistory(rows, orders=len(orders), malformed=malformed, truncated=truncated, **counts)


def _read_order(order: dict[str, Any]) -> tuple[str, Delivery | None]:
    placed = _moment(order["createdAt"])
    address = order.get("shippingAddress") or {}
    country = str(address.get("countryCodeV2") or "").strip().upper()
    parcels: list[tuple[datetime, datetime, dict[str, Any]]] = []
    for fulfillment in order.get("fulfillments") or []:
        if fulfillment.get("status") in _DEAD:
            continue
        delivered = _delivered(fulfillment)
        if delivered is not None:
            parcels.append((delivered, _moment(fulfillment["createdAt"]), fulfillment))
    if not parcels:
        return "not_delivered", None
    if len(country) != 2:
        return "no_destination", None
    delivered, shipped, fulfillment = max(parcels, key=lambda parcel: parcel[0])
    if shipped < placed or delivered < shipped:
        return "dropped", None
    tracking = fulfillment.get("trackingInfo") or []
    company = next((str(t["company"]) for t in tracking if t.get("company")), "")
    method = str((order.get("shippingLine") or {}).get("title") or "")
    return "", Delivery(order_id=_legacy_id(order["id"])[:64], placed_at=placed, shipped_at=shipped,
                        delivered_at=delivered, country=country,
                        region=str(address.get("provinceCode") or "").strip().upper()[:16],
                        zip=str(address.get("zip") or "").strip()[:32],
                        origin=str((fulfillment.get("location") or {}).get("name") or "")[:255],
                        carrier=(company or method)[:255])
