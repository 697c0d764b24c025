"""A new shop learns from its past: the last 12 months of fulfilled orders read from Shopify with a bulk query.

``start`` asks Shopify to run the query (bulk_history.py) and records the operation; Shopify's
``bulk_operations/finish`` webhook marks it finished (``record_finish``, no network: it runs inside the
webhook's transaction) and queues ``import_finished``, which reads the operation, downloads its JSONL, imports the
deliveries the shop does not hold yet in one commit and rebuilds the learned promise. Shopify is never asked
inside a transaction that has written anything.
"""

from __future__ import annotations

import io
import tempfile
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from cxplugin import after_commit, outbound
from cxplugin.extensions import db
from cxplugin.logs import log
from cxplugin.models import HistoryBackfill, Order, PastDelivery, Shipment, Shop
from cxplugin.promise import bulk_history, history, learning
from cxplugin.promise.model import Delivery
from cxplugin.shopify import admin_api

RUN_QUERY = """
mutation RunHistoryBackfill($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}
"""

OPERATION = """
query HistoryBackfillOperation($id: ID!) {
  node(id: $id) {
    ... on BulkOperation { id status errorCode url partialDataUrl objectCount }
  }
}
"""

UNDER_WAY = ("running", "importing")
# Shopify stops a bulk query after 10 days: one older than that is not waited for.
LONGEST_RUN = timedelta(days=10)
DOWNLOAD_TIMEOUT = 60.0
MAX_FILE_BYTES = 2 * 1024**3


def latest(shop: Shop) -> HistoryBackfill | None:
    return db.session.scalars(sa.select(HistoryBackfill).where(HistoryBackfill.shop_id == shop.id)
                              .order_by(HistoryBackfill.id.desc()).limit(1)).first()


def start(shop_id: int, now: datetime) -> HistoryBackfill | None:
    """Ask Shopify to read the shop's past orders, unless a read is already under way (that one is returned).
    A refusal is recorded as a failed backfill. None when the shop is not installed."""
    shop = db.session.get(Shop, shop_id)
    if shop is None or not shop.is_installed:
        return None
    held = latest(shop)
    if held is not None and held.status in UNDER_WAY and held.started_at > now - LONGEST_RUN:
        return held
    db.session.rollback()  # nothing written: no transaction stays open while Shopify answers
    try:
        data = admin_api.call(shop_id, RUN_QUERY, {"query": bulk_history.orders_query(now)})
        answer = data["bulkOperationRunQuery"] or {}
        errors = answer.get("userErrors") or []
        operation = answer.get("bulkOperation")
        problem = "; ".join(str(e.get("message")) for e in errors) if errors or not operation else None
    except admin_api.AdminApiError as exc:
        problem, operation = f"Shopify did not answer ({exc.code})", None
    if problem is not None or operation is None:
        row = HistoryBackfill(shop_id=shop_id, status="failed", error=(problem or "refused")[:255], started_at=now,
                              finished_at=now, counts={})
    else:
        row = HistoryBackfill(shop_id=shop_id, operation_id=operation["id"], status="running", started_at=now,
                              counts={})
    db.session.add(row)
    db.session.commit()
    log("history backfill started" if row.status == "running" else "history backfill refused",
        shop_id=shop_id, operation=row.operation_id, error=row.error)
    return row


def resume_or_start(shop: Shop, now: datetime, *, start_new: bool = True) -> HistoryBackfill | None:
    """On demand: a read under way is looked up (and imported if Shopify finished without its notice arriving);
    otherwise, with ``start_new``, a new one starts. The shop's latest backfill after that."""
    row = latest(shop)
    if row is not None and row.status in UNDER_WAY and row.operation_id is not None:
        return import_finished(row.id, now)
    return start(shop.id, now) if start_new else row


def record_finish(shop: Shop, payload: dict[str, Any]) -> HistoryBackfill | None:
    """bulk_operations/finish: the shop's own backfill operation has stopped; queue its import (once this
    transaction commits). Any other operation (another shop's, one we did not start, a bulk mutation) is ignored."""
    if (payload.get("type") or "query") != "query":
        return None
    row = db.session.scalar(sa.select(HistoryBackfill).where(
        HistoryBackfill.shop_id == shop.id, HistoryBackfill.operation_id == payload["admin_graphql_api_id"]))
    if row is None or row.status != "running":
        log("bulk operation finish ignored", shop=shop.domain, operation=payload["admin_graphql_api_id"],
            held=row.status if row is not None else None)
        return None
    row.status = "importing"
    row.error = payload.get("error_code") or None
    after_commit.collect(db.session(), _queue_imports, list).append(row.id)
    return row


def _queue_imports(backfill_ids: list[int]) -> None:
    from cxplugin.tasks import import_history_backfill

    for backfill_id in backfill_ids:
        import_history_backfill(backfill_id)


def import_finished(backfill_id: int, now: datetime) -> HistoryBackfill | None:
    """Read the finished operation and import what it found: everything, or (when Shopify stopped early with
    partial data, or the file ends mid-line) the complete records only, saying so. A failed operation imports
    nothing. An operation still running is left as it is."""
    row = db.session.get(HistoryBackfill, backfill_id)
    if row is None or row.status not in UNDER_WAY or row.operation_id is None:
        return row
    shop = db.session.get(Shop, row.shop_id)
    if shop is None or not shop.is_installed:
        return row
    shop_id, operation_id, error = shop.id, row.operation_id, row.error
    db.session.rollback()
    try:
        operation = admin_api.call(shop_id, OPERATION, {"id": operation_id}).get("node")
    except admin_api.AdminApiError as exc:
        return _fail(backfill_id, now, f"Shopify did not answer ({exc.code})")
    if operation is None:
        return _fail(backfill_id, now, "Shopify no longer knows this operation")
    status = operation["status"]
    if status in ("CREATED", "RUNNING", "CANCELING"):
        return db.session.get(HistoryBackfill, backfill_id)
    code = str(operation.get("errorCode") or error or ("" if status == "COMPLETED" else status)).lower() or None
    source = operation.get("url") if status == "COMPLETED" else operation.get("partialDataUrl")
    if status != "COMPLETED" and not source:
        return _fail(backfill_id, now, code or "failed")
    parsed = bulk_history.ParsedHistory([])
    if source:
        try:
            parsed = _download_and_parse(source)
        except outbound.DeliveryFailed as exc:
            return _fail(backfill_id, now, f"the file could not be downloaded: {exc.reason}")
    partial = status != "COMPLETED" or parsed.truncated
    return _store(backfill_id, now, parsed, partial=partial, error=code if partial else None)


def _download_and_parse(url: str) -> bulk_history.ParsedHistory:
    with tempfile.TemporaryFile() as file:
        outbound.download(url, file, timeout=DOWNLOAD_TIMEOUT, rules=outbound.policy(), max_bytes=MAX_FILE_BYTES)
        file.seek(0)
        with io.TextIOWrapper(file, encoding="utf-8", errors="replace", newline="\n") as text:
            return bulk_history.parse_jsonl(text)


def _fail(backfill_id: int, now: datetime, error: str) -> HistoryBackfill:
    row = db.session.get_one(HistoryBackfill, backfill_id)
    row.status, row.error, row.finished_at = "failed", error[:255], now
    db.session.commit()
    log("history backfill failed", 30, shop_id=row.shop_id, operation=row.operation_id, error=row.error)
    return row


def _store(backfill_id: int, now: datetime, parsed: bulk_history.ParsedHistory, *, partial: bool,
           error: str | None) -> HistoryBackfill:
    """Import the deliveries the shop does not hold yet, and the counts, in one commit; then learn from them."""
    row = db.session.get_one(HistoryBackfill, backfill_id)
    shop = db.session.get_one(Shop, row.shop_id)
    fresh = _not_held(shop, parsed.rows)
    history.store(shop, fresh, source="shopify")
    row.status, row.error, row.finished_at = ("partial" if partial else "completed"), error, now
    row.counts = {"orders": parsed.orders, "imported": len(fresh), "already_held": len(parsed.rows) - len(fresh),
                  "not_delivered": parsed.not_delivered, "no_destination": parsed.no_destination,
                  "dropped": parsed.dropped, "malformed": parsed.malformed}
    db.session.commit()
    log("history backfill imported", shop=shop.domain, operation=row.operation_id, status=row.status, **row.counts)
    if fresh:
        learning.rebuild(shop, now)
    return row


def _not_held(shop: Shop, rows: list[Delivery]) -> list[Delivery]:
    """The rows for orders the shop holds no delivery of yet: neither imported before nor followed by the app
    (so that a second run adds nothing, and no order is learned from twice)."""
    refs = [d.order_id for d in rows]
    held: set[str] = set()
    for start_at in range(0, len(refs), 1000):
        chunk = refs[start_at:start_at + 1000]
        held.update(db.session.scalars(sa.select(PastDelivery.order_ref).where(
            PastDelivery.shop_id == shop.id, PastDelivery.order_ref.in_(chunk))))
        numbers = [int(ref) for ref in chunk if ref.isdigit()]
        held.update(str(n) for n in db.session.scalars(
            sa.select(Order.shopify_id).join(Shipment, Shipment.order_id == Order.id)
            .where(Order.shop_id == shop.id, Order.shopify_id.in_(numbers), Shipment.delivered_at.is_not(None))))
    return [d for d in rows if d.order_id not in held]


def describe(row: HistoryBackfill | None, domain: str) -> str:
    """What became of a backfill, for the operator and the merchant."""
    again = f"Run `flask --app wsgi cx history backfill --shop {domain}` to try again."
    if row is None:
        return "No past orders have been read from Shopify yet."
    if row.status == "running":
        return f"Shopify is reading the past 12 months of orders (since {row.started_at:%Y-%m-%d %H:%M} UTC)."
    if row.status == "importing":
        return "Shopify has finished reading the past orders; importing them."
    if row.status == "failed":
        return f"Reading the past orders from Shopify failed ({row.error}); nothing was imported. {again}"
    c = row.counts
    skipped = (f"{c.get('already_held', 0)} already held, {c.get('not_delivered', 0)} never marked delivered, "
               f"{c.get('no_destination', 0)} without a shipping country, {c.get('dropped', 0)} with a delivery "
               f"before their hand-off or order (dropped), {c.get('malformed', 0)} unreadable")
    done = f"Imported {c.get('imported', 0)} deliveries from {c.get('orders', 0)} past orders ({skipped})."
    if row.status == "partial":
        return (f"Shopify stopped early ({row.error or 'the file was cut short'}): only its complete records were "
                f"read. {done} {again}")
    return done


def log_fields(row: HistoryBackfill | None) -> dict[str, Any]:
    if row is None:
        return {"backfill": None}
    return {"backfill": row.id, "shop_id": row.shop_id, "status": row.status, "error": row.error, **row.counts}
