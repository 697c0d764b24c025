"""Work that must wait for the transaction that asked for it: a job queued before its rows are committed could
run first and find nothing. Each kind of work collects what it needs during the transaction and is handed it once
the transaction commits; a rollback drops it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
import sqlalchemy.orm as so

T = TypeVar("T")
_PENDING = "cx_after_commit"


def collect(session: so.Session, drain: Callable[[T], None], start: Callable[[], T]) -> T:
    """This transaction's collection for ``drain`` (made by ``start`` at first use), handed to ``drain`` once the
    transaction commits."""
    pending: dict[Callable[[Any], None], Any] = session.info.setdefault(_PENDING, {})
    if drain not in pending:
        pending[drain] = start()
    held: T = pending[drain]
    return held


@sa.event.listens_for(so.Session, "after_commit")
def _drain(session: so.Session) -> None:
    for drain, collected in session.info.pop(_PENDING, {}).items():
        drain(collected)


@sa.event.listens_for(so.Session, "after_soft_rollback")
def _drop(session: so.Session, _previous: Any) -> None:
    session.info.pop(_PENDING, None)
