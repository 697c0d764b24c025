"""GET /healthz (liveness: can the app take webhooks) and GET /readyz (readiness: is every dependency up).

Intake needs only the database to acknowledge a webhook (the dispatcher enqueues recorded events once the
queue answers again), so a queue outage degrades /healthz without failing it; /readyz fails on either.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify

from cxplugin.extensions import db
from cxplugin.logs import log
from cxplugin.queue import check_queue

bp = Blueprint("health", __name__)


def _dependencies() -> dict[str, str]:
    """Each dependency's state, "ok" or "down"."""
    states = {"database": "ok", "queue": "ok"}
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception as exc:
        db.session.rollback()
        states["database"] = "down"
        log("health: database down", 40, error=repr(exc))
    try:
        check_queue()
    except Exception as exc:
        states["queue"] = "down"
        log("health: queue down", 40, error=repr(exc))
    return states


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 while webhooks can be recorded ("degraded" when the queue is down), 503 when the database is."""
    states = _dependencies()
    status = "ok" if all(state == "ok" for state in states.values()) else "degraded"
    return jsonify(status=status, **states), 200 if states["database"] == "ok" else 503


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """200 when every dependency answers, else 503 naming the ones that are down."""
    states = _dependencies()
    ready = all(state == "ok" for state in states.values())
    return jsonify(status="ok" if ready else "down", **states), 200 if ready else 503
