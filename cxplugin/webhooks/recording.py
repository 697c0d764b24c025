"""Record a verified delivery exactly once per (shop, X-Shopify-Event-Id); the worker picks it up from there."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import threading
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from flask import current_app

from cxplugin.extensions import db
from cxplugin.models import EventStatus
from cxplugin.models.types import UTCDateTime, utcnow
from cxplugin.shops.lifecycle import shop_domain
from cxplugin.shops.snapshot import ShopView
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
        # The shop header is not signed; the body is. An erasure acts on the shop the body names.
        if shop_domain(payload["shop_domain"]) != delivery.shop_domain:
            raise Rejected(400, "The body's shop_domain is not the shop in X-Shopify-Shop-Domain.")
        return EventStatus.PENDING
    if shop is None:
        raise Rejected(404, "Unknown shop.")
    if topic.kind is Kind.BUSINESS and not shop.installed:
        raise Rejected(410, "The app is not installed on this shop.")
    return EventStatus.PENDING


def record(delivery: Delivery, status: EventStatus) -> Recorded:
    """Insert the event unless (shop, event id) is already held; committed when this returns."""
    return Recorded(_writer().insert_once(delivery, status), status)


class RecordFailed(Exception):
    """The database did not take the event (Shopify will retry it)."""


class _Waiting:
    """One delivery waiting for its turn in a shared INSERT."""

    __slots__ = ("params", "_pending", "new_id", "error")

    def __init__(self, params: tuple[Any, ...]) -> None:
        self.params = params  # in the order of IntakeWriter._COLUMNS
        self._pending = threading.Lock()
        self._pending.acquire()  # released once the answer is in
        self.new_id: int | None = None
        self.error: RecordFailed | None = None

    @property
    def key(self) -> tuple[str, str]:
        """(shop domain, event id): the unique key the INSERT answers by."""
        return self.params[0], self.params[1]

    def answer(self, new_id: int | None, error: RecordFailed | None) -> None:
        self.new_id, self.error = new_id, error
        self._pending.release()

    def wait(self) -> None:
        self._pending.acquire()


class IntakeWriter:
    """The one statement intake runs, shared by the deliveries that arrive together (group commit).

    A request thread queues its row and, if one of the process's write lanes is free (one for SQLite,
    which has a single writer anyway; a few for PostgreSQL, so commits overlap), takes it and writes
    every row queued, batch after batch, in ``INSERT … VALUES (…), (…) ON CONFLICT DO NOTHING
    RETURNING`` statements in autocommit on a connection of the writer's own. A thread that finds every
    lane taken does not queue for one: it sleeps once, until the write carrying its row wakes it (each
    extra wake-up between threads costs more than the Python around it). So a burst of webhooks costs
    one round trip and one commit per batch, and a lone webhook exactly one statement, with no pool
    checkout, BEGIN, COMMIT, reset or liveness ping around it. Nobody hears 200 before the statement
    carrying its row has committed. A connection that fails is dropped; after a lost connection (a
    database restart) the batch is tried once more on a new one, which is safe because the statement
    is idempotent.
    """

    _COLUMNS = ("shop_domain", "event_id", "webhook_id", "topic", "api_version", "triggered_at", "received_at",
                "payload", "status")
    MAX_BATCH = 64
    POSTGRES_LANES = 4

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        dialect = engine.dialect
        self._mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self._sql: dict[int, str] = {}
        self._time = UTCDateTime().bind_processor(dialect) or (lambda value: value)
        self._dbapi_error: type[Exception] = dialect.loaded_dbapi.Error
        self._queue: list[_Waiting] = []
        self._queue_lock = threading.Lock()
        # Tried, never waited for: a thread that finds every lane busy waits for its answer instead.
        self._lanes = [threading.Lock() for _ in range(1 if dialect.name == "sqlite" else self.POSTGRES_LANES)]
        self._idle: list[Any] = []  # connections not in a lane right now (mutated in place, never replaced)
        # A writer dropped without its engine being disposed (an app built and let go) closes its connections.
        weakref.finalize(self, _close_all, self._idle)
        self._other_processes = _SqliteFileTurn(engine.url.database) if dialect.name == "sqlite" else None
        sa.event.listen(engine, "engine_disposed", self.close)

    def insert_once(self, delivery: Delivery, status: EventStatus) -> int | None:
        """The new row's id, or None when (shop, event id) was already recorded; committed on return."""
        d = delivery
        waiting = _Waiting((d.shop_domain, d.event_id, d.webhook_id, d.topic, d.api_version,
                            self._time(d.triggered_at), self._time(utcnow()), d.body, str(status)))
        with self._queue_lock:
            self._queue.append(waiting)
        # Whoever gets a lane writes everything queued, then looks again after letting go: a row queued
        # while every lane was held is then either seen here or by the writer that still holds one. The
        # queue holds at most one row per request thread, so a writer is never kept at it for long.
        while (lane := self._free_lane()) is not None:
            try:
                while batch := self._take_batch():
                    self._write(batch)
            finally:
                lane.release()
            if not self._queue:
                break
        waiting.wait()
        if waiting.error is not None:
            raise waiting.error
        return waiting.new_id

    def _take_batch(self) -> list[_Waiting]:
        with self._queue_lock:
            batch, self._queue = self._queue[:self.MAX_BATCH], self._queue[self.MAX_BATCH:]
        return batch

    def _free_lane(self) -> threading.Lock | None:
        for lane in self._lanes:
            if lane.acquire(blocking=False):
                return lane
        return None

    def _write(self, batch: list[_Waiting]) -> None:
        """Insert the batch in one statement and hand each waiting delivery its answer (in a lane).

        Every delivery in the batch gets an answer, whatever goes wrong: its thread is waiting for it.
        """
        failure: RecordFailed | None = RecordFailed("the write was interrupted")  # until it is known to be done
        new_ids: dict[tuple[str, str], int] = {}
        try:
            rows = self._insert([value for waiting in batch for value in waiting.params], len(batch))
            new_ids = {(shop, event): int(new_id) for new_id, shop, event in rows}
            failure = None
        except Exception as exc:
            failure = exc if isinstance(exc, RecordFailed) else RecordFailed(repr(exc))
        finally:
            for waiting in batch:
                # The same event twice in one batch: the first takes the new row, the second is a duplicate.
                waiting.answer(None if failure else new_ids.pop(waiting.key, None), failure)

    def _insert(self, params: list[Any], size: int) -> list[Any]:
        sql = self._statement(size)
        for attempt in (1, 2):
            conn = self._idle.pop() if self._idle else self._connect()
            cursor = None
            try:
                cursor = conn.cursor()
                with self._other_processes or contextlib.nullcontext():
                    cursor.execute(sql, params)
                    rows: list[Any] = cursor.fetchall()  # to the end: SQLite commits an autocommit statement then
                cursor.close()
                self._idle.append(conn)
                return rows
            except self._dbapi_error as exc:
                lost = self._engine.dialect.is_disconnect(exc, conn, cursor)  # type: ignore[arg-type]
                with contextlib.suppress(Exception):
                    conn.close()
                if attempt == 2 or not lost:
                    raise RecordFailed(repr(exc)) from exc
        raise AssertionError("unreachable")

    def _statement(self, size: int) -> str:
        sql = self._sql.get(size)
        if sql is None:
            values = f"({', '.join([self._mark] * len(self._COLUMNS))}, 0)"
            sql = self._sql[size] = (
                f"INSERT INTO webhook_events ({', '.join(self._COLUMNS)}, attempts)"
                f" VALUES {', '.join([values] * size)}"
                " ON CONFLICT (shop_domain, event_id) DO NOTHING RETURNING id, shop_domain, event_id"
            )
        return sql

    def _connect(self) -> Any:
        fairy = self._engine.raw_connection()
        conn: Any = fairy.driver_connection
        fairy.detach()  # ours from now on: the pool neither resets nor pings it
        self._engine.dialect.set_isolation_level(conn, "AUTOCOMMIT")
        return conn

    def close(self, *_: Any) -> None:
        """Close the idle connections (the engine was disposed: tests, or a process shutting down)."""
        _close_all(self._idle)


def _close_all(connections: list[Any]) -> None:
    while connections:
        with contextlib.suppress(Exception):
            connections.pop().close()


class _SqliteFileTurn:
    """Web processes take turns to write to SQLite, queueing in the kernel on a lock file.

    SQLite lets one writer in at a time and makes the others poll with growing sleeps (1, 2, 5, 10 …
    ms), which under a burst of webhooks turns into the slowest answers; waiting on a file lock wakes
    the next writer the moment the last one is done. (Within a process, SQLite's single write
    lane already serialises writers: a file lock is held per open file, not per thread.)
    """

    def __init__(self, database: str | None) -> None:
        self._path = f"{database}.intake-lock" if database and database != ":memory:" else None
        self._fd: int | None = None

    def __enter__(self) -> None:
        if self._path is not None:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *_: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)


def _writer() -> IntakeWriter:
    """The app's writer, made on first use (an app's engine never changes)."""
    writer: IntakeWriter | None = current_app.extensions.get("cx_intake_writer")
    if writer is None:
        with _WRITER_LOCK:
            writer = current_app.extensions.get("cx_intake_writer")
            if writer is None:
                writer = current_app.extensions["cx_intake_writer"] = IntakeWriter(db.engine)
    return writer


_WRITER_LOCK = threading.Lock()
