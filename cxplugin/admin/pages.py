"""Embedded app home: verified with verify_app_home_req; the first load installs the shop."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, make_response, render_template

from cxplugin.admin.overview import overview
from cxplugin.logs import log
from cxplugin.shopify.auth import PATCH_ID_TOKEN_PATH, to_response
from cxplugin.shopify.client import http_client, request_input, shopify_app
from cxplugin.shops.lifecycle import find_shop, store_exchanged_token

bp = Blueprint("admin_pages", __name__)


@bp.get(PATCH_ID_TOKEN_PATH)
def patch_id_token() -> Response:
    """Shopify's page that fetches a fresh session token and reloads the requested page."""
    return to_response(shopify_app().app_home_patch_id_token(request_input()).response)


@bp.get("/admin")
def home() -> Response:
    result = shopify_app().verify_app_home_req(request_input(), app_home_patch_id_token_path=PATCH_ID_TOKEN_PATH)
    if not result.ok or not result.shop:
        return to_response(result.response)
    shop = find_shop(result.shop)
    # Shopify refusing the shop's refresh token marks it needs_reauth_at: this load exchanges a new token.
    if shop is None or not shop.is_installed or shop.access_token is None or shop.needs_reauth_at is not None:
        with http_client() as client:
            exchange = shopify_app().exchange_using_token_exchange(
                access_mode="offline",
                id_token=result.id_token,
                invalid_token_response=result.invalid_token_response,
                http_client=client,
            )
        if not exchange.ok or exchange.access_token is None:
            log("token exchange failed", shop=result.shop, code=exchange.log.code)
            return to_response(exchange.response)
        shop = store_exchanged_token(result.shop, exchange.access_token)
        log("shop installed", shop=shop.domain)
        from cxplugin.tasks import sync_shop_with_shopify

        sync_shop_with_shopify(shop.id)
    html = render_template("admin/home.html", shop=shop, figures=overview(shop),
                           api_key=current_app.config["SHOPIFY_API_KEY"])
    response = make_response(html)
    for name, value in result.response.headers.items():
        response.headers[name] = value
    return response
