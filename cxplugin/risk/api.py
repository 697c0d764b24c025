"""Admin JSON API of orders at risk: the list, the detractors to follow up, and the merchant's marks on both.
Behind the session-token guard; reads and writes the guard's shop only."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from cxplugin.extensions import db
from cxplugin.models.types import utcnow
from cxplugin.risk import listing
from cxplugin.shopify.auth import current_shop, require_session_token

bp = Blueprint("risk_api", __name__, url_prefix="/api/admin")


@bp.get("/at-risk")
@require_session_token
def at_risk() -> dict[str, Any]:
    shop = current_shop()
    return {"orders": listing.at_risk(shop), "detractors": listing.detractors(shop),
            "late_with_vs_without_notice": listing.late_with_vs_without_notice(shop)}


def _mark_from_body() -> str | None:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "mark" not in body:
        abort(400, description='Send {"mark": "contacted" | "resolved" | "ignored" | null}.')
    mark = body["mark"]
    if mark in (None, "open"):
        return None
    if mark not in listing.MARKS:
        abort(422, description=f"mark must be one of {', '.join(listing.MARKS)}, or null to clear it.")
    return str(mark)


@bp.put("/at-risk/orders/<int:shopify_order_id>/mark")
@require_session_token
def mark_order(shopify_order_id: int) -> Response:
    mark = _mark_from_body()
    if not listing.mark_risk(current_shop(), shopify_order_id, mark, utcnow()):
        abort(404, description="This order has no open risk in this shop.")
    db.session.commit()
    return jsonify(order_id=shopify_order_id, mark=mark)


@bp.put("/at-risk/answers/<int:answer_id>/mark")
@require_session_token
def mark_answer(answer_id: int) -> Response:
    mark = _mark_from_body()
    if not listing.mark_answer(current_shop(), answer_id, mark, utcnow()):
        abort(404, description="No such answer in this shop.")
    db.session.commit()
    return jsonify(answer_id=answer_id, mark=mark)
