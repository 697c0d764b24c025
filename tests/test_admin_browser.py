"""The embedded app home in a real Chromium, reached through the local demo login."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.browser


@pytest.fixture
def chromium() -> str:
    if not shutil.which(CHROMIUM):
        message = "Chromium is not installed (apt-get install chromium)"
        if os.environ.get("CX_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture
def live_server(config: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[str]:
    config["CX_DEMO"] = True
    app: Flask = request.getfixturevalue("app")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def page(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page()
        # Shopify's CDN is out of reach here; App Bridge is not needed to render the page.
        page.route("https://cdn.shopify.com/**", lambda route: route.abort())
        yield page
        browser.close()


def test_demo_login_opens_the_app_home_with_the_shops_figures(live_server: str, runner: FlaskCliRunner,
                                                               page: Any) -> None:
    assert runner.invoke(args=["cx", "demo"]).exit_code == 0
    page.goto(f"{live_server}/demo")
    assert page.url.startswith(f"{live_server}/admin?")
    assert page.locator("h1").inner_text() == "Demo Shop"
    assert page.locator("[data-figure=orders] strong").inner_text() == "5"
    assert page.locator("[data-figure=delivered] strong").inner_text() == "2"
    assert "Europe/Amsterdam" in page.locator("main").inner_text()


def test_demo_login_is_not_there_unless_enabled(app: Flask) -> None:
    assert app.test_client().get("/demo").status_code == 404
