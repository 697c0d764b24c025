"""Privacy hardening: compliance webhooks act on the shop their signed body names, an erased customer
leaves nothing personal behind (raw payloads, scan messages, outbox mail, survey hashes, logs), raw
payloads are purged after the retention period, and a cart's promise is taken only when the settings
could have made it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from cxplugin.extensions import db
from cxplugin.models import Shop, WebhookEvent
from tests.conftest import Send
from tests.shopify_signing import SHOP, fixture

OTHER = "other-shop.myshopify.com"


def shops(app: Flask) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(sa.select(Shop.domain)))


def recorded_topics(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(WebhookEvent.topic).order_by(WebhookEvent.id)))


# ---------------------------------------------------------------- the shop of a compliance webhook

@pytest.mark.parametrize(("topic", "name"), [("shop/redact", "shop_redact__basic"),
                                             ("customers/redact", "customers_redact__basic"),
                                             ("customers/data_request", "customers_data_request__basic")])
def test_a_compliance_webhook_whose_body_names_another_shop_is_refused_and_not_recorded(
        app: Flask, shop: str, runner: FlaskCliRunner, send_webhook: Send, drain: Callable[[], int],
        topic: str, name: str) -> None:
    runner.invoke(args=["cx", "shops", "add", OTHER, "--token", "shpat_other"])
    body = fixture(name)
    assert body["shop_domain"] == SHOP
    response = send_webhook(topic, body, shop=OTHER)  # the unsigned header names the other shop
    assert response.status_code == 400
    assert "shop_domain" in response.get_json()["message"]
    drain()
    assert recorded_topics(app) == []
    assert shops(app) == [SHOP, OTHER]


def test_shop_redact_erases_the_shop_the_signed_body_and_header_agree_on(
        app: Flask, shop: str, runner: FlaskCliRunner, send_webhook: Send, drain: Callable[[], int]) -> None:
    runner.invoke(args=["cx", "shops", "add", OTHER, "--token", "shpat_other"])
    body: dict[str, Any] = {**fixture("shop_redact__basic"), "shop_domain": OTHER}
    assert send_webhook("shop/redact", body, shop="other-shop").status_code == 200  # handle or full domain
    drain()
    assert shops(app) == [SHOP]
