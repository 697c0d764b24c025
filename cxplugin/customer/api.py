"""Customer account UI extension backend. The shop and the customer come from the verified token only: a
customer is known through Shopify customer accounts, never by an order number and an e-mail address."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from cxplugin import i18n
from cxplugin.extensions import db
from cxplugin.logs import log
from cxplugin.models import Order, Shop
from cxplugin.models.types import utcnow
from cxplugin.returns import requests as returns
from cxplugin.shopify.admin_api import AdminApiError
from cxplugin.shopify.client import request_input, shopify_app
from cxplugin.shops.lifecycle import find_shop

bp = Blueprint("customer_api", __name__, url_prefix="/api/customer")

_CUSTOMER_GID = "gid://shopify/Customer/"
# The extension runs on Shopify's domain: its fetches are cross-origin and carry the token, not cookies.
_CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "Authorization, Content-Type",
         "Access-Control-Allow-Methods": "GET, POST, OPTIONS", "Access-Control-Max-Age": "7200"}


class _Line(Schema):
    class Meta:
        unknown = EXCLUDE

    line_item_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(1, 10_000))
    reason_id = fields.String(required=True, validate=validate.Regexp(r"^gid://shopify/ReturnReasonDefinition/\d+$"))
    note = fields.String(load_default="", validate=validate.Length(max=300))


class ReturnRequestBody(Schema):
    class Meta:
        unknown = EXCLUDE

    lines = fields.List(fields.Nested(_Line), required=True, validate=validate.Length(1, 50))


@bp.after_request
def _cors(response: Response) -> Response:
    response.headers.update(_CORS)
    return response


@bp.route("/orders/<int:order_id>/returns", methods=["OPTIONS"])
def preflight(order_id: int) -> Response:
    return Response(status=204)


def _locale() -> str:
    return i18n.negotiate(request.args.get("locale"), request.accept_languages.best)


class _Refused(Exception):
    def __init__(self, response: Response, status: int) -> None:
        super().__init__(status)
        self.answer = (response, status)


def _verified() -> tuple[Shop, int]:
    result = shopify_app().verify_customer_account_ui_ext_req(request_input())
    claims = result.id_token.claims if result.ok and result.id_token else {}
    subject = str(claims.get("sub") or "")
    customer = subject.removeprefix(_CUSTOMER_GID)
    if not result.ok or not result.shop or not subject.startswith(_CUSTOMER_GID) or not customer.isdigit():
        log("customer account token refused", code=result.log.code)
        raise _Refused(jsonify(error="Sign in to your account again."), 401)
    shop = find_shop(result.shop)
    if shop is None or not shop.is_installed:
        raise _Refused(jsonify(error="This shop does not use the app."), 404)
    g.log_fields["shop"] = shop.domain
    return shop, int(customer)


def _order(order_id: int) -> tuple[Shop, int, Order]:
    shop, customer_id = _verified()
    order = returns.customer_order(shop, customer_id, order_id)
    if order is None:
        raise _Refused(jsonify(error="No such order in your account."), 404)
    return shop, customer_id, order


@bp.errorhandler(_Refused)
def _refused(exc: _Refused) -> tuple[Response, int]:
    return exc.answer


@bp.get("/orders/<int:order_id>/returns")
def order_returns(order_id: int) -> Any:
    """Each line's eligibility and last day, and the shop's return reasons to choose from."""
    shop, _, order = _order(order_id)
    answer = returns.order_returns(shop, order, utcnow(), _locale())
    domain = shop.domain
    try:
        access = returns.ShopifyAccess.of(shop)
        db.session.rollback()  # Shopify is asked outside any transaction
        answer["reasons"] = returns.return_reasons(access)
    except AdminApiError as exc:
        log("return reasons unavailable", 30, shop=domain, code=exc.code)
        answer["reasons"] = []
    return answer


@bp.post("/orders/<int:order_id>/returns")
def request_return(order_id: int) -> Any:
    """One return request for the chosen lines (idempotent: the same request twice is one request)."""
    if request.content_length and request.content_length > 64 * 1024:
        return jsonify(error="The request is too large."), 413
    shop, customer_id, order = _order(order_id)
    try:
        body = ReturnRequestBody().load(request.get_json(silent=True) or {})
    except ValidationError as exc:
        return jsonify(error="Some parts of the request are not valid.", errors=exc.messages), 400
    lines = [returns.RequestedLine(ln["line_item_id"], ln["quantity"], ln["reason_id"], ln["note"].strip())
             for ln in body["lines"]]
    try:
        answer, created = returns.request_return(shop, order, customer_id, lines, utcnow(), _locale())
    except returns.RefusedRequest as exc:
        return jsonify(error=exc.errors[0]["message"], errors=exc.errors), exc.status
    except AdminApiError as exc:
        log("return request failed", 40, shop=g.log_fields.get("shop"), code=exc.code)
        return jsonify(error="Shopify could not be reached. Try again in a minute."), 502
    return jsonify(answer), 201 if created else 200



