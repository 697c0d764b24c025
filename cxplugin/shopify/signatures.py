"""Shopify's signatures on the two hot paths — webhooks and app proxy requests — checked in place, and made
as Shopify makes them (for the demo and the tests, which speak to the app as Shopify would).

The checks are the ones ``shopifyapp``'s ``verify_webhook_req`` and ``verify_app_proxy_req`` make
(header names, secret rotation, the 90 s proxy window, constant-time comparison). Those functions
also build a redacted copy of the whole request for their log — re-serialising a webhook's JSON
body — which costs more than all the rest of webhook intake. tests/test_signatures.py holds these
functions to shopifyapp's verdicts on generated requests. No I/O and no clock here: ``now`` is given.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Sequence

from werkzeug.datastructures import Headers

WEBHOOK_HMAC_HEADERS = ("X-Shopify-Hmac-Sha256", "Shopify-Hmac-Sha256")
WEBHOOK_SHOP_HEADERS = ("X-Shopify-Shop-Domain", "Shopify-Shop-Domain")
PROXY_MAX_AGE_SECONDS = 90
# What Shopify's app proxy adds to a storefront's query: they sign the request, not what it asks.
PROXY_SIGNING_PARAMS = frozenset({"shop", "path_prefix", "timestamp", "signature", "logged_in_customer_id"})


def _first(headers: Headers, names: Sequence[str]) -> str:
    # The first name present wins, even when empty (as in shopifyapp). Flask's headers are
    # case-insensitive, so HTTP/2's lower-case names are found too.
    for name in names:
        value = headers.get(name)
        if value is not None:
            return value
    return ""


# hashlib lets other threads run while it hashes 2 KiB or more at once. Under load, handing the interpreter to
# another thread and waiting to get it back costs a webhook more than hashing its body, so a message is fed
# in pieces just under that size.
_HASHED_WITHOUT_HANDOVER = 2047


def _hmac_sha256(secret: bytes, message: bytes) -> bytes:
    mac = hmac.new(secret, digestmod=hashlib.sha256)
    view = memoryview(message)
    for start in range(0, len(view), _HASHED_WITHOUT_HANDOVER):
        mac.update(view[start:start + _HASHED_WITHOUT_HANDOVER])
    return mac.digest()


def webhook_hmac(body: bytes, secret: str) -> str:
    """The HMAC Shopify sends with a webhook: base64 HMAC-SHA256 of the raw body bytes."""
    return base64.b64encode(_hmac_sha256(secret.encode(), body)).decode()


def _signed_pair(key: str, values: Sequence[str]) -> str:
    return f"{key}={','.join(values)}"


def _hex_hmac(secret: str, message: str) -> str:
    return _hmac_sha256(secret.encode(), message.encode()).hex()


def proxy_signature(params: Iterable[tuple[str, str]], secret: str) -> str:
    """The signature Shopify's app proxy adds to a query (``params``: its key/value pairs, ``signature`` left out).

    Shopify's documented algorithm: hex HMAC-SHA256 over the ``key=value`` strings (several values of a key
    joined with commas), sorted and concatenated without separators. ``proxy_shop`` orders by key instead, as
    shopifyapp does; the two differ only when a key prefixes another before a character below "=".
    """
    grouped: dict[str, list[str]] = {}
    for key, value in params:
        if key != "signature":
            grouped.setdefault(key, []).append(value)
    return _hex_hmac(secret, "".join(sorted(_signed_pair(key, values) for key, values in grouped.items())))


def webhook_shop(body: bytes, headers: Headers, secrets: Sequence[str]) -> str | None:
    """The shop named by a webhook whose body carries a valid HMAC under one of ``secrets``; else None.

    The HMAC is base64 HMAC-SHA256 of the raw body bytes, as Shopify sends it.
    """
    received = _first(headers, WEBHOOK_HMAC_HEADERS).encode("latin-1", "replace")
    if not received:
        return None
    for secret in secrets:
        if hmac.compare_digest(received, webhook_hmac(body, secret).encode()):
            return _first(headers, WEBHOOK_SHOP_HEADERS).replace(".myshopify.com", "") or None
    return None


def proxy_shop(params: Iterable[tuple[str, list[str]]], secrets: Sequence[str], now: float) -> str | None:
    """The shop of an app proxy request whose query (``params``: each key with all its values) is signed
    by Shopify under one of ``secrets`` within the last 90 s; else None.

    The signature is hex HMAC-SHA256 over the parameters other than ``signature``, sorted by key, each
    written ``key=value`` (several values of a key joined with commas) and concatenated.
    """
    signed: dict[str, list[str]] = {}
    received = ""
    for key, values in params:
        if key == "signature":
            if len(values) != 1:
                return None
            received = values[0]
        else:
            signed[key] = values
    shop_values = signed.get("shop", [])
    timestamps = signed.get("timestamp", [])
    if not received or len(shop_values) > 1 or not timestamps:
        return None
    try:
        if abs(int(now) - int(timestamps[0])) > PROXY_MAX_AGE_SECONDS:
            return None
    except ValueError:
        return None
    message = "".join(_signed_pair(key, values) for key, values in sorted(signed.items()))
    received_bytes = received.encode("utf-8", "replace")
    for secret in secrets:
        if hmac.compare_digest(received_bytes, _hex_hmac(secret, message).encode()):
            return (shop_values[0] if shop_values else "").replace(".myshopify.com", "") or None
    return None
