"""Admin JSON API for the learned promise: what it learned, how it would have done, and a rebuild on demand."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from cxplugin.promise import backfill, learning
from cxplugin.shopify.auth import current_shop, require_session_token
from cxplugin.shops import settings as shop_settings

bp = Blueprint("admin_promise_api", __name__, url_prefix="/api/admin/promise")


@bp.get("/learned")
@require_session_token
def learned() -> dict[str, Any]:
    """The stored model's routes and how, over the 90 days before it was built, the learned promise did beside the
    fixed one."""
    shop = current_shop()
    promise = shop_settings.current(shop)["promise"]
    stored = learning.latest(shop.id)
    return {
        "mode": promise["mode"],
        "target": promise["target_on_time"],
        "model": None if stored is None else {
            "version": stored.version, "built_at": stored.built_at.isoformat(), "deliveries": stored.deliveries,
            "routes": [{"route": key, "processing_days": list(r.processing), "transit_days": list(r.transit),
                        "deliveries": r.deliveries, "explanation": r.explanation}
                       for key, r in sorted(stored.routes.items(), key=lambda item: -item[1].deliveries)],
        },
        # Measured when the model was built (a walk forward over the shop's history is too slow per request).
        "last_90_days": dict(stored.evaluation) if stored is not None else None,
        "history_backfill": _backfill(shop),
    }


def _backfill(shop: Any) -> dict[str, Any] | None:
    """The last read of the shop's past orders from Shopify: under way, done (with its counts) or failed."""
    row = backfill.latest(shop)
    if row is None:
        return None
    return {"status": row.status, "error": row.error, "started_at": row.started_at.isoformat(),
            "finished_at": row.finished_at.isoformat() if row.finished_at else None, "counts": dict(row.counts)}


@bp.post("/learn")
@require_session_token
def learn() -> tuple[dict[str, Any], int]:
    """Rebuild the learned promise in the background; the answer says so at once."""
    from cxplugin.tasks import rebuild_learned_promise

    rebuild_learned_promise(current_shop().id)
    return {"status": "queued"}, 202
