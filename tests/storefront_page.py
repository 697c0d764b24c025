"""A storefront in miniature for the delivery-promise theme app extension (extensions/cx-delivery-promise).

- ``render_block`` renders an app block's Liquid with python-liquid, with the Shopify objects and filters
  the blocks use (``product``, ``cart``, ``block.settings``, ``request``, ``localization``; ``asset_url``,
  ``script_tag``, ``t``, ``json``); ``storefront_html`` puts it into a small page.
- ``Storefront`` serves those pages, the extension's assets, Shopify's ``/cart/update.js`` (recording the
  attributes posted) and the app proxy path ``/apps/cx/promise``: a stub answer by default, or the real app
  through ``forward_to_app``, which signs the query as Shopify's app proxy does.
"""

from __future__ import annotations

import json
import mimetypes
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from werkzeug.http import http_date
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from cxplugin.demo.storefront import (  # noqa: F401  (re-exported for the block tests)
    APP_PROXY_PATH,
    ASSET_PATH,
    EXTENSION,
    PROXY_PREFIX,
    block_schema,
    default_settings,
    liquid_environment,
    locale_strings,
    lookup,
    render_block,
    sample_cart,
    sample_product,
    signed_proxy_query,
)
from cxplugin.shopify.signatures import proxy_signature  # noqa: F401  (re-exported for the block tests)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from flask.testing import FlaskClient

PROXY_PATH = f"{PROXY_PREFIX}/promise"
DEFAULT_SHOP = "cx-test-shop.myshopify.com"
RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur"})


# Rendering the blocks and signing proxy requests live in the app (the local demo uses them too).


def storefront_html(blocks: str, *, locale: str = "en", title: str = "Linen shirt") -> str:
    """A page shaped like a product page: a header above the block and content below it, so a block
    that grew when its answer arrived would push the content down (a layout shift)."""
    return f"""<!doctype html>
<html lang="{locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
  body {{ margin: 0; font: 16px/1.5 system-ui, sans-serif; }}
  header {{ height: 64px; background: #222; }}
  main {{ max-width: 560px; margin: 24px auto; padding: 0 16px; }}
  .below {{ height: 400px; background: #eee; }}
</style>
</head>
<body>
<header></header>
<main>
  <h1>{title}</h1>
  {blocks}
  <p class="price">€ 49,00</p>
  <div class="below" id="below">Description</div>
</main>
</body>
</html>"""


# --- The app proxy ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProxyResponse:
    status: int
    content_type: str
    body: bytes
    cache_control: str = ""


def forward_to_app(app: str | FlaskClient, path_qs: str, secret: str, *, shop: str = DEFAULT_SHOP,
                   timestamp: int | None = None, logged_in_customer_id: str = "") -> ProxyResponse:
    """Do what Shopify's app proxy does with a storefront request for ``/apps/cx/…?query``: add ``shop``,
    ``path_prefix``, ``timestamp`` and ``logged_in_customer_id``, sign the query and send it to the app's
    ``/proxy/…``. ``app`` is a live app's base URL (``http://127.0.0.1:5000``) or a Flask test client."""
    parts = urlsplit(path_qs)
    if parts.path != PROXY_PREFIX and not parts.path.startswith(f"{PROXY_PREFIX}/"):
        raise ValueError(f"{parts.path} is not under the app proxy {PROXY_PREFIX}")
    app_path = APP_PROXY_PATH + parts.path[len(PROXY_PREFIX):]
    query = signed_proxy_query(parts.query, secret, shop=shop, timestamp=timestamp,
                               logged_in_customer_id=logged_in_customer_id)
    if not isinstance(app, str):
        answer = app.get(app_path, query_string=query, headers={"Accept": "application/json"})
        return ProxyResponse(answer.status_code, answer.content_type or "", answer.get_data(),
                             answer.headers.get("Cache-Control", ""))
    request = urllib.request.Request(f"{app.rstrip('/')}{app_path}?{query}", headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 (a local test server)
            return ProxyResponse(reply.status, reply.headers.get("Content-Type", ""), reply.read(),
                                 reply.headers.get("Cache-Control", ""))
    except urllib.error.HTTPError as err:
        with err:
            return ProxyResponse(err.code, err.headers.get("Content-Type", ""), err.read(),
                                 err.headers.get("Cache-Control", ""))


# --- The stub answer -------------------------------------------------------------------------------

STUB_TEXT: dict[str, dict[str, str]] = {
    "en": {"arrival": "Arrives {dates}", "countdown": "Order within {countdown}", "hours_minutes": "{h} h {m} min",
           "minutes": "{m} min", "not_served": "We don't deliver to this country yet"},
    "he": {"arrival": "יגיע {dates}", "countdown": "הזמינו תוך {countdown}", "hours_minutes": "{h} שע׳ {m} דק׳",
           "minutes": "{m} דק׳", "not_served": "אין משלוחים למדינה זו"},
    "ar": {"arrival": "يصل {dates}", "countdown": "اطلب خلال {countdown}", "hours_minutes": "{h} س {m} د",
           "minutes": "{m} د", "not_served": "لا نوصل إلى هذا البلد بعد"},
}


def format_dates(earliest: date, latest: date, lang: str) -> str:
    if lang == "en":
        return f"{earliest:%a}, {earliest:%b} {earliest.day} – {latest:%a}, {latest:%b} {latest.day}"
    return f"{earliest.day}.{earliest.month} – {latest.day}.{latest.month}"


@dataclass
class StubPromise:
    """What the stub app proxy answers. A block's answers after its first are a day later each (as after
    the cutoff), with ``later_seconds_to_cutoff``."""

    dispatch: date = date(2026, 11, 23)
    seconds_to_cutoff: int | None = 11520
    later_seconds_to_cutoff: int = 80000  # in the answers after the first
    served: bool = True
    not_served_text: str | None = None  # None: the locale's sentence
    returns_text: str | None = None
    status: int = 200
    cache_control: str = "no-store"  # the app sends "private, max-age=60"
    generated_seconds_ago: int = 0  # backdates the Date header, as for an answer that sat in a cache

    def answer(self, params: Mapping[str, str], generation: int) -> dict[str, Any]:
        lang = (params.get("locale") or "en").split("-")[0].lower()
        text = STUB_TEXT.get(lang, STUB_TEXT["en"])
        head = {"locale": lang, "dir": "rtl" if lang in RTL_LANGUAGES else "ltr"}
        if not self.served:
            not_served = text["not_served"] if self.not_served_text is None else self.not_served_text
            return head | {
                "served": False, "reason": "destination_not_served", "earliest": None, "latest": None,
                "dispatch": None, "cutoff_at": None, "seconds_to_cutoff": None, "rule": "not served",
                "text": {"arrival": "", "dates": "", "countdown": "", "hours_minutes": "", "minutes": "",
                         "not_served": not_served}}
        dispatch = self.dispatch + timedelta(days=generation)
        earliest, latest = dispatch + timedelta(days=3), dispatch + timedelta(days=7)
        dates = format_dates(earliest, latest, lang)
        answer = head | {
            "served": True, "earliest": earliest.isoformat(), "latest": latest.isoformat(),
            "dispatch": dispatch.isoformat(), "cutoff_at": f"{dispatch.isoformat()}T14:00:00-05:00",
            "seconds_to_cutoff": self.seconds_to_cutoff if generation == 0 else self.later_seconds_to_cutoff,
            "rule": "zone:Domestic",
            "text": {"arrival": text["arrival"].replace("{dates}", dates), "dates": dates,
                     "countdown": text["countdown"], "hours_minutes": text["hours_minutes"],
                     "minutes": text["minutes"], "not_served": ""}}
        if self.returns_text is not None:
            answer["returns_text"] = self.returns_text
        return answer


# --- The storefront server -------------------------------------------------------------------------

ProxyBackend = Callable[[str], ProxyResponse]


class _QuietHandler(WSGIRequestHandler):
    """No request log; and the Date header is the application's (Storefront.wsgi always sets one), so a
    test can backdate an answer."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def send_response(self, code: int, message: str | None = None) -> None:
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Server", self.version_string())


@dataclass
class Storefront:
    """A local storefront on 127.0.0.1 (free port), served from a daemon thread; use as a context manager."""

    delay: float = 0.3  # seconds the app proxy takes to answer
    stub: StubPromise = field(default_factory=StubPromise)
    backend: ProxyBackend | None = None  # set (e.g. by use_app) to answer /apps/cx/promise from a real app
    pages: dict[str, str] = field(default_factory=dict)
    promise_requests: list[dict[str, str]] = field(default_factory=list)
    cart_updates: list[dict[str, Any]] = field(default_factory=list)
    cart_attributes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self.wsgi, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Storefront:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def page(self, path: str, html: str) -> str:
        """Serve ``html`` at ``path``; returns its URL."""
        self.pages[path] = html
        return f"{self.url}{path}"

    def use_app(self, app: str | FlaskClient, secret: str, *, shop: str = DEFAULT_SHOP) -> None:
        """Answer /apps/cx/promise from the app (a live server's base URL or a test client), signed with ``secret``."""
        self.backend = lambda path_qs: forward_to_app(app, path_qs, secret, shop=shop)

    def wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("Date", http_date())
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if request.method == "GET" and path in self.pages:
            return Response(self.pages[path], content_type="text/html; charset=utf-8")
        if request.method == "GET" and path.startswith(f"{ASSET_PATH}/"):
            return self.asset(path.removeprefix(f"{ASSET_PATH}/"))
        if request.method == "GET" and path == PROXY_PATH:
            return self.promise(request)
        if request.method == "POST" and path == "/cart/update.js":
            return self.cart_update(request)
        return Response("Not found", status=404, content_type="text/plain")

    def asset(self, name: str) -> Response:
        file = (EXTENSION / "assets" / name).resolve()
        if file.parent != (EXTENSION / "assets").resolve() or not file.is_file():
            return Response("Not found", status=404, content_type="text/plain")
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        return Response(file.read_bytes(), content_type=content_type)

    def promise(self, request: Request) -> Response:
        params = dict(request.args)
        with self._lock:
            generation = self.promise_requests.count(params)  # how often this block asked before
            self.promise_requests.append(params)
        time.sleep(self.delay)
        if self.backend is not None:
            query = request.query_string.decode()
            proxied = self.backend(f"{request.path}?{query}" if query else request.path)
            response = Response(proxied.body, status=proxied.status, content_type=proxied.content_type)
            if proxied.cache_control:
                response.headers["Cache-Control"] = proxied.cache_control
            return response
        if self.stub.status != 200:
            return Response(json.dumps({"status": self.stub.status}), status=self.stub.status,
                            content_type="application/json")
        body = json.dumps(self.stub.answer(params, generation), ensure_ascii=False)
        response = Response(body, content_type="application/json")
        response.headers["Cache-Control"] = self.stub.cache_control
        response.headers["Date"] = http_date(time.time() - self.stub.generated_seconds_ago)
        return response

    def cart_update(self, request: Request) -> Response:
        payload = request.get_json(silent=True) or {}
        with self._lock:
            self.cart_updates.append(payload)
            self.cart_attributes.update(payload.get("attributes") or {})
            cart = {"token": "cx-test-cart", "attributes": dict(self.cart_attributes), "items": []}
        return Response(json.dumps(cart), content_type="application/json")
