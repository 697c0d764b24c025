"""Local demo pages: a landing page, a login that works without Shopify, and a storefront with the real theme block
(CX_DEMO=1, localhost only)."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import jwt
import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, send_from_directory
from markupsafe import Markup

from cxplugin import i18n
from cxplugin.demo import DEMO_SHOP, storefront
from cxplugin.extensions import db
from cxplugin.models import Order
from cxplugin.models.types import utcnow
from cxplugin.shops.lifecycle import find_shop

bp = Blueprint("demo", __name__)


def session_token(shop_domain: str, lifetime: int = 60) -> str:
    """A session token shaped and signed as Shopify's App Bridge issues them."""
    now = int(time.time())
    claims = {
        "iss": f"https://{shop_domain}/admin", "dest": f"https://{shop_domain}",
        "aud": current_app.config["SHOPIFY_API_KEY"], "sub": "1",
        "exp": now + lifetime, "nbf": now - 5, "iat": now - 5,
        "jti": secrets.token_hex(8), "sid": secrets.token_hex(8),
    }
    return jwt.encode(claims, current_app.config["SHOPIFY_API_SECRET"], algorithm="HS256")


_LOOPBACK = {"127.0.0.1", "::1"}
_LOCAL_NAMES = {"localhost", *_LOOPBACK}
_FORWARDING_HEADERS = ("X-Forwarded-For", "X-Forwarded-Host", "Forwarded", "X-Real-IP")


def is_local_request() -> bool:
    """A browser on this machine talking to the app directly. Behind a reverse proxy on the same host
    every request comes from the loopback address, so a forwarding header or a Host that is not a
    local name means the request came from elsewhere."""
    if request.remote_addr not in _LOOPBACK:
        return False
    if any(name in request.headers for name in _FORWARDING_HEADERS):
        return False
    return urlsplit(f"//{request.host}").hostname in _LOCAL_NAMES


@bp.before_request
def local_only() -> None:
    if not current_app.config["CX_DEMO"] or not is_local_request():
        abort(404)


@bp.get("/demo")
def login() -> Response:
    query = urlencode({"shop": DEMO_SHOP, "embedded": "1", "id_token": session_token(DEMO_SHOP)})
    return redirect(f"/admin?{query}")  # type: ignore[return-value]


@bp.get("/demo/session-token")
def fresh_token() -> Response:
    return Response(session_token(DEMO_SHOP), mimetype="text/plain")


# ---- what a newcomer opens ----------------------------------------------------------------------------

ADMIN_PAGES = ("/admin", "/admin/scores", "/admin/settings", "/admin/responses", "/admin/at-risk", "/admin/outbox")
COUNTRIES = [("NL", "Netherlands"), ("BE", "Belgium"), ("DE", "Germany"), ("FR", "France"), ("ES", "Spain"),
             ("PL", "Poland"), ("IL", "Israel"), ("AE", "United Arab Emirates"), ("US", "United States")]


@bp.get("/")
def landing() -> str:
    """What this is, and the doors into it."""
    return render_template("demo/landing.html", shop=find_shop(DEMO_SHOP), admin_pages=ADMIN_PAGES,
                           order=_a_delivered_order())


@bp.get("/demo/admin")
def admin_page() -> Response:
    """The demo login straight into one admin page (``?to=/admin/scores``)."""
    target = request.args.get("to", "/admin")
    if target not in ADMIN_PAGES:
        abort(404)
    params = {"shop": DEMO_SHOP, "embedded": "1", "id_token": session_token(DEMO_SHOP)}
    if target == "/admin/scores":
        # The demo holds ninety days: show them all (the page's own default is the last thirty).
        params["from"] = (utcnow() - timedelta(days=89)).date().isoformat()
    return redirect(f"{target}?{urlencode(params)}")  # type: ignore[return-value]


@bp.get("/demo/storefront")
def storefront_page() -> str:
    """A product page with the theme app extension's real block, rendered as Shopify renders it.
    ``?blocks=none`` leaves the block out and changes nothing else: the page a storefront has without the app,
    which the storefront benchmark compares it with."""
    country = request.args.get("country", "NL").upper()
    locale = i18n.negotiate(request.args.get("locale", "nl"), "en")
    blocks = request.args.get("blocks", "all")
    if country not in dict(COUNTRIES):
        abort(404)
    if blocks not in ("all", "none"):
        abort(400, "blocks is either all (the default) or none.")
    product = {"id": DEMO_PRODUCT_ID, "title": "Linen shirt", "selected_or_first_available_variant": {"id": 42001}}
    block = "" if blocks == "none" else storefront.render_block(
        "product_promise", locale=locale, country=country, product=product, asset_path="/demo/assets")
    return render_template("demo/storefront.html", block=Markup(block), country=country, locale=locale,
                           direction=i18n.direction(locale), countries=COUNTRIES, locales=i18n.LOCALES)


@bp.get("/demo/assets/<path:name>")
def storefront_asset(name: str) -> Response:
    return send_from_directory(storefront.EXTENSION / "assets", name)


@bp.get(f"{storefront.PROXY_PREFIX}/<path:rest>")
def app_proxy(rest: str) -> Response:
    """What Shopify's app proxy does for the storefront: add the shop and a signature, and ask the app."""
    query = storefront.signed_proxy_query(request.query_string.decode(), current_app.config["SHOPIFY_API_SECRET"],
                                          shop=DEMO_SHOP)
    answer = current_app.test_client().get(f"{storefront.APP_PROXY_PATH}/{rest}", query_string=query,
                                           headers={"Accept": request.headers.get("Accept", "*/*")})
    return Response(answer.get_data(), status=answer.status_code, content_type=answer.content_type)


DEMO_PRODUCT_ID = 5_100_001


def _a_delivered_order() -> Order | None:
    shop = find_shop(DEMO_SHOP)
    if shop is None:
        return None
    return db.session.scalars(sa.select(Order).where(Order.shop_id == shop.id, Order.delivered_at.is_not(None))
                              .order_by(Order.delivered_at.desc()).limit(1)).first()


@bp.get("/demo/orders/<int:shopify_order_id>")
def customer_order(shopify_order_id: int) -> str:
    """What the shopper's order page shows through the customer account extension: each line's return deadline."""
    from cxplugin.returns import requests as customer_returns
    from cxplugin.surveys.sending import survey_locale

    shop = find_shop(DEMO_SHOP)
    order = db.session.scalar(sa.select(Order).where(Order.shop_id == shop.id, Order.shopify_id == shopify_order_id)) \
        if shop is not None else None
    if shop is None or order is None:
        abort(404)
    locale = survey_locale(shop, order)
    answer = customer_returns.order_returns(shop, order, utcnow(), locale)
    return render_template("demo/order.html", order=order, answer=answer, shop=shop)
