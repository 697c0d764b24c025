"""App proxy views (/apps/<subpath>/… on the storefront → /proxy/… here), verified with shopifyapp."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request
from marshmallow import ValidationError

from cxplugin.logs import log
from cxplugin.models.types import utcnow
from cxplugin.schemas.storefront import PromiseQuery
from cxplugin.shop_snapshot import ShopView, shop_view
from cxplugin.shopify.client import request_input, shopify_app
from cxplugin.shops import shop_domain
from cxplugin.storefront.answers import promise_answer

bp = Blueprint("storefront", __name__, url_prefix="/proxy")

# Long enough for a shopper moving between pages; short next to the cutoff countdown.
CACHE_SECONDS = 60


def _verified_shop() -> ShopView | tuple[Response, int]:
    result = shopify_app().verify_app_proxy_req(request_input())
    if not result.ok or not result.shop:
        log("proxy request refused", code=result.log.code)
        return jsonify(status=401, message="This request is not signed by Shopify."), 401
    shop = shop_view(shop_domain(result.shop))
    if shop is None or not shop.installed:
        return jsonify(status=404, message="This shop does not use the app."), 404
    g.log_fields["shop"] = shop.domain
    return shop


@bp.get("/promise")
def promise_view() -> Response | tuple[Response, int]:
    shop = _verified_shop()
    if not isinstance(shop, ShopView):
        return shop
    try:
        query = PromiseQuery().load(request.args)
    except ValidationError as exc:
        return jsonify(status=400, message="Some parameters are not valid.", errors=exc.messages), 400
    response = jsonify(promise_answer(shop, query, utcnow()))
    response.headers["Cache-Control"] = f"private, max-age={CACHE_SECONDS}"
    return response
