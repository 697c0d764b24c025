"""GET|PUT /api/admin/settings: sensible defaults, per-field 422s, and a version kept per save."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from cxplugin.extensions import db
from cxplugin.models import SettingsVersion
from cxplugin.shops import settings as shop_settings
from tests.shopify_signing import session_token


def call(client: FlaskClient, method: str, body: Any = None, raw: bytes | None = None) -> Any:
    headers = {"Authorization": f"Bearer {session_token()}"}
    if raw is not None:
        return client.open("/api/admin/settings", method=method, data=raw, headers=headers,
                           content_type="application/json")
    return client.open("/api/admin/settings", method=method, json=body, headers=headers)


def versions(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(SettingsVersion)) or 0


def test_a_new_shop_gets_defaults_from_its_country(client: FlaskClient, shop: str) -> None:
    promise = call(client, "GET").get_json()["promise"]
    assert promise["enabled"] is True
    assert promise["cutoff"] == "14:00"
    assert promise["zones"][0] == {"name": "Domestic", "regions": ["US"], "transit_days": {"min": 2, "max": 4},
                                   "methods": {}}
    assert promise["default_zone"]["name"] == "International"
    assert promise["dispatch_weekdays"] == [0, 1, 2, 3, 4]


def test_put_merges_validates_and_keeps_a_version(app: Flask, client: FlaskClient, shop: str) -> None:
    response = call(client, "PUT", {"promise": {"cutoff": "16:30", "closed_dates": ["2026-12-24"]}})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["promise"]["cutoff"] == "16:30"
    assert call(client, "GET").get_json()["promise"]["closed_dates"] == ["2026-12-24"]
    call(client, "PUT", {"promise": {"cutoff": "12:00"}})
    assert versions(app) == 2


@pytest.mark.parametrize(
    ("patch", "path"),
    [
        ({"promise": {"cutoff": "25:00"}}, ["promise", "cutoff"]),
        ({"promise": {"processing_days": {"min": 3, "max": 1}}}, ["promise", "processing_days", "max"]),
        ({"promise": {"dispatch_weekdays": []}}, ["promise", "dispatch_weekdays"]),
        ({"promise": {"carrier_weekdays": [7]}}, ["promise", "carrier_weekdays", "0"]),
        ({"promise": {"zones": [{"name": "EU", "regions": ["Netherlands"], "transit_days": {"min": 1, "max": 2}}]}},
         ["promise", "zones", "0", "regions"]),
        ({"promise": {"closed_dates": ["tomorrow"]}}, ["promise", "closed_dates", "0"]),
        ({"promise": {"surprise": 1}}, ["promise", "surprise"]),
    ],
)
def test_invalid_settings_get_422_with_a_message_per_field_and_change_nothing(
        app: Flask, client: FlaskClient, shop: str, patch: dict[str, Any], path: list[str]) -> None:
    before = call(client, "GET").get_json()
    response = call(client, "PUT", patch)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    for key in path:
        errors = errors[key if key in errors else int(key)]
    assert errors  # a message for that very field
    assert call(client, "GET").get_json() == before
    assert versions(app) == 0


def test_malformed_json_is_400(client: FlaskClient, shop: str) -> None:
    assert call(client, "PUT", raw=b"{nope").status_code == 400
    assert call(client, "PUT", [1, 2]).status_code == 400


def test_settings_need_a_session_token(client: FlaskClient, shop: str) -> None:
    assert client.get("/api/admin/settings").status_code == 401
    assert client.put("/api/admin/settings", json={}).status_code == 401


def save_twice_at_once(app: Flask) -> dict[str, int]:
    """Two PUTs that both read the latest version before either writes; each one's status by what it sets."""
    barrier = threading.Barrier(2, timeout=10)
    held: set[int] = set()

    def both_have_read(session: Any, *_: Any) -> None:
        # Each request's first write of a version waits until the other request has also got that far.
        if any(isinstance(o, SettingsVersion) for o in session.new) and threading.get_ident() not in held:
            held.add(threading.get_ident())
            barrier.wait()

    answers: dict[str, int] = {}

    def save(patch: dict[str, Any], name: str) -> None:
        answers[name] = call(app.test_client(), "PUT", patch).status_code

    sa.event.listen(db.session, "before_flush", both_have_read)
    try:
        threads = [threading.Thread(target=save, args=({"promise": {"cutoff": "16:30"}}, "cutoff")),
                   threading.Thread(target=save, args=({"surveys": {"delay_days": 5}}, "delay"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        sa.event.remove(db.session, "before_flush", both_have_read)
    return answers


def test_two_saves_at_once_both_land_as_consecutive_versions(app: Flask, client: FlaskClient, shop: str) -> None:
    assert save_twice_at_once(app) == {"cutoff": 200, "delay": 200}
    with app.app_context():
        assert list(db.session.scalars(sa.select(SettingsVersion.version).order_by(SettingsVersion.version))) == [1, 2]
    now = call(client, "GET").get_json()
    assert (now["promise"]["cutoff"], now["surveys"]["delay_days"]) == ("16:30", 5)  # neither save is lost


def test_a_save_that_keeps_colliding_is_409_with_a_message(app: Flask, client: FlaskClient, shop: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shop_settings, "_SAVE_ATTEMPTS", 1)
    assert sorted(save_twice_at_once(app).values()) == [200, 409]
    assert versions(app) == 1
