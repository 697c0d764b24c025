"""A storefront in miniature for the delivery-promise theme app extension (extensions/cx-delivery-promise).

- ``render_block`` renders an app block's Liquid with python-liquid, with the Shopify objects and filters
  the blocks use (``product``, ``cart``, ``block.settings``, ``request``, ``localization``; ``asset_url``,
  ``script_tag``, ``t``, ``json``); ``storefront_html`` puts it into a small page.
- ``Storefront`` serves those pages, the extension's assets, Shopify's ``/cart/update.js`` (recording the
  attributes posted) and the app proxy path ``/apps/cx/promise``: a stub answer by default, or the real app
  through ``forward_to_app``, which signs the query as Shopify's app proxy does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import mimetypes
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import parse_qsl, urlencode, urlsplit

from liquid import Environment, FileSystemLoader, StrictDefaultUndefined, Tag
from liquid.ast import Node
from liquid.exceptions import LiquidSyntaxError
from liquid.token import TOKEN_EOF, TOKEN_TAG
from werkzeug.http import http_date
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from flask.testing import FlaskClient
    from liquid.context import RenderContext
    from liquid.stream import TokenStream

EXTENSION = Path(__file__).resolve().parents[1] / "extensions" / "cx-delivery-promise"
PROXY_PREFIX = "/apps/cx"  # shopify.app.toml [app_proxy]: prefix "apps", subpath "cx"
PROXY_PATH = f"{PROXY_PREFIX}/promise"
APP_PROXY_PATH = "/proxy"  # where Shopify forwards it on the app (shopify.app.toml [app_proxy] url)
ASSET_PATH = "/cdn/extensions/cx-delivery-promise/assets"
DEFAULT_SHOP = "cx-test-shop.myshopify.com"
RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur"})
SCHEMA_RE = re.compile(r"\{%-?\s*schema\s*-?%\}(.*?)\{%-?\s*endschema\s*-?%\}", re.S)


# --- Liquid ----------------------------------------------------------------------------------------

class _SchemaNode(Node):
    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        return 0


class SchemaTag(Tag):
    """``{% schema %}…{% endschema %}``: the theme editor's settings, not storefront output."""

    name = "schema"
    end = "endschema"

    def parse(self, stream: TokenStream) -> Node:
        token = stream.eat(TOKEN_TAG)
        while not (stream.current.kind == TOKEN_TAG and stream.current.value == self.end):
            if stream.current.kind == TOKEN_EOF:
                raise LiquidSyntaxError("schema tag was never closed", token=token)
            next(stream)
        return _SchemaNode(token)


def block_schema(block: str) -> dict[str, Any]:
    """The JSON in ``blocks/<block>.liquid``'s ``{% schema %}`` tag."""
    match = SCHEMA_RE.search((EXTENSION / "blocks" / f"{block}.liquid").read_text(encoding="utf-8"))
    assert match, f"{block}.liquid has no schema"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def locale_strings(locale: str, *, schema: bool = False) -> dict[str, Any]:
    """A locale file of the extension (``en`` is ``en.default``), falling back to English."""
    suffix = ".schema.json" if schema else ".json"
    path = EXTENSION / "locales" / f"{locale}{suffix}"
    if locale in ("en", "en.default") or not path.exists():
        path = EXTENSION / "locales" / f"en.default{suffix}"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def lookup(strings: Mapping[str, Any], key: str) -> Any:
    value: Any = strings
    for part in key.split("."):
        value = value[part]
    return value


def liquid_environment(locale: str = "en") -> Environment:
    env = Environment(loader=FileSystemLoader(EXTENSION / "snippets", ext=".liquid"),
                      undefined=StrictDefaultUndefined)
    env.add_tag(SchemaTag)
    strings = locale_strings(locale)
    fallback = locale_strings("en")

    def translate(key: str) -> str:
        try:
            return str(lookup(strings, key))
        except KeyError:
            return str(lookup(fallback, key))

    env.add_filter("asset_url", lambda name: f"{ASSET_PATH}/{name}")
    env.add_filter("script_tag", lambda url: f'<script src="{url}" type="text/javascript"></script>')
    env.add_filter("stylesheet_tag", lambda url: f'<link href="{url}" rel="stylesheet" type="text/css" media="all" />')
    env.add_filter("json", lambda value: json.dumps(value, ensure_ascii=False))
    env.add_filter("t", translate)
    return env


def default_settings(block: str) -> dict[str, Any]:
    return {s["id"]: s.get("default") for s in block_schema(block)["settings"] if "id" in s}


def render_block(block: str, *, settings: Mapping[str, Any] | None = None, locale: str = "en",
                 country: str = "US", product: Mapping[str, Any] | None = None,
                 cart: Mapping[str, Any] | None = None, design_mode: bool = False) -> str:
    """Render ``blocks/<block>.liquid`` as Shopify would on the storefront (settings default from its schema)."""
    context: dict[str, Any] = {
        "block": {"id": f"{block}-1", "settings": default_settings(block) | dict(settings or {}),
                  "shopify_attributes": ""},
        "request": {"locale": {"iso_code": locale}, "design_mode": design_mode},
        "localization": {"country": {"iso_code": country}},
        "product": dict(product) if product is not None else sample_product(),
        "cart": dict(cart) if cart is not None else sample_cart(),
    }
    source = (EXTENSION / "blocks" / f"{block}.liquid").read_text(encoding="utf-8")
    return liquid_environment(locale).from_string(source).render(**context)


def sample_product(product_id: int = 7001, variant_id: int = 42001) -> dict[str, Any]:
    return {"id": product_id, "title": "Linen shirt",
            "selected_or_first_available_variant": {"id": variant_id}}


def sample_cart(product_ids: Sequence[int] = (7001, 7002, 7001), attributes: Mapping[str, str] | None = None
                ) -> dict[str, Any]:
    items = [{"product_id": pid, "variant_id": pid * 10, "quantity": 1} for pid in product_ids]
    return {"item_count": len(items), "items": items, "attributes": dict(attributes or {})}


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

def proxy_signature(params: Iterable[tuple[str, str]], secret: str) -> str:
    """Shopify's app-proxy signature: hex HMAC-SHA256 over the sorted ``key=value`` pairs, concatenated
    without separators, the values of a repeated key joined with commas; ``signature`` itself left out."""
    grouped: dict[str, list[str]] = {}
    for key, value in params:
        if key != "signature":
            grouped.setdefault(key, []).append(value)
    message = "".join(sorted(f"{key}={','.join(values)}" for key, values in grouped.items()))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


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
    shopify_keys = {"shop", "path_prefix", "timestamp", "logged_in_customer_id", "signature"}
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in shopify_keys]
    params += [("shop", shop), ("logged_in_customer_id", logged_in_customer_id), ("path_prefix", PROXY_PREFIX),
               ("timestamp", str(int(time.time()) if timestamp is None else timestamp))]
    params.append(("signature", proxy_signature(params, secret)))
    query = urlencode(params)
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
