"""Return terms in the settings: a new shop can live with the defaults, bad terms get per-field 422s,
and an order is judged by the terms in force when it was placed."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxplugin.extensions import db
from cxplugin.models import Shop
from cxplugin.models.types import utcnow
from cxplugin.returns import terms as return_terms
from cxplugin.shops import settings as shop_settings
from cxplugin.shops.lifecycle import shop_domain
from tests.shopify_signing import session_token


def call(client: FlaskClient, method: str, body: object = None) -> object:
    return client.open("/api/admin/settings", method=method, json=body,
                       headers={"Authorization": f"Bearer {session_token()}"})


def test_a_new_shop_offers_free_returns_within_30_days_of_delivery_except_final_sale(client: FlaskClient,
                                                                                     shop: str) -> None:
    returns = call(client, "GET").get_json()["returns"]  # type: ignore[attr-defined]
    assert returns["enabled"] is True
    assert (returns["window_days"], returns["day_kind"], returns["counts_from"]) == (30, "calendar", "delivery")
    assert returns["fee"] is None and returns["excluded_tags"] == ["final-sale"]
    assert return_terms.terms_line(returns, "en")["text"] == "Free returns within 30 days of delivery"


def test_a_paid_window_reads_with_the_fee_in_the_shoppers_money_format(client: FlaskClient, shop: str) -> None:
    saved = call(client, "PUT", {"returns": {"window_days": 14, "fee": {"amount": "4.95", "currency": "EUR"}}})
    returns = saved.get_json()["returns"]  # type: ignore[attr-defined]
    assert return_terms.terms_line(returns, "en")["text"] == "Returns within 14 days, €4.95"
    assert return_terms.terms_line(returns, "de")["text"] == "Rücksendung innerhalb von 14 Tagen, 4,95\xa0€"


def test_bad_return_terms_get_a_message_per_field_and_save_nothing(client: FlaskClient, shop: str) -> None:
    before = call(client, "GET").get_json()  # type: ignore[attr-defined]
    response = call(client, "PUT", {"returns": {"window_days": 0, "fee": {"amount": "-1", "currency": "euro"},
                                                "restocking_fee_percent": 150, "instructions": {"xx": "hi"},
                                                "policy_url": "javascript:alert(1)"}})
    assert response.status_code == 422  # type: ignore[attr-defined]
    errors = response.get_json()["errors"]["returns"]  # type: ignore[attr-defined]
    assert set(errors) == {"window_days", "fee", "restocking_fee_percent", "instructions", "policy_url"}
    assert call(client, "GET").get_json() == before  # type: ignore[attr-defined]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(windows=st.lists(st.integers(1, 365), min_size=1, max_size=4), business=st.booleans())
def test_later_settings_never_change_an_older_orders_terms(app: Flask, shop: str, windows: list[int],
                                                           business: bool) -> None:
    with app.app_context():
        row = db.session.get_one(Shop, db.session.scalar(db.select(Shop.id).where(Shop.domain == shop_domain(shop))))
        placed = utcnow() - timedelta(milliseconds=1)  # strictly before the saves below
        before = return_terms.return_terms(shop_settings.in_force_at(row, placed), row.timezone, row.country_code)
        for window in windows:
            shop_settings.update(row, {"returns": {"window_days": window,
                                                   "day_kind": "business" if business else "calendar"}})
        after = return_terms.return_terms(shop_settings.in_force_at(row, placed), row.timezone, row.country_code)
        assert after == before
        newest = return_terms.return_terms(shop_settings.in_force_at(row, utcnow() + timedelta(seconds=1)),
                                           row.timezone, row.country_code)
        assert newest.window_days == windows[-1]
