"""Settings read from the environment; the one place that knows variable names and defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Pinned Admin API version: webhooks and GraphQL calls speak this version.
SHOPIFY_API_VERSION = "2026-10"

# Scopes the app asks for (kept in step with shopify.app.toml). read_all_orders: the history backfill reads
# 12 months of orders, and without it Shopify shows an app only the last 60 days.
SHOPIFY_SCOPES = ("read_orders,read_all_orders,read_fulfillments,read_products,read_customers,read_locales,"
                  "read_returns,write_returns")


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def database_url(raw: str | None, instance_path: str) -> str:
    """Normalise DATABASE_URL to a SQLAlchemy URL; default to SQLite in the instance folder."""
    if not raw:
        return f"sqlite:///{Path(instance_path) / 'cxplugin.db'}"
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://") :]
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw[len("postgresql://") :]
    return raw


def _default_sender(app_url: str | None) -> str:
    host = urlsplit(app_url or "").hostname or "localhost"
    return f"surveys@{host}"


def from_environment(instance_path: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from environment variables."""
    e = dict(os.environ if env is None else env)
    return {
        "SHOPIFY_API_KEY": e.get("SHOPIFY_API_KEY", ""),
        "SHOPIFY_API_SECRET": e.get("SHOPIFY_API_SECRET", ""),
        # Set only while rotating the secret: requests signed with either are accepted.
        "SHOPIFY_OLD_API_SECRET": e.get("SHOPIFY_OLD_API_SECRET") or None,
        "SHOPIFY_API_VERSION": e.get("SHOPIFY_API_VERSION", SHOPIFY_API_VERSION),
        # Development and tests only: send Admin API calls to this origin instead of the shop.
        "SHOPIFY_ADMIN_ORIGIN": e.get("SHOPIFY_ADMIN_ORIGIN") or None,
        "APP_URL": e.get("APP_URL", f"http://localhost:{e.get('PORT', '8000')}").rstrip("/"),
        "SQLALCHEMY_DATABASE_URI": database_url(e.get("DATABASE_URL"), instance_path),
        "REDIS_URL": e.get("REDIS_URL") or None,
        "CX_QUEUE_NAME": e.get("CX_QUEUE_NAME", "cxplugin"),
        "CX_QUEUE_PATH": e.get("CX_QUEUE_PATH", str(Path(instance_path) / "queue.db")),
        "CX_ENCRYPTION_KEY": e.get("CX_ENCRYPTION_KEY", ""),
        # The key of the e-mail address pseudonyms (suppression list); never rotated, see README, Privacy.
        "CX_EMAIL_HASH_KEY": e.get("CX_EMAIL_HASH_KEY", ""),
        "CX_PAYLOAD_RETENTION_DAYS": int(e.get("CX_PAYLOAD_RETENTION_DAYS", "30")),
        "MAIL_URL": e.get("MAIL_URL", "outbox"),
        "CX_MAIL_FROM": e.get("CX_MAIL_FROM") or _default_sender(e.get("APP_URL")),
        "CX_DEMO": _flag(e.get("CX_DEMO")),
        "CX_REGISTER_WEBHOOKS": _flag(e.get("CX_REGISTER_WEBHOOKS", "1")),
        "CX_WEBHOOK_MAX_BYTES": int(e.get("CX_WEBHOOK_MAX_BYTES", str(2 * 1024 * 1024))),
        "CX_WEBHOOK_MAX_ATTEMPTS": int(e.get("CX_WEBHOOK_MAX_ATTEMPTS", "8")),
        "CX_WEBHOOK_RETRY_BASE_SECONDS": float(e.get("CX_WEBHOOK_RETRY_BASE_SECONDS", "30")),
        # A job that meets an unreachable database or Redis runs again after this many seconds, uncounted.
        "CX_OUTAGE_RETRY_SECONDS": float(e.get("CX_OUTAGE_RETRY_SECONDS", "5")),
        # A PENDING event handed to the queue this long ago and not done is handed out again ...
        "CX_STUCK_AFTER_SECONDS": float(e.get("CX_STUCK_AFTER_SECONDS", "60")),
        # ... by the dispatcher, which looks for such events this often (and at once after an outage).
        "CX_SWEEP_SECONDS": float(e.get("CX_SWEEP_SECONDS", "10")),
        "CX_LOG_LEVEL": e.get("CX_LOG_LEVEL", "INFO"),
        # Development and tests only: alert webhooks may use http and reach this machine or its network.
        "CX_ALLOW_PRIVATE_ALERT_HOOKS": _flag(e.get("CX_ALLOW_PRIVATE_ALERT_HOOKS")),
    }
