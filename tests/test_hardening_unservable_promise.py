"""Settings the calculator cannot serve: refused when they cannot be right, and otherwise an unserved
promise — never a 500 on the storefront nor a failing order webhook."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from cxplugin.extensions import db
from cxplugin.models import EventStatus, SettingsVersion, Survey, SurveyStatus, WebhookEvent
from tests.conftest import Send
from tests.shopify_signing import fixture, proxy_query, session_token
from tests.test_surveys import ORDER_ID


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {session_token()}"}  # fresh: a session token lives a minute


def put(client: FlaskClient, promise: dict[str, Any]) -> Any:
    return client.put("/api/admin/settings", json={"promise": promise}, headers=auth())


def versions(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(SettingsVersion)) or 0


def test_eight_hundred_closed_dates_are_refused_with_a_message_for_the_field(app: Flask, client: FlaskClient,
                                                                             shop: str) -> None:
    closed = [(date(2026, 11, 1) + timedelta(days=n)).isoformat() for n in range(800)]
    response = put(client, {"closed_dates": closed})
    assert response.status_code == 422
    assert "At most 366 closed dates" in response.get_json()["errors"]["promise"]["closed_dates"][0]
    assert versions(app) == 0


def test_a_closed_date_more_than_two_years_ahead_is_refused(app: Flask, client: FlaskClient, shop: str) -> None:
    far = (datetime.now(UTC).date() + timedelta(days=3 * 365)).isoformat()
    response = put(client, {"closed_dates": ["2026-12-24", far]})
    assert response.status_code == 422
    assert far in response.get_json()["errors"]["promise"]["closed_dates"][0]
    assert versions(app) == 0


@pytest.mark.parametrize(
    ("promise", "path"),
    [
        ({"closed_dates": ["2026-02-30"]}, ["closed_dates", 0]),
        ({"dispatch_weekdays": []}, ["dispatch_weekdays"]),
        ({"carrier_weekdays": []}, ["carrier_weekdays"]),
        ({"processing_days": {"min": 0, "max": 121}}, ["processing_days", "max"]),
        ({"default_zone": {"name": "World", "transit_days": {"min": 9, "max": 3}}}, ["default_zone", "transit_days",
                                                                                    "max"]),
        ({"tag_rules": [{"tag": "slow", "add_days": 1000}]}, ["tag_rules", 0, "add_days"]),
    ],
)
def test_settings_the_calculator_cannot_count_with_are_refused_per_field(
        app: Flask, client: FlaskClient, shop: str, promise: dict[str, Any], path: list[Any]) -> None:
    response = put(client, promise)
    assert response.status_code == 422
    errors = response.get_json()["errors"]["promise"]
    for key in path:
        errors = errors[str(key)]  # list positions are keys too in marshmallow's messages
    assert errors
    assert versions(app) == 0


def test_a_year_closed_gives_the_storefront_an_unserved_promise_and_orders_still_get_their_survey(
        app: Flask, client: FlaskClient, shop: str, send_webhook: Send, drain: Callable[[], int]) -> None:
    # Every weekday (the shop's dispatch days) of the coming year closed: valid, but nothing can be promised.
    days = (datetime.now(UTC).date() + timedelta(days=n) for n in range(-1, 368))
    closed = [day.isoformat() for day in days if day.weekday() < 5]
    assert put(client, {"closed_dates": closed}).status_code == 200
    app.config["PROPAGATE_EXCEPTIONS"] = False

    proxy = client.get("/proxy/promise?" + proxy_query({"country": "US"}))
    assert proxy.status_code == 200
    answer = proxy.get_json()
    assert (answer["served"], answer["reason"], answer["earliest"]) == (False, "no_dispatch_day", None)

    order = fixture("orders_create__basic")
    order["note_attributes"] = []
    order["created_at"] = order["updated_at"] = datetime.now(UTC).isoformat()  # placed under these settings
    assert send_webhook("orders/create", order).status_code == 200
    delivered = fixture("fulfillments_update__delivered")
    delivered.update(id=ORDER_ID + 1, order_id=ORDER_ID, created_at=order["created_at"],
                     updated_at=datetime.now(UTC).isoformat())
    assert send_webhook("fulfillments/update", delivered).status_code == 200
    drain()
    with app.app_context():
        events = db.session.scalars(sa.select(WebhookEvent)).all()
        assert [(e.topic, e.status, e.last_error) for e in events] == [
            ("orders/create", EventStatus.DONE, None), ("fulfillments/update", EventStatus.DONE, None)]
        survey = db.session.scalars(sa.select(Survey)).one()
        assert survey.status == SurveyStatus.SCHEDULED
    held = client.get(f"/api/admin/orders/{ORDER_ID}", headers=auth()).get_json()
    assert (held["promise"]["source"], held["promise"]["latest"]) == ("none", None)
    assert "no dispatch day" in held["promise"]["rule"]
