"""GET /healthz: is the database answering, is the queue answering."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify

from cxplugin.extensions import db
from cxplugin.logs import log
from cxplugin.queue import check_queue

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    report = {"status": "ok", "database": "ok", "queue": "ok"}
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception as exc:
        db.session.rollback()
        report["database"] = "down"
        log("health: database down", 40, error=repr(exc))
    try:
        check_queue()
    except Exception as exc:
        report["queue"] = "down"
        log("health: queue down", 40, error=repr(exc))
    healthy = report["database"] == "ok" and report["queue"] == "ok"
    if not healthy:
        report["status"] = "degraded"
    return jsonify(report), 200 if healthy else 503
