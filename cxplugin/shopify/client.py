"""The app's ShopifyApp (from ``shopifyapp``) and an HTTP client for its outbound calls.

In development and tests SHOPIFY_ADMIN_ORIGIN sends calls meant for ``https://{shop}.myshopify.com``
to a local fake Admin API, keeping the shop's Host header so the fake knows which shop is asked.
"""

from __future__ import annotations

import httpx
from flask import current_app, request
from shopify_app import RequestInput, ShopifyApp

_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class AdminApiError(Exception):
    """A call to Shopify failed; ``code`` is the package's log code (e.g. ``unauthorized``) or ours."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code


class _OriginRewrite(httpx.BaseTransport):
    def __init__(self, origin: str) -> None:
        self._origin = httpx.URL(origin)
        self._inner = httpx.HTTPTransport(retries=1)

    def handle_request(self, req: httpx.Request) -> httpx.Response:
        req.url = req.url.copy_with(scheme=self._origin.scheme, host=self._origin.host, port=self._origin.port)
        return self._inner.handle_request(req)

    def close(self) -> None:
        self._inner.close()


def shopify_app() -> ShopifyApp:
    """The ShopifyApp for this app's credentials (cached on the Flask app)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cached: ShopifyApp | None = app.extensions.get("cx_shopify_app")
    if cached is None:
        cached = ShopifyApp(
            client_id=app.config["SHOPIFY_API_KEY"],
            client_secret=app.config["SHOPIFY_API_SECRET"],
            old_client_secret=app.config["SHOPIFY_OLD_API_SECRET"],
        )
        app.extensions["cx_shopify_app"] = cached
    return cached


def signing_secrets() -> tuple[str, ...]:
    """The secrets a Shopify signature may use: the app's, and the previous one while it is rotated."""
    config = current_app.config
    current: str = config["SHOPIFY_API_SECRET"]
    old: str | None = config["SHOPIFY_OLD_API_SECRET"]
    return (current, old) if old else (current,)


def http_client() -> httpx.Client:
    """A client with timeouts for Shopify calls; the caller closes it."""
    origin = current_app.config["SHOPIFY_ADMIN_ORIGIN"]
    if origin:
        return httpx.Client(transport=_OriginRewrite(origin), timeout=_TIMEOUT)
    return httpx.Client(timeout=_TIMEOUT)


def request_input() -> RequestInput:
    """The current Flask request in the shape ``shopifyapp`` verifies: untouched method, headers, URL, body."""
    return {
        "method": request.method,
        "headers": dict(request.headers),
        "url": request.url,
        "body": request.get_data(as_text=True),
    }
