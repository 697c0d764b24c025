"""Chromium for page tests (Debian's build, driven by Playwright); a live server for the app."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def require_chromium() -> str:
    """Skip without Chromium, except where CX_REQUIRE_BROWSER=1 makes a missing browser a failure."""
    if not shutil.which(CHROMIUM):
        message = "Chromium is not installed (apt-get install chromium)"
        if os.environ.get("CX_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@contextmanager
def live(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@contextmanager
def chromium_page(*, javascript: bool = True) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = require_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=ARGS)
        page = browser.new_page(java_script_enabled=javascript)
        # Shopify's CDN is out of reach here; no page needs it to render.
        page.route("https://cdn.shopify.com/**", lambda route: route.abort())
        try:
            yield page
        finally:
            browser.close()
