"""Merchant authentication: the embedded app home and the session-token guard for /api/admin."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, g, jsonify
from shopify_app import Res

from cxplugin.logs import log
from cxplugin.models import Shop
from cxplugin.shopify.client import request_input, shopify_app
from cxplugin.shops.lifecycle import find_shop

PATCH_ID_TOKEN_PATH = "/auth/patch-id-token"

F = TypeVar("F", bound=Callable[..., Any])


def to_response(res: Res) -> Response:
    """The package's response, verbatim (status, body and the headers Shopify requires)."""
    return Response(res.body, status=res.status, headers=res.headers)


def require_session_token(view: F) -> F:
    """Admin API guard: the shop comes from the verified session token only, never a parameter."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        result = shopify_app().verify_app_home_req(request_input(), app_home_patch_id_token_path=PATCH_ID_TOKEN_PATH)
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
