"""Fixtures: the app on a real database and queue (SQLite by default; PostgreSQL and Redis when
DATABASE_URL / REDIS_URL are set), Shopify-signed requests, and an in-process queue drain."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from werkzeug.test import TestResponse

from cxplugin import create_app
from cxplugin.extensions import db
from cxplugin.queue import huey
from tests import smtp_sink
from tests.fake_shopify import FakeShopify
from tests.shopify_signing import API_KEY, SECRET, SHOP, fixture, webhook_headers

TEST_KEY = "3Qf5m4E0kq1dq5rB0o8y0p9qJt6n1Xc2Y7Vb8Wn4Zq0="


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def base_config(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from cxplugin.config import database_url as normalise

    return {
        "TESTING": True,
        "SHOPIFY_API_KEY": API_KEY,
        "SHOPIFY_API_SECRET": SECRET,
        "SHOPIFY_OLD_API_SECRET": None,
        "SQLALCHEMY_DATABASE_URI": normalise(database_url, "unused"),
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "CX_QUEUE_NAME": f"cxtest-{uuid.uuid4().hex[:8]}",
        "CX_QUEUE_PATH": str(tmp_path_factory.mktemp("queue") / "queue.db"),
        "CX_ENCRYPTION_KEY": TEST_KEY,
        "CX_EMAIL_HASH_KEY": "test-email-hash-key-of-at-least-32-characters",
        "APP_URL": "https://cx.example.test",
        "MAIL_URL": "outbox",
        "CX_DEMO": False,
        "CX_REGISTER_WEBHOOKS": True,
        "SHOPIFY_ADMIN_ORIGIN": None,
    }


@pytest.fixture(scope="session")
def _migrated(base_config: dict[str, Any]) -> None:
    """Start from an empty schema and run the real migrations once per session."""
    app = create_app(base_config)
    with app.app_context():
        db.reflect()
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        upgrade()
        db.engine.dispose()


def _empty_tables() -> None:
    # change_stamps holds one row that the migrations create and the app only ever updates.
    tables = [t for t in reversed(db.metadata.sorted_tables) if t.name != "change_stamps"]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("TRUNCATE " + ", ".join(t.name for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def config(base_config: dict[str, Any]) -> dict[str, Any]:
    """Per-test overrides go here before ``app`` is built."""
    return dict(base_config)


@pytest.fixture
def app(config: dict[str, Any], _migrated: None) -> Iterator[Flask]:
    app = create_app(config)
    with app.app_context():
        _empty_tables()
        huey.flush()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def shop(runner: FlaskCliRunner) -> str:
    """The test shop, installed as `cx shops add` does."""
    result = runner.invoke(args=["cx", "shops", "add", SHOP, "--token", "shpat_test", "--timezone",
                                 "America/New_York", "--country", "US", "--locale", "en"])
    assert result.exit_code == 0, result.output
    return SHOP


Send = Callable[..., TestResponse]


@pytest.fixture
def send_webhook(client: FlaskClient) -> Send:
    """POST a signed webhook: ``send_webhook("orders/create", "orders_create__basic", event_id=...)``."""

    def send(topic: str, payload: str | dict[str, Any] | bytes, **kwargs: Any) -> TestResponse:
        if isinstance(payload, str):
            payload = fixture(payload)
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        extra = kwargs.pop("headers", {})
        headers = {**webhook_headers(topic, body, **kwargs), **extra}
        return client.post("/webhooks", data=body, headers=headers)

    return send


@pytest.fixture
def drain(app: Flask) -> Callable[[], int]:
    """Dispatch new webhook events and run every queued job in this process, as a worker would;
    returns how many jobs ran."""

    def run() -> int:
        from cxplugin.tasks import process_webhook_event
        from cxplugin.webhooks.dispatch import dispatch_new_events

        with app.app_context():
            dispatch_new_events(process_webhook_event)  # as the worker's dispatch loop does
        ran = 0
        # Ask for the count first: an empty Redis queue would block its read for a second.
        while huey.pending_count() and (task := huey.dequeue()) is not None:
            huey.execute(task)
            ran += 1
        return ran

    return run


@pytest.fixture
def fake_shopify(app: Flask) -> Iterator[FakeShopify]:
    """Shopify's Admin API, faked on a local port; the app is pointed at it."""
    fake = FakeShopify(client_id=API_KEY, client_secret=SECRET)
    app.config["SHOPIFY_ADMIN_ORIGIN"] = fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture
def sink(app: Flask) -> Iterator[smtp_sink.Sink]:
    """A real SMTP server on a local port; the app sends its mail there."""
    received = smtp_sink.Sink()
    controller = smtp_sink.start(received)
    app.config["MAIL_URL"] = f"smtp://{controller.hostname}:{controller.port}"
    yield received
    controller.stop()
