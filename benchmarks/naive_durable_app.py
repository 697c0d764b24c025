"""The second reference for the webhook intake benchmark: what an ordinary app does with a webhook.

A plain Flask view that inserts the body into a table and commits, one row and one transaction per
request, then answers 200 — durable (the row is committed before the answer) but with none of intake's
work: no signature check, no parsing, no validation, no batching of concurrent writes. Served by the same
``gunicorn.conf.py`` on the same database as the app (``DATABASE_URL``), with the app's SQLite settings
(WAL, ``synchronous=NORMAL``, a busy timeout), so the comparison is the write path and nothing else.

    gunicorn -c gunicorn.conf.py benchmarks.naive_durable_app:app
    python -m benchmarks.naive_durable_app create-table     # once, before serving
"""

from __future__ import annotations

import os
import sqlite3
import sys
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, jsonify, request

from cxplugin.config import database_url

metadata = sa.MetaData()
naive_webhooks = sa.Table(
    "naive_webhooks", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("shop_domain", sa.String(255), nullable=False),
    sa.Column("topic", sa.String(100), nullable=False),
    sa.Column("event_id", sa.String(255), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)


def make_engine() -> sa.Engine:
    url = database_url(os.environ.get("DATABASE_URL"), os.path.join(os.getcwd(), "instance"))
    engine = sa.create_engine(url, pool_pre_ping=url.startswith("postgresql"))

    @sa.event.listens_for(engine, "connect")
    def pragmas(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):  # the app's own SQLite settings
            for pragma in ("journal_mode=WAL", "busy_timeout=10000", "synchronous=NORMAL"):
                dbapi_connection.execute(f"PRAGMA {pragma}")

    return engine


engine = make_engine()
app = Flask(__name__)


@app.post("/webhooks")
def webhooks() -> tuple[Response, int]:
    with engine.begin() as conn:  # one transaction per request, committed before the answer
        conn.execute(naive_webhooks.insert().values(
            shop_domain=request.headers.get("X-Shopify-Shop-Domain", ""),
            topic=request.headers.get("X-Shopify-Topic", ""),
            event_id=request.headers.get("X-Shopify-Event-Id", ""),
            body=request.get_data()))
    return jsonify(status=200, message="Recorded."), 200


@app.get("/healthz")
def healthz() -> tuple[Response, int]:
    return jsonify(status="ok"), 200


if __name__ == "__main__" and sys.argv[1:] == ["create-table"]:
    metadata.create_all(engine)
