"""Local demo: a seeded shop and a login that works without Shopify (CX_DEMO=1, localhost only)."""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlencode, urlsplit

import jwt
from flask import Blueprint, Response, abort, current_app, redirect, request

from cxplugin.demo import DEMO_SHOP

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
