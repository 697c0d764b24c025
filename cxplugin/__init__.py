"""cxplugin: delivery promises, order tracking and post-delivery surveys for Shopify shops."""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, MultiFernet
from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from cxplugin import config as settings
from cxplugin import logs
from cxplugin.extensions import db, migrate
from cxplugin.models.types import cipher
from cxplugin.queue import init_queue

MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from the environment, with ``config`` overriding (tests pass their own)."""
    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(settings.from_environment(app.instance_path))
    if config:
        app.config.update(config)
    _require_credentials(app)
    app.config.setdefault("SECRET_KEY", app.config["SHOPIFY_API_SECRET"])
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # Pre-ping: a pooled connection the server dropped (restart, failover) is replaced, never handed
        # out. Connect timeout: a server that takes the connection but does not answer (mid-failover) is
        # given up on in seconds, so /healthz, intake and the worker report and retry instead of hanging.
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True,
                                                            "connect_args": {"connect_timeout": 5}})
    logs.configure(app.config["CX_LOG_LEVEL"])
    cipher.fernet = _load_keys(app)
    app.config["CX_EMAIL_HASH_KEY"] = _email_hash_key(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS, render_as_batch=True)
    init_queue(app)

    from cxplugin import admin, cli, health, webhooks  # noqa: F401
    from cxplugin.admin import api, pages, promise_api
    from cxplugin.customer.api import bp as customer_bp
    from cxplugin.demo.views import bp as demo_bp
    from cxplugin.risk.api import bp as risk_api_bp
    from cxplugin.risk.pages import bp as risk_pages_bp
    from cxplugin.storefront.proxy import bp as storefront_bp
    from cxplugin.surveys.pages import bp as survey_bp
    from cxplugin.webhooks.intake import bp as webhooks_bp

    for blueprint in (health.bp, webhooks_bp, pages.bp, api.bp, promise_api.bp, storefront_bp, survey_bp, demo_bp,
                      customer_bp, risk_pages_bp, risk_api_bp):
        app.register_blueprint(blueprint)
    cli.init_app(app)
    _request_logging(app)
    _json_errors(app)
    import cxplugin.tasks  # noqa: F401  (tasks must be registered wherever jobs are enqueued)
    from cxplugin.scores import rollup

    rollup.install()

    return app


def _require_credentials(app: Flask) -> None:
    missing = [k for k in ("SHOPIFY_API_KEY", "SHOPIFY_API_SECRET") if not app.config.get(k)]
    if missing:
        raise RuntimeError(f"Set {' and '.join(missing)} (the app's client id and secret from the Partner "
                           "Dashboard); `make run` sets development values for you.")


def _load_keys(app: Flask) -> MultiFernet:
    """CX_ENCRYPTION_KEY (comma-separated for rotation, first one encrypts); else a key kept in the instance folder."""
    raw: str = app.config["CX_ENCRYPTION_KEY"]
    if not raw:
        key_file = Path(app.instance_path) / "encryption.key"
        if not key_file.exists():
            key_file.write_bytes(Fernet.generate_key())
            key_file.chmod(0o600)
        raw = key_file.read_text().strip()
        logs.log("CX_ENCRYPTION_KEY not set; using the key in the instance folder", 30)
    try:
        return MultiFernet([Fernet(k.strip()) for k in raw.split(",") if k.strip()])
    except ValueError as exc:
        raise RuntimeError("CX_ENCRYPTION_KEY must be Fernet keys (see README: generating a key).") from exc


def _email_hash_key(app: Flask) -> str:
    """CX_EMAIL_HASH_KEY; else a key kept in the instance folder. Unlike the Fernet keys it never rotates:
    the suppression list is made of hashes under it, and a new key would forget every unsubscribe."""
    raw: str = app.config["CX_EMAIL_HASH_KEY"].strip()
    if not raw:
        key_file = Path(app.instance_path) / "email-hash.key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(32))
            key_file.chmod(0o600)
        raw = key_file.read_text().strip()
        logs.log("CX_EMAIL_HASH_KEY not set; using the key in the instance folder", 30)
    if len(raw) < 32:
        raise RuntimeError("CX_EMAIL_HASH_KEY must be at least 32 characters (see README: generating a key).")
    return raw


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Cascading deletes (shop/redact) and concurrent web + worker writers need these on SQLite.
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def _request_logging(app: Flask) -> None:
    @app.before_request
    def start() -> None:
        g.started = time.perf_counter()
        g.log_fields = {}

    @app.after_request
    def finish(response: Response) -> Response:
        started = g.get("started")
        ms = round((time.perf_counter() - started) * 1000, 2) if started else None
        logs.log("request", method=request.method, path=_loggable_path(), status=response.status_code, ms=ms,
                 **g.get("log_fields", {}))
        return response


def _loggable_path() -> str:
    """The request's path, or its route where the URL carries a secret (``/s/<token>``: a link token is as
    good as the shopper's answer and unsubscribe rights, and logs are read by more people than shoppers)."""
    rule = request.url_rule
    if rule is not None and "token" in rule.arguments:
        return rule.rule
    return request.path


def _json_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response | HTTPException:
        if request.path.startswith(("/api/", "/webhooks", "/proxy/")):
            response = jsonify(status=exc.code, message=exc.description)
            response.status_code = exc.code or 500
            return response
        return exc
