"""/healthz answers whether webhooks can be taken (the database); /readyz whether every dependency is up."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from cxplugin.extensions import db
from cxplugin.models import WebhookEvent
from cxplugin.shops.lifecycle import add_shop
from tests.shopify_signing import SHOP, fixture, webhook_headers


def test_healthz_reports_database_and_queue(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "queue": "ok"}


def test_readyz_reports_each_dependency(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "queue": "ok"}


def test_a_queue_down_degrades_healthz_and_fails_readyz(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from cxplugin import health

    def down() -> Any:
        raise ConnectionError("queue unreachable")

    monkeypatch.setattr(health, "check_queue", down)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "degraded", "database": "ok", "queue": "down"}
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json() == {"status": "down", "database": "ok", "queue": "down"}


@pytest.fixture
def app_without_redis(config: dict[str, Any], _migrated: None) -> Iterator[Flask]:
    from cxplugin import create_app

    config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    app = create_app(config)
    with app.app_context():
        for table in reversed(db.metadata.sorted_tables):
            if table.name != "change_stamps":
                db.session.execute(table.delete())
        add_shop(SHOP, "shpat_test")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_with_redis_down_healthz_stays_200_and_webhooks_are_still_recorded(app_without_redis: Flask) -> None:
    client = app_without_redis.test_client()
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.get_json() == {"status": "degraded", "database": "ok", "queue": "down"}
    assert client.get("/readyz").status_code == 503
    body = json.dumps(fixture("orders_create__basic")).encode()
    assert client.post("/webhooks", data=body, headers=webhook_headers("orders/create", body)).status_code == 200
    with app_without_redis.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)) == 1


def test_healthz_and_readyz_are_503_when_the_database_is_down(config: dict[str, Any]) -> None:
    config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    from cxplugin import create_app

    client = create_app(config).test_client()
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert response.status_code == 503
        assert response.get_json()["database"] == "down"
