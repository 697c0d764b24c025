"""Shopify Flow triggers: 'Delivery promise at risk' and 'Unhappy customer' (the app's flow_trigger extensions in
extensions/), sent with ``flowTriggerReceive``. Each is recorded once (a dedupe key per shop) when it is decided,
and sent later by the periodic job, outside any database transaction, claimed so two runs send it once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from cxplugin.extensions import db
from cxplugin.logs import log
from cxplugin.models import FlowTrigger, Order, Shop, Survey
from cxplugin.shopify.admin_api import AdminApiError, call
from cxplugin.surveys.rules import is_detractor
from cxplugin.surveys.sending import STALE_CLAIM, database_now

AT_RISK = "delivery-promise-at-risk"
UNHAPPY = "unhappy-customer"
MAX_ATTEMPTS = 8
# How far back the job looks for detractors' answers not yet sent to Flow.
UNHAPPY_LOOKBACK = timedelta(days=7)

TRIGGER_RECEIVE = """
mutation SendFlowTrigger($handle: String!, $payload: JSON!) {
  flowTriggerReceive(handle: $handle, payload: $payload) {
    userErrors { field message }
  }
}
"""


def _record(shop_id: int, handle: str, dedupe_key: str, payload: dict[str, Any]) -> bool:
    """Record the trigger unless it is recorded already; True when this call recorded it."""
    exists = db.session.scalar(sa.select(FlowTrigger.id).where(FlowTrigger.shop_id == shop_id,
                                                               FlowTrigger.dedupe_key == dedupe_key))
    if exists is not None:
        return False
    try:
        with db.session.begin_nested():
            db.session.add(FlowTrigger(shop_id=shop_id, handle=handle, dedupe_key=dedupe_key, payload=payload,
                                       attempts=0))
    except sa.exc.IntegrityError:
        return False  # a concurrent run recorded it
    return True


def plan_at_risk(shop: Shop, order: Order, kind: str, new_expected: date | None) -> None:
    """'Delivery promise at risk': once per order and kind."""
    _record(shop.id, AT_RISK, f"at_risk:{order.id}:{kind}", {
        "order_id": order.shopify_id,
        "Risk kind": kind,
        "New expected date": new_expected.isoformat() if new_expected else "",
    })


def plan_unhappy(shop_id: int, now: datetime) -> int:
    """'Unhappy customer' for each detractor's answer of the last days not yet recorded; returns how many."""
    since = now - UNHAPPY_LOOKBACK
    answered = db.session.execute(sa.select(Survey, Order.shopify_id).join(Order, Order.id == Survey.order_id).where(
        Survey.shop_id == shop_id, Survey.answered_at >= since, sa.or_(Survey.csat <= 2, Survey.nps <= 6))).all()
    count = 0
    for survey, shopify_order_id in answered:
        if not is_detractor(survey.csat, survey.nps):
            continue
        question, score = ("csat", survey.csat) if survey.csat is not None else ("nps", survey.nps)
        count += _record(shop_id, UNHAPPY, f"unhappy:{survey.id}", {
            "order_id": shopify_order_id, "Question": question, "Score": score, "Comment": survey.comment or "",
        })
    return count


def _claim(trigger_id: int) -> bool:
    claimed_at = database_now()
    result = db.session.execute(sa.update(FlowTrigger).where(
        FlowTrigger.id == trigger_id, FlowTrigger.sent_at.is_(None), FlowTrigger.attempts < MAX_ATTEMPTS,
        sa.or_(FlowTrigger.claimed_at.is_(None), FlowTrigger.claimed_at < claimed_at - STALE_CLAIM),
    ).values(claimed_at=claimed_at, attempts=FlowTrigger.attempts + 1))
    db.session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def send(trigger_id: int, now: datetime) -> str:
    if not _claim(trigger_id):
        return "not_due"
    trigger = db.session.get_one(FlowTrigger, trigger_id)
    shop = db.session.get_one(Shop, trigger.shop_id)
    handle, payload = trigger.handle, dict(trigger.payload)
    db.session.commit()  # nothing held open over the Admin API call
    try:
        data = call(shop.id, TRIGGER_RECEIVE, {"handle": handle, "payload": payload})
        errors = (data.get("flowTriggerReceive") or {}).get("userErrors") or []
        if errors:
            raise AdminApiError("user_errors", "; ".join(e.get("message") or "" for e in errors))
    except Exception as exc:
        db.session.rollback()
        trigger = db.session.get_one(FlowTrigger, trigger_id)
        trigger.claimed_at, trigger.last_error = None, f"{type(exc).__name__}: {exc}"[:2000]
        db.session.commit()
        log("flow trigger failed", 30, shop=shop.domain, trigger_id=trigger_id, error=trigger.last_error)
        return "retry"
    db.session.execute(sa.update(FlowTrigger).where(FlowTrigger.id == trigger_id).values(
        sent_at=now, claimed_at=None, last_error=None))
    db.session.commit()
    return "sent"


def send_due(now: datetime) -> dict[str, int]:
    installed = sa.select(Shop.id).where(Shop.installed_at.is_not(None), Shop.uninstalled_at.is_(None))
    for shop_id in db.session.scalars(installed).all():
        plan_unhappy(shop_id, now)
    db.session.commit()
    ids = db.session.scalars(sa.select(FlowTrigger.id).where(
        FlowTrigger.sent_at.is_(None), FlowTrigger.attempts < MAX_ATTEMPTS,
        FlowTrigger.shop_id.in_(installed)).order_by(FlowTrigger.id).limit(1000)).all()
    sent = sum(send(trigger_id, now) == "sent" for trigger_id in ids)
    return {"sent": sent}
