"""Admin JSON API. Every route is behind the session-token guard and reads the guard's shop only."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, abort, jsonify, request
from marshmallow import ValidationError

from cxplugin.extensions import db
from cxplugin.models import DataRequest, Order, OutboxMessage, Survey, SurveyStatus
from cxplugin.promise import on_orders as order_promise
from cxplugin.risk import listing as risk_listing
from cxplugin.schemas.orders import OrderOut
from cxplugin.shopify.auth import current_shop, require_session_token
from cxplugin.shops import settings as shop_settings

bp = Blueprint("admin_api", __name__, url_prefix="/api/admin")


@bp.get("/settings")
@require_session_token
def settings() -> dict[str, Any]:
    return shop_settings.current(current_shop())


@bp.put("/settings")
@require_session_token
def save_settings() -> dict[str, Any] | tuple[Response, int]:
    patch = request.get_json(silent=True)
    if not isinstance(patch, dict):
        return jsonify(status=400, message="Send the settings as a JSON object."), 400
    try:
        return shop_settings.update(current_shop(), patch)
    except ValidationError as exc:
        return jsonify(status=422, message="Some settings are not valid.", errors=exc.messages), 422
    except shop_settings.ConcurrentSaves:
        return jsonify(status=409, message="The settings were being saved elsewhere at the same time. "
                                           "Reload them and save again."), 409


@bp.get("/orders/<int:shopify_order_id>")
@require_session_token
def order(shopify_order_id: int) -> dict[str, Any]:
    found = db.session.scalar(sa.select(Order).where(Order.shop_id == current_shop().id,
                                                     Order.shopify_id == shopify_order_id))
    if found is None:
        abort(404, description="No such order in this shop.")
    result: dict[str, Any] = OrderOut().dump(found)
    result["promise"] = order_promise.summary(current_shop(), found)
    result["risk"] = risk_listing.order_risk(found)
    return result


@bp.get("/data-requests")
@require_session_token
def data_requests() -> dict[str, Any]:
    rows = db.session.scalars(sa.select(DataRequest).where(DataRequest.shop_id == current_shop().id)
                              .order_by(DataRequest.requested_at.desc()))
    return {"data_requests": [
        {"id": r.id, "shopify_request_id": r.shopify_request_id, "customer_id": r.customer_id,
         "requested_at": r.requested_at.isoformat()} for r in rows
    ]}


@bp.get("/data-requests/<int:request_id>")
@require_session_token
def data_request(request_id: int) -> dict[str, Any]:
    found = db.session.scalar(sa.select(DataRequest).where(DataRequest.shop_id == current_shop().id,
                                                           DataRequest.id == request_id))
    if found is None:
        abort(404, description="No such data request in this shop.")
    return found.export


@bp.get("/responses")
@require_session_token
def responses() -> dict[str, Any]:
    """Survey answers, newest first."""
    # One query: the answers with their orders' ids and names (not one order load per answer).
    rows = db.session.execute(
        sa.select(Order.shopify_id, Order.name, Survey.csat, Survey.nps, Survey.comment, Survey.answered_at)
        .join(Order, (Order.id == Survey.order_id) & (Order.shop_id == Survey.shop_id))
        .where(Survey.shop_id == current_shop().id, Survey.status == SurveyStatus.ANSWERED)
        .order_by(Survey.answered_at.desc()).limit(500))
    return {"responses": [
        {"order_id": r.shopify_id, "order_name": r.name, "csat": r.csat, "nps": r.nps,
         "comment": r.comment, "answered_at": r.answered_at.isoformat() if r.answered_at else None}
        for r in rows
    ]}


@bp.get("/outbox")
@require_session_token
def outbox() -> dict[str, Any]:
    """Messages kept instead of sent (MAIL_URL=outbox), newest first."""
    rows = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.shop_id == current_shop().id)
                              .order_by(OutboxMessage.id.desc()).limit(200))
    return {"messages": [{"to": m.recipient, "subject": m.subject, "message_id": m.message_id,
                          "created_at": m.created_at.isoformat(), "raw": m.raw} for m in rows]}
