"""Merchant alerts: the webhook URL reaches only the public internet, each shop and each channel (e-mail,
webhook) is delivered on its own, a dead channel is given up after a limit with one notice, and text from
shoppers cannot command the merchant's chat."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.shopify_signing import session_token

AUTH = {"Authorization": f"Bearer {session_token()}"}


def put_hook(client: FlaskClient, url: str) -> Any:
    return client.put("/api/admin/settings", json={"surveys": {"alert_webhook_url": url}}, headers=AUTH)


# ---- the webhook URL at save ---------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "https://169.254.169.254/latest/meta-data/iam", "https://127.0.0.1:6379/", "https://10.0.0.5/",
    "https://[::1]/hook", "https://[::ffff:a9fe:a9fe]/", "https://localhost/hook",
    "https://metadata.google.internal/computeMetadata/v1/", "http://hooks.example.com/hook",
])
def test_settings_refuse_an_alert_hook_inside_the_network_with_422_and_keep_the_old_one(
        client: FlaskClient, shop: str, url: str) -> None:
    assert put_hook(client, "https://hooks.slack.com/services/T0/B0/abc").status_code == 200
    response = put_hook(client, url)
    assert response.status_code == 422
    [message] = response.get_json()["errors"]["surveys"]["alert_webhook_url"]
    assert "https://" in message or "not a public internet address" in message or "is a local name" in message
    saved = client.get("/api/admin/settings", headers=AUTH).get_json()["surveys"]["alert_webhook_url"]
    assert saved == "https://hooks.slack.com/services/T0/B0/abc"


def test_settings_take_a_public_https_alert_hook(client: FlaskClient, shop: str) -> None:
    assert put_hook(client, "https://hooks.slack.com/services/T0/B0/abc").status_code == 200


def test_a_local_http_hook_is_taken_only_when_the_config_allows_it(app: Flask, client: FlaskClient,
                                                                  shop: str) -> None:
    assert put_hook(client, "http://127.0.0.1:8080/hook").status_code == 422
    app.config["CX_ALLOW_PRIVATE_ALERT_HOOKS"] = True
    assert put_hook(client, "http://127.0.0.1:8080/hook").status_code == 200
