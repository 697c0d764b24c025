"""The orders at risk page in a real Chromium: the order with what to do and a link to it in Shopify admin,
the detractor beside it, and a follow-up mark saved through the JSON API with the session token."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from flask import Flask

from cxplugin.extensions import db
from cxplugin.models import Order, OrderRisk, Survey
from tests.browser import chromium_page, live
from tests.conftest import Send
from tests.test_admin_pages_browser import Watched, embedded, serious_violations
from tests.test_risk_notices import ORDER_ID, place

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    with live(app) as url:
        yield url


def test_the_at_risk_page_lists_the_late_order_and_saves_marks(
        app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int], live_server: str) -> None:
    place(send_webhook, drain)
    with app.app_context():
        order = db.session.scalars(sa.select(Order)).one()
        db.session.add(Survey(shop_id=order.shop_id, order_id=order.id, question="csat", basis="delivered",
                              due_at=datetime.now(UTC), status="answered", csat=1, comment="Still waiting",
                              answered_at=datetime.now(UTC)))
        db.session.commit()
    with chromium_page() as page:
        watched = Watched(page, app)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(embedded(live_server, "/admin/at-risk"))
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").inner_text() == "Orders at risk"
        row = page.locator(f'table[data-table="at-risk"] tr[data-order="{ORDER_ID}"]')
        assert row.locator("[data-kind]").inner_text() == "Late"
        assert "Contact the carrier" in row.inner_text()
        assert row.get_by_role("link").get_attribute("href") == (
            f"https://admin.shopify.com/store/cx-test-shop/orders/{ORDER_ID}")
        row.get_by_label("Follow-up").select_option("contacted")
        row.locator(".mark-status").filter(has_text="Saved").wait_for()
        detractor = page.locator('table[data-table="detractors"] tr[data-answer]')
        assert "Still waiting" in detractor.inner_text() and "CSAT 1" in detractor.inner_text()
        detractor.get_by_label("Follow-up").select_option("resolved")
        detractor.locator(".mark-status").filter(has_text="Saved").wait_for()
        assert serious_violations(page) == []
        assert watched.errors == []
    with app.app_context():
        assert db.session.scalars(sa.select(OrderRisk.mark)).one() == "contacted"
        assert db.session.scalars(sa.select(Survey.follow_up)).one() == "resolved"
