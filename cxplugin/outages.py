"""What counts as an outage: the database or the queue's Redis did not answer (or lost the connection).

Work that meets an outage is tried again shortly and the try is not counted against it: the work
itself did nothing wrong. A bug or a payload we cannot read is not an outage.
"""

from __future__ import annotations

import sqlalchemy as sa
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# OperationalError: the server went away, refused us, timed out, or (SQLite) the file is locked or gone.
# InterfaceError: the driver's connection is already closed. TimeoutError: no pooled connection came free.
_UNREACHABLE: tuple[type[BaseException], ...] = (
    sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError, sa.exc.TimeoutError,
    RedisConnectionError, RedisTimeoutError,
)


# PostgreSQL's query_canceled (statement_timeout, a cancel request) is an OperationalError too, but says
# that the work took too long, not that the server is out of reach: it is counted like any failure.
_CANCELLED = "57014"


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` (or what it was raised from) says the database or Redis could not be reached."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, sa.exc.DBAPIError) and getattr(seen.orig, "sqlstate", None) == _CANCELLED:
            return False
        if isinstance(seen, _UNREACHABLE):
            return True
        if isinstance(seen, sa.exc.DBAPIError) and seen.connection_invalidated:
            return True
        seen = seen.__cause__
    return False
