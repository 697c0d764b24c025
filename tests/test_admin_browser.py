"""The embedded app home in a real Chromium, reached through the local demo login."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from cxplugin.extensions import db
from cxplugin.models import Order, Shipment
from tests.browser import chromium_page, live

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_app(config: dict[str, Any], request: pytest.FixtureRequest) -> Flask:
    config["CX_DEMO"] = True
    app: Flask = request.getfixturevalue("app")
    return app


@pytest.fixture
def live_server(demo_app: Flask) -> Iterator[str]:
    with live(demo_app) as url:
        yield url


def test_demo_login_opens_the_app_home_with_the_shops_figures(demo_app: Flask, live_server: str) -> None:
    assert demo_app.test_cli_runner().invoke(args=["cx", "demo", "--orders", "12"]).exit_code == 0
    with demo_app.app_context():
        orders = db.session.scalar(sa.select(sa.func.count()).select_from(Order))
        delivered = db.session.scalar(sa.select(sa.func.count()).select_from(Shipment)
                                      .where(Shipment.delivered_at.is_not(None)))
    assert orders == 12 and delivered
    with chromium_page() as page:
        page.goto(f"{live_server}/demo")
        assert page.url.startswith(f"{live_server}/admin?")
        assert page.locator("h1").inner_text() == "Demo Shop"
        assert page.locator("[data-figure=orders] strong").inner_text() == str(orders)
        assert page.locator("[data-figure=delivered] strong").inner_text() == str(delivered)
        assert "Europe/Amsterdam" in page.locator("main").inner_text()


def test_demo_login_is_not_there_unless_enabled(app: Flask) -> None:
    assert app.test_client().get("/demo").status_code == 404
