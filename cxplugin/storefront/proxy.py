"""App proxy views (/apps/<subpath>/… on the storefront → /proxy/… here), signed by Shopify (shopify/signatures.py)."""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, g, jsonify, request
from marshmallow import ValidationError

from cxplugin import i18n
from cxplugin.logs import log
from cxplugin.models.types import utcnow
from cxplugin.promise.answers import held_promise_answer
from cxplugin.returns.terms import terms_page
from cxplugin.shopify import signatures
from cxplugin.shopify.client import signing_secrets
from cxplugin.shops.lifecycle import shop_domain
from cxplugin.shops.snapshot import ShopView, shop_view

bp = Blueprint("storefront", __name__, url_prefix="/proxy")

# Long enough for a shopper moving between pages; short next to the cutoff countdown.
CACHE_SECONDS = 60


def _verified_shop() -> ShopView | tuple[Response, int]:
    domain = signatures.proxy_shop(request.args.lists(), signing_secrets(), time.time())
    if domain is None:
        log("proxy request refused: missing, stale or invalid signature")
        return jsonify(status=401, message="This request is not signed by Shopify."), 401
    shop = shop_view(shop_domain(domain))
    if shop is None or not shop.installed:
        return jsonify(status=404, message="This shop does not use the app."), 404
    g.log_fields["shop"] = shop.domain
    return shop


@bp.get("/promise")
def promise_view() -> Response | tuple[Response, int]:
    """The promise for a product page or a cart."""
    shop = _verified_shop()
    if not isinstance(shop, ShopView):
        return shop
    now = utcnow()
    try:
        held = held_promise_answer(shop, request.args, now)
    except ValidationError as exc:
        return jsonify(status=400, message="Some parameters are not valid.", errors=exc.messages), 400
    response = current_app.response_class(held.json(now), mimetype="application/json")
    response.headers["Cache-Control"] = f"private, max-age={CACHE_SECONDS}"
    return response


@bp.get("/returns")
def returns_view() -> Response | tuple[Response, int]:
    """The shop's return terms, rendered by Shopify in the shop's theme (Liquid), in the shopper's language."""
    shop = _verified_shop()
    if not isinstance(shop, ShopView):
        return shop
    locale = i18n.negotiate(request.args.get("locale"), request.accept_languages.best, shop.primary_locale)
    response = current_app.response_class(terms_page(shop.settings, locale), mimetype="application/liquid")
    response.headers["Cache-Control"] = f"private, max-age={CACHE_SECONDS}"
    return response
