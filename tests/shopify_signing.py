"""Sign requests exactly as Shopify does, so tests speak to the app as Shopify would (the HMACs are the app's own
signing functions, cxplugin/shopify/signatures.py, which tests/test_signatures.py holds to shopifyapp)."""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt

from cxplugin.shopify import signatures

API_KEY = "test-api-key"
SECRET = "test-api-secret-for-hs256-signing-0001"  # ≥ 32 bytes, as HS256 wants
SHOP = "cx-test-shop.myshopify.com"
FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"


def fixture(name: str) -> dict[str, Any]:
    """A webhook payload by fixture name, e.g. ``fulfillments_update__delivered``."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def webhook_hmac(body: bytes, secret: str = SECRET) -> str:
    return signatures.webhook_hmac(body, secret)


def webhook_headers(topic: str, body: bytes, *, shop: str = SHOP, event_id: str | None = None,
                    triggered_at: str | None = None, secret: str = SECRET, lower: bool = False,
                    api_version: str = "2026-10") -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": webhook_hmac(body, secret),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-API-Version": api_version,
        "X-Shopify-Webhook-Id": secrets.token_hex(16),
        "X-Shopify-Event-Id": event_id or secrets.token_hex(16),
        # Nanoseconds, as Shopify writes them (here microseconds padded): events are ordered within a second.
        "X-Shopify-Triggered-At": triggered_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z"),
    }
    return {k.lower(): v for k, v in headers.items()} if lower else headers


def session_token(shop: str = SHOP, *, aud: str = API_KEY, secret: str = SECRET, lifetime: int = 60,
                  issued_ago: int = 5) -> str:
    """A session token as App Bridge issues them (HS256 with the app secret)."""
    now = int(time.time())
    claims = {
        "iss": f"https://{shop}/admin", "dest": f"https://{shop}", "aud": aud, "sub": "42",
        "exp": now - issued_ago + lifetime, "nbf": now - issued_ago, "iat": now - issued_ago,
        "jti": secrets.token_hex(8), "sid": secrets.token_hex(8),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def proxy_query(params: dict[str, str | list[str]], *, shop: str = SHOP, secret: str = SECRET,
                timestamp: int | None = None) -> str:
    """The query string Shopify's app proxy forwards: the shopper's parameters plus shop, path_prefix,
    timestamp and logged_in_customer_id, signed as Shopify signs it (``signatures.proxy_signature``)."""
    from urllib.parse import urlencode

    signed: dict[str, str | list[str]] = {
        **params, "shop": shop, "path_prefix": "/apps/cx", "logged_in_customer_id": "",
        "timestamp": str(int(time.time()) if timestamp is None else timestamp),
    }
    pairs = [(k, value) for k, v in signed.items() for value in (v if isinstance(v, list) else [v])]
    return urlencode({**signed, "signature": signatures.proxy_signature(pairs, secret)}, doseq=True)
