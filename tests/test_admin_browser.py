"""The embedded app home in a real Chromium, reached through the local demo login."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from tests.browser import chromium_page, live

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(config: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[str]:
    config["CX_DEMO"] = True
    app: Flask = request.getfixturevalue("app")
    with live(app) as url:
        yield url


def test_demo_login_opens_the_app_home_with_the_shops_figures(live_server: str, runner: FlaskCliRunner) -> None:
    assert runner.invoke(args=["cx", "demo"]).exit_code == 0
    with chromium_page() as page:
        page.goto(f"{live_server}/demo")
        assert page.url.startswith(f"{live_server}/admin?")
        assert page.locator("h1").inner_text() == "Demo Shop"
        assert page.locator("[data-figure=orders] strong").inner_text() == "5"
        assert page.locator("[data-figure=delivered] strong").inner_text() == "2"
        assert "Europe/Amsterdam" in page.locator("main").inner_text()


def test_demo_login_is_not_there_unless_enabled(app: Flask) -> None:
    assert app.test_client().get("/demo").status_code == 404
