"""The local demo: seeded through the app's own front doors, and the pages a newcomer opens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from cxplugin.extensions import db
from cxplugin.models import Order, Survey, SurveyStatus, WebhookEvent
from tests.browser import chromium_page, live

LOCAL = {"REMOTE_ADDR": "127.0.0.1"}


@pytest.fixture
def config(base_config: dict[str, Any]) -> dict[str, Any]:
    return {**base_config, "CX_DEMO": True}


@pytest.fixture
def seeded(app: Flask) -> None:
    from cxplugin.demo.seeding import seed

    with app.app_context():
        seed(orders=24)


def test_the_seed_goes_through_signed_webhooks_the_worker_and_the_survey_page(app: Flask, seeded: None) -> None:
    with app.app_context():
        orders = db.session.scalars(sa.select(Order)).all()
        events = db.session.scalars(sa.select(WebhookEvent)).all()
        answered = db.session.scalar(sa.select(sa.func.count()).select_from(Survey)
                                     .where(Survey.status == SurveyStatus.ANSWERED))
    assert len(orders) == 24
    # Every order came in as a recorded, processed orders/create webhook; no row was written behind the app's back.
    created = {e.order_id for e in events if e.topic == "orders/create" and e.status == "done"}
    assert created == {o.shopify_id for o in orders}
    assert {e.status for e in events} <= {"done", "ignored"}
    assert sum(o.delivered_at is not None for o in orders) > 15
    assert answered and answered > 3
    # Delivered over ninety days, not all at once: the replayed clock dated each step.
    days = {o.delivered_on for o in orders if o.delivered_on}
    assert len(days) > 10


def test_seeding_again_keeps_the_data(app: Flask, seeded: None) -> None:
    from cxplugin.demo.seeding import seed

    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent))
        seed(orders=24)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)) == before


def test_the_scores_of_the_seeded_shop_show_satisfaction_falling_with_lateness(app: Flask, seeded: None,
                                                                                 client: FlaskClient) -> None:
    response = client.get("/demo/admin?to=/admin/scores", environ_base=LOCAL)
    assert response.status_code == 302
    page = client.get(response.headers["Location"], environ_base=LOCAL)
    assert page.status_code == 200 and "On time" in page.get_data(as_text=True)


def test_the_landing_page_links_every_door(client: FlaskClient, seeded: None) -> None:
    html = client.get("/", environ_base=LOCAL).get_data(as_text=True)
    for link in ("/demo/admin?to=/admin/scores", "/demo/admin?to=/admin/settings", "/demo/storefront",
                 "/demo/admin?to=/admin/outbox", "/healthz"):
        assert link in html


def test_a_delivered_order_shows_its_return_deadline_in_the_shoppers_language(app: Flask, client: FlaskClient,
                                                                            seeded: None) -> None:
    with app.app_context():
        order = db.session.scalars(sa.select(Order).where(Order.delivered_at.is_not(None))
                                   .order_by(Order.delivered_at.desc())).first()
        assert order is not None
        order_id, locale = order.shopify_id, order.customer_locale
    page = client.get(f"/demo/orders/{order_id}", environ_base=LOCAL)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'lang="{locale}"' in html and "data-return-text" in html
    assert client.get("/demo/orders/1", environ_base=LOCAL).status_code == 404


def test_the_demo_is_closed_without_cx_demo_or_from_another_machine(app: Flask, client: FlaskClient) -> None:
    assert client.get("/", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 404
    app.config["CX_DEMO"] = False
    assert client.get("/", environ_base=LOCAL).status_code == 404
    assert client.get("/demo/storefront", environ_base=LOCAL).status_code == 404


def test_only_admin_pages_are_demo_login_targets(client: FlaskClient, seeded: None) -> None:
    assert client.get("/demo/admin?to=https://evil.example/", environ_base=LOCAL).status_code == 404


def test_the_storefront_page_renders_the_real_block_and_its_proxy_answers_signed(client: FlaskClient,
                                                                                 seeded: None) -> None:
    html = client.get("/demo/storefront?country=AE&locale=ar", environ_base=LOCAL).get_data(as_text=True)
    assert 'dir="rtl"' in html and "data-cx-promise" in html and "/demo/assets/cx-promise.js" in html
    answer = client.get("/apps/cx/promise?country=DE&locale=de&product_id=5100001", environ_base=LOCAL)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["served"] is True and body["locale"] == "de" and body["text"]["arrival"]


def test_the_storefront_page_without_blocks_is_the_same_page_less_the_block(client: FlaskClient,
                                                                           seeded: None) -> None:
    from cxplugin.demo.storefront import render_block
    from cxplugin.demo.views import DEMO_PRODUCT_ID

    with_block = client.get("/demo/storefront?country=NL&locale=nl", environ_base=LOCAL).get_data(as_text=True)
    without = client.get("/demo/storefront?country=NL&locale=nl&blocks=none", environ_base=LOCAL)
    assert without.status_code == 200
    html = without.get_data(as_text=True)
    assert "data-cx-promise" not in html and "cx-promise.js" not in html
    block = render_block("product_promise", locale="nl", country="NL", asset_path="/demo/assets",
                         product={"id": DEMO_PRODUCT_ID, "title": "Linen shirt",
                                  "selected_or_first_available_variant": {"id": 42001}})
    assert block in with_block and with_block.replace(block, "") == html
    assert client.get("/demo/storefront?blocks=some", environ_base=LOCAL).status_code == 400


@pytest.fixture
def live_server(app: Flask, seeded: None) -> Iterator[str]:
    with live(app) as url:
        yield url


@pytest.mark.browser
def test_a_shopper_sees_the_promise_on_the_demo_product_page(live_server: str) -> None:
    with chromium_page() as page:
        page.goto(f"{live_server}/demo/storefront?country=NL&locale=nl")
        line = page.locator("[data-cx-promise] [data-cx-line='arrival']")
        line.wait_for(state="visible")
        assert line.inner_text().strip()


@pytest.mark.browser
def test_a_newcomer_opens_a_kept_mail_from_the_outbox_and_goes_back(live_server: str) -> None:
    with chromium_page() as page:
        page.goto(f"{live_server}/demo/admin?to=/admin/outbox")
        mail = page.locator("a[href^='/admin/outbox/']").first
        subject = mail.inner_text().strip()
        assert subject
        mail.click()
        page.wait_for_url("**/admin/outbox/*")
        assert subject in page.inner_text("main")
        page.locator("main a[href='/admin/outbox']").click()  # "all kept mail"
        page.wait_for_url("**/admin/outbox?*")
        assert page.locator("a[href^='/admin/outbox/']").count() > 0
