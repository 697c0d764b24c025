"""A shop's delivered history, as the learned promise reads it: past deliveries imported from a CSV, and the
deliveries the app followed itself. Importing is all or nothing: a file with one bad row imports nothing."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO

import sqlalchemy as sa

from cxplugin.extensions import db
from cxplugin.models import Order, PastDelivery, Shipment, Shop
from cxplugin.promise.model import Delivery

COLUMNS = ("order_id", "created_at", "shipped_at", "delivered_at", "origin", "country", "region", "zip", "carrier",
           "method")
_REQUIRED = ("order_id", "created_at", "shipped_at", "delivered_at", "country")
_DEAD_SHIPMENTS = ("cancelled", "error", "failure")


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


@dataclass(frozen=True)
class ParsedFile:
    rows: list[Delivery]
    errors: list[RowError]


def _moment(raw: str, column: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{column} {raw!r} is not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        raise ValueError(f"{column} {raw!r} has no UTC offset (write e.g. 2026-03-01T14:05:00-03:00)")
    return moment


def parse_csv(lines: Iterable[str]) -> ParsedFile:
    """Rows of a history CSV (header as in the README) with every problem found, by line number.

    Rows whose times contradict each other are reported too: importing them would teach the model nonsense."""
    reader = csv.DictReader(lines)
    header = tuple(name.strip() for name in reader.fieldnames or ())
    if header != COLUMNS:
        return ParsedFile([], [RowError(1, f"the header must be {','.join(COLUMNS)} (got {','.join(header)})")])
    rows: list[Delivery] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        try:
            values = {k: (row.get(k) or "").strip() for k in COLUMNS}
            missing = [k for k in _REQUIRED if not values[k]]
            if missing:
                raise ValueError(f"{', '.join(missing)} missing")
            if values["order_id"] in seen:
                raise ValueError(f"order {values['order_id']} is already on line {seen[values['order_id']]}")
            if len(values["country"]) != 2 or not values["country"].isalpha():
                raise ValueError(f"country {values['country']!r} is not a two-letter ISO code")
            placed, shipped, delivered = (_moment(values[c], c) for c in ("created_at", "shipped_at", "delivered_at"))
            if shipped < placed:
                raise ValueError("shipped_at is before created_at")
            if delivered < shipped:
                raise ValueError("delivered_at is before shipped_at")
            seen[values["order_id"]] = line
            rows.append(Delivery(order_id=values["order_id"][:64], placed_at=placed, shipped_at=shipped,
                                 delivered_at=delivered, country=values["country"].upper(),
                                 region=values["region"].upper()[:16], zip=values["zip"][:32],
                                 origin=values["origin"][:255], carrier=(values["carrier"] or values["method"])[:255]))
        except ValueError as exc:
            errors.append(RowError(line, str(exc)))
    return ParsedFile(rows, errors)


def import_csv(shop: Shop, file: IO[str]) -> ParsedFile:
    """Import a history CSV for ``shop``: every row, or (when any row is bad) nothing. Orders already imported
    are replaced by the file's version."""
    parsed = parse_csv(file)
    if parsed.errors:
        return parsed
    store(shop, parsed.rows, source="import")
    db.session.commit()
    return parsed


def store(shop: Shop, rows: Sequence[Delivery], *, source: str) -> None:
    """Hold ``rows`` as the shop's past deliveries (``source``: import | shopify), replacing any held for the same
    orders. The caller commits."""
    refs = [d.order_id for d in rows]
    for start in range(0, len(refs), 1000):
        db.session.execute(sa.delete(PastDelivery).where(PastDelivery.shop_id == shop.id,
                                                         PastDelivery.order_ref.in_(refs[start:start + 1000])))
    if rows:
        db.session.execute(sa.insert(PastDelivery), [
            {"shop_id": shop.id, "order_ref": d.order_id, "placed_at": d.placed_at, "shipped_at": d.shipped_at,
             "delivered_at": d.delivered_at, "origin": d.origin, "country": d.country, "region": d.region,
             "zip": d.zip, "carrier": d.carrier, "method": "", "source": source} for d in rows])


def shop_deliveries(shop: Shop) -> Iterator[Delivery]:
    """Every delivery of the shop the model may learn from: imported ones, then those the app followed."""
    for past in db.session.scalars(sa.select(PastDelivery).where(PastDelivery.shop_id == shop.id)
                                   .execution_options(yield_per=5000)):
        yield Delivery(order_id=past.order_ref, placed_at=past.placed_at, shipped_at=past.shipped_at,
                       delivered_at=past.delivered_at, country=past.country, region=past.region, zip=past.zip,
                       origin=past.origin, carrier=past.carrier or past.method)
    followed = (sa.select(Order.shopify_id, Order.placed_at, Order.destination_country, Order.destination_province,
                          Order.destination_zip, Shipment.shipped_at, Shipment.delivered_at, Shipment.carrier)
                .join(Shipment, Shipment.order_id == Order.id)
                .where(Order.shop_id == shop.id, Shipment.delivered_at.is_not(None), Shipment.shipped_at.is_not(None),
                       Order.placed_at.is_not(None), Order.destination_country.is_not(None),
                       sa.or_(Shipment.fulfillment_status.is_(None),
                              Shipment.fulfillment_status.not_in(_DEAD_SHIPMENTS)))
                .execution_options(yield_per=5000))
    for row in db.session.execute(followed):
        yield Delivery(order_id=str(row.shopify_id), placed_at=row.placed_at, shipped_at=row.shipped_at,
                       delivered_at=row.delivered_at, country=row.destination_country or "",
                       region=row.destination_province or "", zip=row.destination_zip or "",
                       carrier=row.carrier or "")
