"""The demo login (CX_DEMO=1) answers a browser on this machine only, also behind a same-host reverse proxy."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient


@pytest.fixture
def demo(config: dict[str, Any], request: pytest.FixtureRequest) -> FlaskClient:
    config["CX_DEMO"] = True
    app: Flask = request.getfixturevalue("app")
    return app.test_client()


@pytest.mark.parametrize("host", ["localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000"])
def test_a_browser_on_this_machine_gets_the_demo_login(demo: FlaskClient, host: str) -> None:
    response = demo.get("/demo", headers={"Host": host})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin?")
    assert demo.get("/demo/session-token", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("headers", [
    {"X-Forwarded-For": "203.0.113.9"},
    {"Forwarded": "for=203.0.113.9;proto=https"},
    {"X-Real-IP": "203.0.113.9"},
    {"X-Forwarded-Host": "shop-tools.example.com"},
    {"Host": "shop-tools.example.com"},
])
def test_a_request_relayed_by_a_proxy_on_this_machine_gets_no_demo_login(demo: FlaskClient,
                                                                          headers: dict[str, str]) -> None:
    # The proxy connects from the loopback address, as the test client does.
    assert demo.get("/demo", headers=headers).status_code == 404
    assert demo.get("/demo/session-token", headers=headers).status_code == 404


def test_a_request_from_another_machine_gets_no_demo_login(demo: FlaskClient) -> None:
    assert demo.get("/demo", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 404
