"""Merchant authentication: the embedded app home and the session-token guard for /api/admin."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Response, current_app, g, jsonify, request
from shopify_app import RequestInput, Res
from werkzeug.sansio.utils import get_current_url

from cxplugin.logs import log
from cxplugin.models import Shop
from cxplugin.shopify.client import request_input, shopify_app
from cxplugin.shops.lifecycle import find_shop

PATCH_ID_TOKEN_PATH = "/auth/patch-id-token"

# A shop's permanent domain as Shopify writes it; nothing else may reach a header or a URL we build.
SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")

F = TypeVar("F", bound=Callable[..., Any])


def to_response(res: Res) -> Response:
    """The package's response, verbatim (status, body and the headers Shopify requires)."""
    return Response(res.body, status=res.status, headers=res.headers)


def is_shop_domain(value: str | None) -> bool:
    """True for ``x.myshopify.com`` (lower case, letters, digits and hyphens)."""
    return bool(value) and SHOP_DOMAIN.fullmatch(value or "") is not None


def app_home_input() -> RequestInput:
    """The current request as ``shopifyapp`` verifies it, its URL placed on APP_URL.

    The package builds its redirects (to the token refresh page) from the request's URL, and the Host
    header is whatever the client sent: absolute URLs come from configuration only.
    """
    base = urlsplit(current_app.config["APP_URL"])
    url = get_current_url(base.scheme, base.netloc, base.path, request.path, request.query_string)
    return {**request_input(), "url": url}


def is_own_path(target: str) -> bool:
    """True for a path on this app (``/admin?…``) or a URL on APP_URL's origin: where a reload may go."""
    if target.startswith("/"):
        return not target.startswith(("//", "/\\"))
    app_url = urlsplit(current_app.config["APP_URL"])
    parts = urlsplit(target)
    return (parts.scheme, parts.netloc) == (app_url.scheme, app_url.netloc)


def require_session_token(view: F) -> F:
    """Admin API guard: the shop comes from the verified session token only, never a parameter."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        result = shopify_app().verify_app_home_req(app_home_input(), app_home_patch_id_token_path=PATCH_ID_TOKEN_PATH)
        if not result.ok or not result.shop:
            log("session token refused", code=result.log.code)
            # A fetch without a bearer token gets the package's document redirect; APIs answer 401.
            if result.response.status == 302:
                return jsonify(error="A session token is required (Authorization: Bearer …)."), 401
            return to_response(result.response)
        shop = find_shop(result.shop)
        if shop is None or not shop.is_installed:
            return jsonify(error="The app is not installed on this shop. Open it from Shopify admin."), 403
        g.shop = shop
        g.log_fields["shop"] = shop.domain
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def current_shop() -> Shop:
    shop: Shop = g.shop
    return shop
