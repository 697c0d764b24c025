"""POST /webhooks: verify the HMAC over the raw body, record, answer — no business work here.

The recorded row is the hand-off: the worker's dispatcher enqueues it (webhooks/dispatch.py)."""

from __future__ import annotations

import orjson
from flask import Blueprint, Response, current_app, g, request
from sqlalchemy.exc import SQLAlchemyError

from cxplugin.extensions import db
from cxplugin.logs import log
from cxplugin.shopify import signatures
from cxplugin.shopify.client import signing_secrets
from cxplugin.shops.lifecycle import shop_domain
from cxplugin.shops.snapshot import shop_view
from cxplugin.webhooks import recording
from cxplugin.webhooks.recording import Delivery, RecordFailed, Rejected

bp = Blueprint("webhooks", __name__)


def _answer(status: int, message: str) -> tuple[Response, int]:
    body = orjson.dumps({"status": status, "message": message})
    return current_app.response_class(body, status=status, mimetype="application/json"), status


@bp.post("/webhooks")
def receive() -> tuple[Response, int]:
    limit: int = current_app.config["CX_WEBHOOK_MAX_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        return _answer(413, f"The body is larger than {limit} bytes.")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        return _answer(413, f"The body is larger than {limit} bytes.")
    shop = signatures.webhook_shop(raw, request.headers, signing_secrets())
    if shop is None:
        log("webhook refused: missing or invalid HMAC")
        return _answer(401, "Missing or invalid HMAC.")
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _answer(400, "The body is not UTF-8 JSON.")

    headers = request.headers
    delivery = Delivery(
        shop_domain=shop_domain(shop),
        topic=(headers.get("X-Shopify-Topic") or "").strip().lower(),
        event_id=(headers.get("X-Shopify-Event-Id") or headers.get("X-Shopify-Webhook-Id") or "").strip(),
        webhook_id=headers.get("X-Shopify-Webhook-Id"),
        api_version=headers.get("X-Shopify-API-Version"),
        triggered_at=recording.parse_triggered_at(headers.get("X-Shopify-Triggered-At")),
        body=body,
    )
    g.log_fields.update(shop=delivery.shop_domain, topic=delivery.topic, event_id=delivery.event_id)
    if not delivery.topic or not delivery.event_id:
        return _answer(400, "X-Shopify-Topic and X-Shopify-Event-Id are required.")
    if len(delivery.event_id) > 255 or len(delivery.topic) > 100:
        return _answer(400, "A header is too long.")

    try:
        status = recording.check(delivery, shop_view(delivery.shop_domain))
        recorded = recording.record(delivery, status)
    except Rejected as rejected:
        db.session.rollback()
        return _answer(rejected.status, rejected.message)
    except (RecordFailed, SQLAlchemyError) as exc:
        db.session.rollback()
        log("webhook could not be recorded", 40, error=repr(exc))
        response, code = _answer(503, "Could not record the webhook; please retry.")
        response.headers["Retry-After"] = "5"
        return response, code

    if recorded.id is None:
        g.log_fields["duplicate"] = True
        return _answer(200, "Already recorded.")
    g.log_fields["webhook_event_id"] = recorded.id
    if recorded.status != "pending":
        log("webhook topic not handled; recorded and ignored", topic=delivery.topic)
    # The worker's dispatcher takes it from the table (webhooks/dispatch.py).
    return _answer(200, "Recorded.")
