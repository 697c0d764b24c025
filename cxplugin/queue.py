"""The huey queue: SqliteHuey by default, RedisHuey when REDIS_URL is set.

Tasks are declared against the module-level ``huey``; ``init_queue`` points its storage at the
backend the app is configured for, so web processes and workers share one queue.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask
from huey import Huey
from huey.exceptions import RetryTask
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

from cxplugin.logs import log
from cxplugin.outages import is_outage

huey = Huey("cxplugin", results=False, storage_class=MemoryStorage)

_app: Flask | None = None

F = TypeVar("F", bound=Callable[..., Any])


def init_queue(app: Flask) -> None:
    """Bind the queue to this app's backend and remember the app for task contexts."""
    global _app
    _app = app
    huey.name = app.config["CX_QUEUE_NAME"]
    if app.config["REDIS_URL"]:
        huey.storage_class = RedisStorage
        huey.storage_kwargs = {"url": app.config["REDIS_URL"]}
    else:
        Path(app.config["CX_QUEUE_PATH"]).parent.mkdir(parents=True, exist_ok=True)
        huey.storage_class = SqliteStorage
        huey.storage_kwargs = {"filename": app.config["CX_QUEUE_PATH"]}
    huey.storage = huey.create_storage()


def queue_backend() -> str:
    return "redis" if huey.storage_class is RedisStorage else "sqlite"


def check_queue() -> None:
    """Raise if the queue's backend does not answer."""
    if isinstance(huey.storage, RedisStorage):
        huey.storage.conn.ping()
    else:
        huey.pending_count()


def in_app_context(func: F) -> F:
    """Run a task body inside the app context, logging one line per job with its outcome.

    A job that meets an outage (see outages.py) is handed back to the queue to run again in
    ``CX_OUTAGE_RETRY_SECONDS``, however often that happens, without using up the task's retries.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _app is None:
            raise RuntimeError("queue used before init_queue(app)")
        started = time.perf_counter()
        with _app.app_context():
            try:
                result = func(*args, **kwargs)
            except Exception as exc:
                ms = round((time.perf_counter() - started) * 1000, 1)
                if is_outage(exc):
                    # Not the job's fault: the queue runs it again shortly rather than dropping it.
                    delay = float(_app.config["CX_OUTAGE_RETRY_SECONDS"])
                    log("job postponed: database or queue unreachable", 30, job=func.__name__, args=args,
                        error=repr(exc), retry_in=delay, ms=ms)
                    raise RetryTask(delay=delay) from exc
                log("job failed", 40, job=func.__name__, args=args, error=repr(exc), ms=ms)
                raise
            fields = result if isinstance(result, dict) else {}
            log("job done", job=func.__name__, args=args, ms=round((time.perf_counter() - started) * 1000, 1),
                **fields)
            return result

    return wrapper  # type: ignore[return-value]
