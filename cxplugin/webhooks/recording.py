"""Record a verified delivery exactly once per (shop, X-Shopify-Event-Id); the worker picks it up from there."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from flask import current_app

from cxplugin.extensions import db
from cxplugin.models import EventStatus
from cxplugin.models.types import UTCDateTime, utcnow
from cxplugin.shop_snapshot import ShopView
from cxplugin.webhooks.topics import TOPICS, Kind


class Rejected(Exception):
    """The delivery is refused with ``status``; nothing was recorded."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Delivery:
    shop_domain: str
    topic: str
    event_id: str
    webhook_id: str | None
    api_version: str | None
    triggered_at: datetime | None
    body: str


@dataclass(frozen=True)
class Recorded:
    id: int | None  # None when this event was already recorded
    status: EventStatus


_FRACTION = re.compile(r"\.(\d{6})\d+")


def parse_triggered_at(value: str | None) -> datetime | None:
    """X-Shopify-Triggered-At, e.g. 2026-03-29T18:00:27.877041743Z (nanoseconds cut to micro)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub(r".\1", value.strip()).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def check(delivery: Delivery, shop: ShopView | None) -> EventStatus:
    """Decide whether to take the delivery: PENDING (handle it), IGNORED (log only) or Rejected.

    Intake looks only at what the worker cannot do without (see webhooks/shape.py); the worker
    loads the whole payload with the topic's schema.
    """
    topic = TOPICS.get(delivery.topic)
    if topic is None:
        return EventStatus.IGNORED
    try:
        payload: Any = orjson.loads(delivery.body)
    except orjson.JSONDecodeError as exc:
        raise Rejected(400, "The body is not JSON.") from exc
    if not isinstance(payload, dict):
        raise Rejected(400, "The body is not a JSON object.")
    problems = topic.problems(payload)
    if problems:
        raise Rejected(400, f"The payload is missing or has malformed fields: {dict(problems)}")
    if topic.kind is Kind.COMPLIANCE:
        return EventStatus.PENDING
    if shop is None:
        raise Rejected(404, "Unknown shop.")
    if topic.kind is Kind.BUSINESS and not shop.installed:
        raise Rejected(410, "The app is not installed on this shop.")
    return EventStatus.PENDING


def record(delivery: Delivery, status: EventStatus) -> Recorded:
    """Insert the event unless (shop, event id) is already held; committed when this returns."""
    new_id = _writer().insert_once((
        delivery.shop_domain, delivery.event_id, delivery.webhook_id, delivery.topic, delivery.api_version,
        delivery.triggered_at, utcnow(), delivery.body, str(status),
    ))
    return Recorded(new_id, status)


class RecordFailed(Exception):
    """The database did not take the event (Shopify will retry it)."""


class IntakeWriter:
    """The one statement intake runs, on a DBAPI connection of each request thread's own.

    Every webhook Shopify sends costs one round trip: a single ``INSERT … ON CONFLICT DO NOTHING
    RETURNING id`` in autocommit (atomic on its own, committed before it answers), with no pool
    checkout, BEGIN, COMMIT, reset or liveness ping around it. A connection that fails is dropped;
    after a lost connection (a database restart) the insert is tried once more on a new one, which
    is safe because it is idempotent.
    """

    _COLUMNS = ("shop_domain", "event_id", "webhook_id", "topic", "api_version", "triggered_at", "received_at",
                "payload", "status")

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        dialect = engine.dialect
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self._sql = (
            f"INSERT INTO webhook_events ({', '.join(self._COLUMNS)}, attempts)"
            f" VALUES ({', '.join([mark] * len(self._COLUMNS))}, 0)"
            " ON CONFLICT (shop_domain, event_id) DO NOTHING RETURNING id"
        )
        self._time = UTCDateTime().bind_processor(dialect) or (lambda value: value)
        self._dbapi_error: type[Exception] = dialect.loaded_dbapi.Error
        self._local = threading.local()
        self._opened: list[Any] = []  # held here, so a thread's end does not leave a connection to the GC
        self._lock = threading.Lock()
        self._one_writer = _SqliteWriterTurn(engine.url.database) if dialect.name == "sqlite" else None
        sa.event.listen(engine, "engine_disposed", self.close)

    @property
    def engine(self) -> sa.Engine:
        return self._engine

    def insert_once(self, row: tuple[Any, ...]) -> int | None:
        """The new row's id, or None when (shop, event id) was already recorded."""
        params = (*row[:5], self._time(row[5]), self._time(row[6]), *row[7:])
        for attempt in (1, 2):
            conn = self._connection()
            cursor = None
            try:
                cursor = conn.cursor()
                with self._one_writer or contextlib.nullcontext():
                    cursor.execute(self._sql, params)
                    rows = cursor.fetchall()  # to the end: SQLite commits an autocommit statement when it is done
                cursor.close()
                return int(rows[0][0]) if rows else None
            except self._dbapi_error as exc:
                lost = self._engine.dialect.is_disconnect(exc, conn, cursor)  # type: ignore[arg-type]
                self._drop(conn)
                if attempt == 2 or not lost:
                    raise RecordFailed(repr(exc)) from exc
        raise AssertionError("unreachable")

    def _connection(self) -> Any:
        conn: Any = getattr(self._local, "conn", None)
        if conn is None:
            fairy = self._engine.raw_connection()
            conn = fairy.driver_connection
            fairy.detach()  # ours from now on: the pool neither resets nor pings it
            self._engine.dialect.set_isolation_level(conn, "AUTOCOMMIT")
            with self._lock:
                self._opened.append(conn)
            self._local.conn = conn
        return conn

    def _drop(self, conn: Any) -> None:
        self._local.conn = None
        with self._lock:
            if conn in self._opened:
                self._opened.remove(conn)
        with contextlib.suppress(Exception):
            conn.close()

    def close(self, *_: Any) -> None:
        """Close every connection (the engine was disposed: tests, or a process shutting down)."""
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            with contextlib.suppress(Exception):
                conn.close()
        self._local = threading.local()


class _SqliteWriterTurn:
    """Web processes take turns to write to SQLite, queueing in the kernel on a lock file.

    SQLite lets one writer in at a time and makes the others poll with growing sleeps (1, 2, 5, 10 …
    ms), which under a burst of webhooks turns into the slowest answers; waiting on a file lock wakes
    the next writer the moment the last one is done. The thread lock comes first because a file lock
    is held per open file, not per thread.
    """

    def __init__(self, database: str | None) -> None:
        self._thread_turn = threading.Lock()
        self._path = f"{database}.intake-lock" if database and database != ":memory:" else None
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._thread_turn.acquire()
        if self._path is not None:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *_: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_turn.release()


def _writer() -> IntakeWriter:
    writer: IntakeWriter | None = current_app.extensions.get("cx_intake_writer")
    if writer is None or writer.engine is not db.engine:
        with _WRITER_LOCK:
            writer = current_app.extensions.get("cx_intake_writer")
            if writer is None or writer.engine is not db.engine:
                writer = current_app.extensions["cx_intake_writer"] = IntakeWriter(db.engine)
    return writer


_WRITER_LOCK = threading.Lock()
