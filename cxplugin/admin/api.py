"""Admin JSON API. Every route is behind the session-token guard and reads the guard's shop only."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, jsonify, request
from marshmallow import ValidationError

from cxplugin.extensions import db
from cxplugin.models import DataRequest, Order, OutboxMessage
from cxplugin.models.types import utcnow
from cxplugin.promise import on_orders as order_promise
from cxplugin.promise.answers import promise_answer
from cxplugin.returns import records as returns
from cxplugin.risk import listing as risk_listing
from cxplugin.schemas.orders import OrderOut
from cxplugin.schemas.storefront import PromiseQuery
from cxplugin.scores import figures, rules
from cxplugin.scores import responses as answers
from cxplugin.shopify.auth import current_shop, require_session_token
from cxplugin.shops import settings as shop_settings
from cxplugin.shops.snapshot import shop_view

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


@bp.get("/returns")
@require_session_token
def returns_list() -> dict[str, Any]:
    """The shop's returns (newest first) with their lines and reasons, and the returns figures."""
    shop = current_shop()
    return {"returns": returns.listing(shop), "summary": returns.summary(shop)}


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


@bp.get("/scores")
@require_session_token
def scores() -> dict[str, Any] | tuple[Response, int]:
    """Every figure of the scores page; ``from``/``to`` are shop-local dates (default: the last 30 days)."""
    period = _period()
    if not isinstance(period, rules.DateRange):
        return period
    return figures.scores(current_shop(), period, _shop_today())


@bp.get("/scores.csv")
@require_session_token
def scores_csv() -> Response | tuple[Response, int]:
    period = _period()
    if not isinstance(period, rules.DateRange):
        return period
    body = figures.as_csv(figures.scores(current_shop(), period, _shop_today()))
    name = f"scores-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _shop_today() -> date:
    return utcnow().astimezone(ZoneInfo(current_shop().timezone)).date()


def _period() -> rules.DateRange | tuple[Response, int]:
    try:
        return rules.date_range(request.args.get("from"), request.args.get("to"), _shop_today())
    except rules.RangeError as exc:
        return jsonify(status=400, message=str(exc)), 400


@bp.get("/responses")
@require_session_token
def responses() -> dict[str, Any] | tuple[Response, int]:
    """Survey answers, newest first, filtered and paged."""
    try:
        filters = answers.parse_filters(request.args)
    except answers.FilterError as exc:
        return jsonify(status=400, message=str(exc)), 400
    return answers.page(current_shop(), filters)


@bp.put("/responses/<int:survey_id>/mark")
@require_session_token
def mark_response(survey_id: int) -> dict[str, Any] | tuple[Response, int]:
    """The merchant's follow-up of one answer: ``{"mark": "open" | "contacted" | "resolved"}``."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(status=400, message='Send {"mark": "contacted"} as JSON.'), 400
    mark = body.get("mark")
    if mark not in rules.FOLLOW_UP_MARKS:
        return jsonify(status=422, message="Unknown follow-up mark.",
                       errors={"mark": [f"Use one of: {', '.join(rules.FOLLOW_UP_MARKS)}."]}), 422
    row = answers.set_mark(current_shop(), survey_id, mark, utcnow())
    if row is None:
        abort(404, description="No such answer in this shop.")
    return row


@bp.get("/preview")
@require_session_token
def preview() -> Response | tuple[Response, int]:
    """The storefront's promise answer as a shopper would get it (``country``, ``locale``, ``product_id``, …)."""
    view = shop_view(current_shop().domain)
    assert view is not None  # the guard found the shop
    now = utcnow()
    try:
        held = promise_answer(view, PromiseQuery().load(request.args), now)
    except ValidationError as exc:
        return jsonify(status=400, message="Some parameters are not valid.", errors=exc.messages), 400
    return current_app.response_class(held.json(now), mimetype="application/json")


@bp.get("/outbox")
@require_session_token
def outbox() -> dict[str, Any]:
    """Messages kept instead of sent (MAIL_URL=outbox), newest first."""
    rows = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.shop_id == current_shop().id)
                              .order_by(OutboxMessage.id.desc()).limit(200))
    return {"messages": [{"to": m.recipient, "subject": m.subject, "message_id": m.message_id,
                          "created_at": m.created_at.isoformat(), "raw": m.raw} for m in rows]}
