"""Embedded app home: verified with verify_app_home_req; the first load installs the shop."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, make_response, render_template, request

from cxplugin.admin.overview import overview
from cxplugin.logs import log
from cxplugin.shopify.auth import PATCH_ID_TOKEN_PATH, app_home_input, is_own_path, is_shop_domain, to_response
from cxplugin.shopify.client import http_client, shopify_app
from cxplugin.shops.lifecycle import find_shop, store_exchanged_token

bp = Blueprint("admin_pages", __name__)


@bp.get(PATCH_ID_TOKEN_PATH)
def patch_id_token() -> Response:
    """Shopify's page that fetches a fresh session token and reloads the requested page.

    The page's Content-Security-Policy names the shop from the query, so only a shop's myshopify.com
    domain is taken; the reload target must be a page of this app.
    """
    if not is_shop_domain(request.args.get("shop")):
        return Response("This page needs the shop's myshopify.com domain (shop=name.myshopify.com). "
                        "Open the app from Shopify admin.", status=400, mimetype="text/plain")
    if not is_own_path(request.args.get("shopify-reload", "")):
        return Response("This page reloads pages of this app only (shopify-reload=/admin…). "
                        "Open the app from Shopify admin.", status=400, mimetype="text/plain")
    return to_response(shopify_app().app_home_patch_id_token(app_home_input()).response)


@bp.get("/admin")
def home() -> Response:
    result = shopify_app().verify_app_home_req(app_home_input(), app_home_patch_id_token_path=PATCH_ID_TOKEN_PATH)
    if not result.ok or not result.shop:
        return to_response(result.response)
    shop = find_shop(result.shop)
    if shop is None or not shop.is_installed or shop.access_token is None:
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
