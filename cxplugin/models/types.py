"""Column types shared by the models: aware UTC datetimes and encrypted text."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import InvalidToken, MultiFernet


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Stores UTC; always hands back timezone-aware datetimes, on SQLite too."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class _Cipher:
    """Holds the Fernet keys given to create_app; the column type reads them at bind time."""

    fernet: MultiFernet | None = None


cipher = _Cipher()


class EncryptedText(sa.TypeDecorator[str]):
    """Text encrypted at rest with CX_ENCRYPTION_KEY (the first key encrypts, all keys decrypt)."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> str | None:
        if value is None:
            return None
        if cipher.fernet is None:
            raise RuntimeError("encryption key not configured")
        return cipher.fernet.encrypt(value.encode()).decode()

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> str | None:
        if value is None:
            return None
        if cipher.fernet is None:
            raise RuntimeError("encryption key not configured")
        try:
            return cipher.fernet.decrypt(str(value).encode()).decode()
        except InvalidToken:
            # A token written under a key we no longer hold is useless; the shop must re-authorise.
            return None


# The local demo plays ninety days of history through the app's own code in a minute; inside its replay the
# clock reads the replayed moment. Nothing else sets it (see cxplugin/demo/seeding.py).
_replayed_now: ContextVar[datetime | None] = ContextVar("cx_replayed_now", default=None)


def utcnow() -> datetime:
    replayed = _replayed_now.get()
    return replayed if replayed is not None else datetime.now(UTC)


@contextmanager
def replayed_clock(moment: datetime) -> Iterator[None]:
    """Within the block, ``utcnow()`` in this thread is ``moment`` (the demo's replay only)."""
    token = _replayed_now.set(moment)
    try:
        yield
    finally:
        _replayed_now.reset(token)
