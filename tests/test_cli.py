from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from cxplugin.extensions import db
from cxplugin.models import Shop


def test_shops_add_installs_a_shop_with_its_locale_facts(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["cx", "shops", "add", "Tiny-Shop", "--token", "shpat_x", "--timezone",
                                 "Pacific/Auckland", "--country", "nz", "--locale", "en"])
    assert result.exit_code == 0, result.output
    assert "Installed tiny-shop.myshopify.com" in result.output
    with app.app_context():
        shop = db.session.scalars(sa.select(Shop)).one()
        assert (shop.domain, shop.timezone, shop.country_code, shop.access_token) == (
            "tiny-shop.myshopify.com", "Pacific/Auckland", "NZ", "shpat_x")
        assert shop.is_installed


def test_shops_add_refuses_an_unknown_time_zone(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["cx", "shops", "add", "s", "--token", "t", "--timezone", "Mars/Olympus"])
    assert result.exit_code == 2
    assert "unknown time zone" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Shop)) == 0


def test_demo_seeds_a_shop_with_orders_and_is_idempotent(app: Flask, runner: FlaskCliRunner) -> None:
    first = runner.invoke(args=["cx", "demo", "--orders", "10"])
    assert first.exit_code == 0 and "10 orders over 90 days" in first.output
    with app.app_context():
        shop = db.session.scalars(sa.select(Shop)).one()
        assert shop.domain == "cx-demo.myshopify.com"
        from cxplugin.admin.overview import overview

        before = overview(shop)
    again = runner.invoke(args=["cx", "demo", "--orders", "10"])
    assert again.exit_code == 0 and "already seeded" in again.output
    with app.app_context():
        assert overview(db.session.scalars(sa.select(Shop)).one()) == before
    assert before.orders == 10 and before.delivered > 0
