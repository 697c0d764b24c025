"""The delivery-promise theme app extension (extensions/cx-delivery-promise): its blocks rendered with
python-liquid into a small storefront page, driven in a real Chromium against a stub app proxy."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.browser import ARGS, require_chromium
from tests.storefront_page import (
    EXTENSION,
    PROXY_PATH,
    Storefront,
    block_schema,
    forward_to_app,
    locale_strings,
    lookup,
    proxy_signature,
    render_block,
    sample_cart,
    storefront_html,
)

ASSET = EXTENSION / "assets" / "cx-promise.js"
MAX_GZIPPED_BYTES = 6 * 1024
BLOCKS = ("product_promise", "cart_promise")
SCHEMA_LOCALES = ("en.default", "he", "ar", "nl", "pl", "vi", "pt-BR", "es", "fr", "de")

# Installed before any script of the page runs, so it sees every shift from the first paint on.
LAYOUT_WATCH = """
window.__cx = {cls: 0, shifts: 0};
new PerformanceObserver(function (list) {
  list.getEntries().forEach(function (e) {
    if (!e.hadRecentInput) { window.__cx.cls += e.value; window.__cx.shifts++; }
  });
}).observe({type: 'layout-shift', buffered: true});
document.addEventListener('DOMContentLoaded', function () {
  var block = document.querySelector('[data-cx-promise]'), below = document.getElementById('below');
  window.__cx.height = block.getBoundingClientRect().height;
  window.__cx.belowTop = below.getBoundingClientRect().top;
  window.__cx.stateAtStart = block.getAttribute('data-cx-state');
});
"""
TWO_FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(window.__cx))))"


# --- Browser fixtures ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def chromium() -> str:
    return require_chromium()


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 420, "height": 900})
    page = context.new_page()
    page.set_default_timeout(5000)
    yield page
    context.close()


@pytest.fixture
def storefront() -> Iterator[Storefront]:
    with Storefront() as shop:
        yield shop


def lines(page: Any) -> tuple[Any, Any]:
    block = page.locator("[data-cx-promise]")
    return block.locator('[data-cx-line="arrival"]'), block.locator('[data-cx-line="countdown"]')


# --- 1. The product block ---------------------------------------------------------------------------

@pytest.mark.browser
def test_product_block_shows_arrival_and_countdown_without_moving_the_page(storefront: Storefront, page: Any
                                                                            ) -> None:
    from playwright.sync_api import expect

    url = storefront.page("/products/linen-shirt", storefront_html(render_block("product_promise")))
    page.add_init_script(LAYOUT_WATCH)
    page.goto(url)
    arrival, countdown = lines(page)

    expect(arrival).to_have_text("Arrives Thu, Nov 26 – Mon, Nov 30")
    expect(countdown).to_have_text("Order within 3 h 12 min")
    block = page.locator("[data-cx-promise]")
    expect(block).to_have_attribute("data-cx-state", "ready")
    expect(block).to_have_attribute("aria-live", "polite")
    expect(block).to_have_attribute("dir", "ltr")

    watch = page.evaluate(TWO_FRAMES)
    assert watch["stateAtStart"] == "loading"  # the observer was there before the answer (300 ms late)
    assert watch["cls"] == 0, f"{watch['shifts']} layout shift(s)"
    assert page.evaluate("document.querySelector('[data-cx-promise]').getBoundingClientRect().height") \
        == watch["height"]
    assert page.evaluate("document.getElementById('below').getBoundingClientRect().top") == watch["belowTop"]
    assert storefront.promise_requests == [{"product_id": "7001", "variant_id": "42001", "country": "US",
                                            "locale": "en"}]

    # The observer does see shifts on this page: push the content down and it counts one.
    page.evaluate("document.querySelector('main').prepend(Object.assign(document.createElement('div'), "
                  "{style: 'height: 80px'}))")
    assert page.evaluate(TWO_FRAMES)["cls"] > 0


# --- 2. Right-to-left ----------------------------------------------------------------------------------

@pytest.mark.browser
@pytest.mark.parametrize(("locale", "sentence"), [("ar", "يصل 26.11 – 30.11"), ("he", "יגיע 26.11 – 30.11")])
def test_arabic_and_hebrew_render_right_to_left(storefront: Storefront, page: Any, locale: str,
                                                sentence: str) -> None:
    from playwright.sync_api import expect

    html = render_block("product_promise", locale=locale, country="IL" if locale == "he" else "AE")
    page.add_init_script(LAYOUT_WATCH)
    page.goto(storefront.page(f"/{locale}/products/linen-shirt", storefront_html(html, locale=locale)))
    arrival, _ = lines(page)
    block = page.locator("[data-cx-promise]")

    expect(arrival).to_have_text(sentence)
    expect(block).to_have_attribute("dir", "rtl")
    expect(block).to_have_attribute("lang", locale)
    assert block.evaluate("el => getComputedStyle(el).direction") == "rtl"
    icon, text = (block.locator(sel).bounding_box() for sel in (".cx-promise__icon", ".cx-promise__lines"))
    assert icon and text and icon["x"] > text["x"], "the icon leads on the right in a right-to-left block"
    assert page.evaluate(TWO_FRAMES)["cls"] == 0
    assert storefront.promise_requests[0]["locale"] == locale


# --- 3. The countdown ticks and the cutoff brings new dates ------------------------------------------

@pytest.mark.browser
def test_countdown_ticks_each_minute_and_asks_again_after_the_cutoff(storefront: Storefront, page: Any) -> None:
    from playwright.sync_api import expect

    url = storefront.page("/products/linen-shirt", storefront_html(render_block("product_promise")))
    page.clock.install()
    page.goto(url)
    arrival, countdown = lines(page)
    expect(countdown).to_have_text("Order within 3 h 12 min")

    page.clock.fast_forward("01:00")
    expect(countdown).to_have_text("Order within 3 h 11 min")
    page.clock.fast_forward("10:00")
    expect(countdown).to_have_text("Order within 3 h 1 min")
    assert len(storefront.promise_requests) == 1

    page.clock.fast_forward("03:02:00")  # past the cutoff: the answer has moved on a day
    expect(arrival).to_have_text("Arrives Fri, Nov 27 – Tue, Dec 1")
    expect(countdown).to_have_text("Order within 22 h 14 min")
    assert len(storefront.promise_requests) == 2


@pytest.mark.browser
def test_countdown_of_an_answer_from_the_browser_cache_counts_from_when_it_was_made(storefront: Storefront,
                                                                                     page: Any) -> None:
    """The app lets browsers keep an answer for 60 s; on the next page the countdown must not restart."""
    from playwright.sync_api import expect

    storefront.stub.seconds_to_cutoff = 11530  # 3 h 12 min 10 s: "3 h 13 min", and 45 s later "3 h 12 min"
    storefront.stub.cache_control = "private, max-age=120"
    storefront.stub.generated_seconds_ago = 45
    html = storefront_html(render_block("product_promise"))
    page.goto(storefront.page("/products/linen-shirt", html))
    expect(lines(page)[1]).to_have_text("Order within 3 h 13 min")  # fresh from the network: taken as is
    page.goto(storefront.page("/products/linen-shirt-2", html))
    expect(lines(page)[1]).to_have_text("Order within 3 h 12 min")  # from the cache, 45 s old
    assert len(storefront.promise_requests) == 1


# --- 4. The cart block records what it promised ---------------------------------------------------------

@pytest.mark.browser
def test_cart_block_writes_the_promise_into_a_cart_attribute(storefront: Storefront, page: Any) -> None:
    from playwright.sync_api import expect

    url = storefront.page("/cart", storefront_html(render_block("cart_promise"), title="Your cart"))
    with page.expect_response(lambda r: r.url.endswith("/cart/update.js")) as update:
        page.goto(url)
    assert update.value.ok
    expect(lines(page)[0]).to_have_text("Arrives Thu, Nov 26 – Mon, Nov 30")

    assert storefront.promise_requests == [{"product_ids": "7001,7002", "country": "US", "locale": "en"}]
    assert len(storefront.cart_updates) == 1
    assert list(storefront.cart_updates[0]) == ["attributes"]
    saved = json.loads(storefront.cart_updates[0]["attributes"]["_cx_promise"])
    assert (saved["earliest"], saved["latest"]) == ("2026-11-26", "2026-11-30")
    assert datetime.fromisoformat(saved["shown_at"]).tzinfo is not None


@pytest.mark.browser
def test_cart_block_leaves_the_attribute_alone_when_it_already_holds_that_promise(storefront: Storefront,
                                                                                  page: Any) -> None:
    from playwright.sync_api import expect

    held = json.dumps({"earliest": "2026-11-26", "latest": "2026-11-30", "shown_at": "2026-11-23T10:00:00Z"})
    html = render_block("cart_promise", cart=sample_cart(attributes={"_cx_promise": held}))
    page.goto(storefront.page("/cart", storefront_html(html, title="Your cart")))
    expect(lines(page)[0]).to_have_text("Arrives Thu, Nov 26 – Mon, Nov 30")
    page.wait_for_timeout(300)
    assert storefront.cart_updates == []


@pytest.mark.browser
def test_cart_block_survives_a_failing_cart_update(storefront: Storefront, page: Any) -> None:
    from playwright.sync_api import expect

    page.route("**/cart/update.js", lambda route: route.fulfill(status=500, body="{}"))
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(storefront.page("/cart", storefront_html(render_block("cart_promise"), title="Your cart")))
    expect(lines(page)[0]).to_have_text("Arrives Thu, Nov 26 – Mon, Nov 30")
    page.wait_for_timeout(200)
    assert errors == []


# --- 5. Weight ------------------------------------------------------------------------------------------

def test_the_script_is_one_small_dependency_free_asset() -> None:
    source = ASSET.read_bytes()
    assert len(gzip.compress(source, compresslevel=9)) <= MAX_GZIPPED_BYTES
    assert [p.name for p in (EXTENSION / "assets").iterdir() if p.suffix == ".js"] == ["cx-promise.js"]
    assert not re.search(rb"\bimport\s|\brequire\(|https?://", source)


# --- 6. Merchant text ----------------------------------------------------------------------------------

@pytest.mark.browser
def test_block_text_overrides_replace_the_apps_sentences(storefront: Storefront, page: Any) -> None:
    from playwright.sync_api import expect

    html = render_block("product_promise", settings={"arrival_text": "Get it {dates} – free shipping",
                                                     "countdown_text": "Ships today if you order in {countdown}"})
    page.goto(storefront.page("/products/linen-shirt", storefront_html(html)))
    arrival, countdown = lines(page)
    expect(arrival).to_have_text("Get it Thu, Nov 26 – Mon, Nov 30 – free shipping")
    expect(countdown).to_have_text("Ships today if you order in 3 h 12 min")
    assert "Arrives" not in page.locator("[data-cx-promise]").inner_text()


# --- Answers that promise nothing -----------------------------------------------------------------------

@pytest.mark.browser
@pytest.mark.parametrize(("answer", "shown", "visibility"), [
    ({"served": False}, "We don't deliver to this country yet", "visible"),
    ({"served": False, "not_served_text": ""}, "", "hidden"),
    ({"status": 500}, "", "hidden"),
])
def test_no_promise_is_shown_quietly_in_the_space_kept_for_it(storefront: Storefront, page: Any,
                                                              answer: dict[str, Any], shown: str,
                                                              visibility: str) -> None:
    from playwright.sync_api import expect

    for key, value in answer.items():
        setattr(storefront.stub, key, value)
    page.add_init_script(LAYOUT_WATCH)
    page.goto(storefront.page("/products/linen-shirt", storefront_html(render_block("product_promise"))))
    block = page.locator("[data-cx-promise]")
    expect(block).not_to_have_attribute("data-cx-state", "loading")
    if shown:
        expect(lines(page)[0]).to_have_text(shown)
    assert block.evaluate("el => getComputedStyle(el).visibility") == visibility
    assert block.evaluate("el => getComputedStyle(el).display") != "none"
    watch = page.evaluate(TWO_FRAMES)
    assert watch["cls"] == 0
    assert block.evaluate("el => el.getBoundingClientRect().height") == watch["height"]


@pytest.mark.browser
def test_returns_line_shows_the_apps_returns_text(storefront: Storefront, page: Any) -> None:
    from playwright.sync_api import expect

    storefront.stub.returns_text = "Free returns until Jan 31"
    html = render_block("product_promise", settings={"show_returns": True, "icon": "clock"})
    page.goto(storefront.page("/products/linen-shirt", storefront_html(html)))
    expect(page.locator('[data-cx-line="returns"]')).to_have_text("Free returns until Jan 31")


# --- The blocks as Liquid -------------------------------------------------------------------------------

def test_product_block_carries_what_the_script_asks_for() -> None:
    html = render_block("product_promise", locale="pt-BR", country="BR")
    for attribute in ('data-cx-promise="product"', f'data-cx-proxy="{PROXY_PATH}"', 'data-cx-product-id="7001"',
                      'data-cx-variant-id="42001"', 'data-cx-locale="pt-BR"', 'data-cx-country="BR"',
                      'aria-live="polite"', 'dir="ltr"', "cx-promise.js"):
        assert attribute in html
    assert 'data-cx-line="returns"' not in html and "{% schema" not in html and '"settings"' not in html


def test_cart_block_lists_the_carts_products_once_and_is_left_out_of_an_empty_cart() -> None:
    html = render_block("cart_promise", locale="he", cart=sample_cart(product_ids=(3, 1, 3, 2)))
    assert 'data-cx-product-ids="3,1,2"' in html and 'dir="rtl"' in html and 'data-cx-promise="cart"' in html
    assert "data-cx-promise" not in render_block("cart_promise", cart=sample_cart(product_ids=()))
    assert "data-cx-promise" in render_block("cart_promise", cart=sample_cart(product_ids=()), design_mode=True)


def test_override_text_is_escaped_into_its_attribute() -> None:
    html = render_block("product_promise", settings={"arrival_text": '"><script>alert(1)</script>'})
    assert "<script>alert(1)" not in html


@pytest.mark.parametrize("block", BLOCKS)
def test_block_schema_offers_the_settings_the_blocks_use(block: str) -> None:
    schema = block_schema(block)
    assert schema["target"] == "section"
    assert schema["enabled_on"]["templates"] == ["product" if block == "product_promise" else "cart"]
    settings = {s["id"]: s for s in schema["settings"] if "id" in s}
    assert [o["value"] for o in settings["icon"]["options"]] == ["truck", "box", "clock", "none"]
    assert {settings[k]["type"] for k in ("text_color", "background_color", "accent_color")} == {"color"}
    assert {settings[k]["type"] for k in ("arrival_text", "countdown_text")} == {"text"}
    assert "default" not in settings["arrival_text"] and "default" not in settings["countdown_text"]
    assert settings["show_countdown"] == settings["show_countdown"] | {"type": "checkbox", "default": True}
    assert settings["show_returns"] == settings["show_returns"] | {"type": "checkbox", "default": False}


@pytest.mark.parametrize("locale", SCHEMA_LOCALES)
def test_every_editor_label_is_translated(locale: str) -> None:
    strings = locale_strings(locale, schema=True)
    for block in BLOCKS:
        keys = re.findall(r'"t:([\w.]+)"', json.dumps(block_schema(block)))
        assert keys
        for key in keys:
            assert isinstance(lookup(strings, key), str), key
        assert len(lookup(strings, f"blocks.{block}.name")) <= 25  # the theme editor's limit
    for key in ("arrival_text.info", "countdown_text.info"):
        assert "{countdown}" in lookup(strings, f"settings.{key}")
    storefront_strings = locale_strings(locale)["cx_promise"]
    assert set(storefront_strings) == {"loading_arrival", "loading_countdown", "loading_returns"}


def test_extension_toml_declares_a_theme_extension() -> None:
    import tomllib

    toml = tomllib.loads((EXTENSION / "shopify.extension.toml").read_text())
    assert toml["type"] == "theme" and toml["name"] and toml["uid"]


# --- The path to the real app ---------------------------------------------------------------------------

def test_forward_to_app_signs_like_shopifys_app_proxy() -> None:
    secret = "hush"
    seen: list[dict[str, list[str]]] = []

    def app(environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        params = parse_qs(request.query_string.decode(), keep_blank_values=True)
        seen.append(params | {"_path": [request.path]})
        signature = params.pop("signature")[0]
        message = "".join(sorted(f"{k}={','.join(v)}" for k, v in params.items()))
        good = hmac.compare_digest(signature, hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest())
        return Response(json.dumps({"served": good}), status=200 if good else 401,
                        content_type="application/json")(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        answer = forward_to_app(f"http://127.0.0.1:{server.server_port}",
                                "/apps/cx/promise?product_ids=1,2&locale=he&extra=1&extra=2&signature=forged",
                                secret, timestamp=1317327555)
        refused = forward_to_app(f"http://127.0.0.1:{server.server_port}/", "/apps/cx/promise?product_id=1",
                                 "wrong-secret")
    finally:
        server.shutdown()
        server.server_close()
    assert (answer.status, json.loads(answer.body)) == (200, {"served": True})
    assert refused.status == 401
    params = seen[0]
    assert params["_path"] == ["/proxy/promise"]
    assert params["path_prefix"] == ["/apps/cx"] and params["logged_in_customer_id"] == [""]
    assert params["timestamp"] == ["1317327555"] and params["shop"] == ["cx-test-shop.myshopify.com"]
    assert params["extra"] == ["1", "2"] and params["product_ids"] == ["1,2"]
    message = ("extra=1,2locale=helogged_in_customer_id=path_prefix=/apps/cxproduct_ids=1,2"
               "shop=cx-test-shop.myshopify.comtimestamp=1317327555")
    assert params["signature"] == [hmac.new(b"hush", message.encode(), hashlib.sha256).hexdigest()]
    assert proxy_signature([("a", "1"), ("signature", "x")], "k") == proxy_signature([("a", "1")], "k")


def test_forward_to_app_accepts_a_test_client_and_stays_under_the_proxy() -> None:
    class Client:
        def __init__(self) -> None:
            self.calls: list[tuple[str, str]] = []

        def get(self, path: str, *, query_string: str, headers: dict[str, str]) -> Response:
            self.calls.append((path, query_string))
            return Response('{"served": true}', content_type="application/json",
                            headers={"Cache-Control": "private, max-age=60"})

    client = Client()
    answer = forward_to_app(client, "/apps/cx/promise?product_id=7", "s")  # type: ignore[arg-type]
    assert (answer.status, answer.cache_control) == (200, "private, max-age=60")
    path, query = client.calls[0]
    assert path == "/proxy/promise" and "product_id=7" in query and "signature=" in query
    with pytest.raises(ValueError):
        forward_to_app(client, "/cart/update.js", "s")  # type: ignore[arg-type]


@pytest.mark.browser
def test_storefront_can_answer_from_an_app_instead_of_the_stub(storefront: Storefront, page: Any) -> None:
    """The hook the real app plugs into: the storefront forwards /apps/cx/promise, signed, to an app."""
    from playwright.sync_api import expect

    forwarded: list[str] = []

    def app(environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        forwarded.append(f"{request.path}?{request.query_string.decode()}")
        body = storefront.stub.answer(dict(request.args), 0) | {"text": {
            "arrival": "From the app", "dates": "", "countdown": "", "hours_minutes": "", "minutes": "",
            "not_served": ""}, "seconds_to_cutoff": None}
        return Response(json.dumps(body), content_type="application/json",
                        headers={"Cache-Control": "private, max-age=60"})(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        storefront.use_app(f"http://127.0.0.1:{server.server_port}", "secret")
        page.goto(storefront.page("/products/linen-shirt", storefront_html(render_block("product_promise"))))
        arrival, countdown = lines(page)
        expect(arrival).to_have_text("From the app")
        expect(countdown).to_have_text("")
    finally:
        server.shutdown()
        server.server_close()
    assert len(forwarded) == 1
    query = parse_qs(urlsplit(forwarded[0]).query)
    assert forwarded[0].startswith("/proxy/promise?")
    assert {"product_id", "variant_id", "country", "locale", "shop", "path_prefix", "timestamp",
            "signature"} <= set(query)
