from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient


def test_healthz_reports_database_and_queue(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "queue": "ok"}


def test_healthz_is_503_when_the_queue_is_down(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from cxplugin import health

    def down() -> Any:
        raise ConnectionError("queue unreachable")

    monkeypatch.setattr(health, "check_queue", down)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["queue"] == "down"


def test_healthz_is_503_when_the_database_is_down(config: dict[str, Any], request: pytest.FixtureRequest) -> None:
    config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    from cxplugin import create_app

    app = create_app(config)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "down"
