"""What the merchant sees of orders at risk: every open risk with what to do about it, the detractors to follow up,
the merchant's marks on both, and how satisfied late orders were with and without a delay notice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from cxplugin.extensions import db
from cxplugin.models import DelayNotice, Order, OrderRisk, Shop, Survey
from cxplugin.promise import on_orders
from cxplugin.risk import rules
from cxplugin.shopify import admin_links

MARKS = ("contacted", "resolved", "ignored")
MIN_ANSWERS = 5  # below this a rate says nothing (as on the scores page)

ACTIONS = {
    "delivery_problem": ["Contact the carrier about the failed delivery", "Re-ship if the parcel is lost or "
                         "returned", "Tell the shopper"],
    "late": ["Contact the carrier", "Re-ship or refund if the parcel does not move", "Tell the shopper"],
    "carrier_eta_late": ["Tell the shopper the carrier's new date"],
    "likely_late": ["Tell the shopper it may arrive late", "Watch the tracking"],
    "stalled": ["Contact the carrier: no scan for days"],
    "late_dispatch": ["Hand the order to the carrier today", "Tell the shopper the new date"],
}


def _story(shop: Shop, order: Order) -> dict[str, Any]:
    """The order's delivery story: the promise, whether it was kept, and each shipment's milestones."""
    def at(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "promise": on_orders.summary(shop, order),
        "shipments": [{"carrier": s.carrier, "status": s.status, "shipped_at": at(s.shipped_at),
                       "in_transit_at": at(s.in_transit_at), "out_for_delivery_at": at(s.out_for_delivery_at),
                       "delivered_at": at(s.delivered_at), "estimated_delivery_at": at(s.estimated_delivery_at)}
                      for s in order.shipments],
    }


def _notices(order_ids: list[int]) -> dict[int, list[DelayNotice]]:
    found: dict[int, list[DelayNotice]] = {}
    if order_ids:
        for notice in db.session.scalars(sa.select(DelayNotice).where(DelayNotice.order_id.in_(order_ids))):
            found.setdefault(notice.order_id, []).append(notice)
    return found


def at_risk(shop: Shop, limit: int = 500) -> list[dict[str, Any]]:
    """Every open risk of the shop, the longest-standing first (redacted and cancelled orders are left out)."""
    rows = db.session.execute(sa.select(OrderRisk, Order).join(Order, Order.id == OrderRisk.order_id).where(
        OrderRisk.shop_id == shop.id, OrderRisk.state.in_(rules.KINDS), Order.redacted_at.is_(None),
        Order.cancelled_at.is_(None)).order_by(OrderRisk.since).limit(limit)).all()
    notices = _notices([order.id for _, order in rows])
    return [{
        "order_id": order.shopify_id, "order_name": order.name,
        "admin_url": admin_links.order_url(shop, order.shopify_id),
        "kind": risk.state, "reason": risk.reason, "since": risk.since.isoformat(),
        "promised_latest": order.promise_latest.isoformat() if order.promise_latest else None,
        "new_expected": risk.new_expected.isoformat() if risk.new_expected else None,
        "actions": ACTIONS[risk.state], "mark": risk.mark,
        "shopper_notified": any(n.status == "sent" for n in notices.get(order.id, [])),
        "notices": [{"kind": n.kind, "status": n.status, "sent_at": n.sent_at.isoformat() if n.sent_at else None,
                     "discount_code": n.discount_code} for n in notices.get(order.id, [])],
    } for risk, order in rows]


def detractors(shop: Shop, limit: int = 200) -> list[dict[str, Any]]:
    """Answers with CSAT ≤ 2 or NPS ≤ 6, newest first, with their comment, the delivery story and the mark."""
    rows = db.session.execute(
        sa.select(Survey, Order).join(Order, Order.id == Survey.order_id)
        .where(Survey.shop_id == shop.id, Survey.answered_at.is_not(None), Order.redacted_at.is_(None),
               sa.or_(Survey.csat <= 2, Survey.nps <= 6))
        .order_by(Survey.answered_at.desc()).limit(limit)).all()
    return [{
        "answer_id": survey.id, "order_id": order.shopify_id, "order_name": order.name,
        "admin_url": admin_links.order_url(shop, order.shopify_id), "csat": survey.csat, "nps": survey.nps,
        "comment": survey.comment, "answered_at": survey.answered_at.isoformat() if survey.answered_at else None,
        # One follow-up mark per answer, the same the responses page sets ("open" reads as no mark here).
        "delivery": _story(shop, order), "mark": None if survey.follow_up == "open" else survey.follow_up,
    } for survey, order in rows]


def mark_risk(shop: Shop, shopify_order_id: int, mark: str | None, now: datetime) -> bool:
    """Mark the order's open risk; False when the shop has no open risk on that order."""
    risk = db.session.scalar(sa.select(OrderRisk).join(Order, Order.id == OrderRisk.order_id).where(
        OrderRisk.shop_id == shop.id, Order.shopify_id == shopify_order_id, OrderRisk.state.in_(rules.KINDS)))
    if risk is None:
        return False
    risk.mark, risk.marked_at = mark, now if mark else None
    return True


def mark_answer(shop: Shop, survey_id: int, mark: str | None, now: datetime) -> bool:
    """Mark a detractor's answer; False when the shop has no such answer."""
    survey = db.session.scalar(sa.select(Survey).where(Survey.shop_id == shop.id, Survey.id == survey_id,
                                                       Survey.answered_at.is_not(None)))
    if survey is None:
        return False
    survey.follow_up, survey.follow_up_at = mark or "open", now
    return True


def late_with_vs_without_notice(shop: Shop) -> dict[str, Any]:
    """Satisfaction of orders delivered late, those whose shopper got a delay notice beside those who did not:
    answers, share satisfied (CSAT 4–5) and NPS. Rates are null below MIN_ANSWERS answers."""
    notified = sa.exists().where(DelayNotice.order_id == Survey.order_id, DelayNotice.status == "sent")
    answers = (sa.select(notified.label("notified"), Survey.csat, Survey.nps)
               .join(OrderRisk, OrderRisk.order_id == Survey.order_id)
               .where(Survey.shop_id == shop.id, OrderRisk.state == rules.DELIVERED_LATE,
                      Survey.answered_at.is_not(None))
               .subquery())
    query = (sa.select(answers.c.notified,
                       sa.func.count(answers.c.csat).label("csat_answers"),
                       sa.func.sum(sa.case((answers.c.csat >= 4, 1), else_=0)).label("satisfied"),
                       sa.func.count(answers.c.nps).label("nps_answers"),
                       sa.func.sum(sa.case((answers.c.nps >= 9, 1), else_=0)).label("promoters"),
                       sa.func.sum(sa.case((answers.c.nps <= 6, 1), else_=0)).label("detractors"))
             .group_by(answers.c.notified))
    out = {key: _group(0, 0, 0, 0, 0) for key in ("with_notice", "without_notice")}
    for row in db.session.execute(query):
        out["with_notice" if row.notified else "without_notice"] = _group(
            row.csat_answers, row.satisfied or 0, row.nps_answers, row.promoters or 0, row.detractors or 0)
    return out


def _group(csat_answers: int, satisfied: int, nps_answers: int, promoters: int, detractors: int) -> dict[str, Any]:
    return {"csat": {"answers": csat_answers, "satisfied": satisfied,
                     "rate": satisfied / csat_answers if csat_answers >= MIN_ANSWERS else None},
            "nps": {"answers": nps_answers,
                    "score": round(100 * (promoters - detractors) / nps_answers) if nps_answers >= MIN_ANSWERS
                    else None}}


def order_risk(order: Order) -> dict[str, Any] | None:
    """The order's risk state for the order API, and whether its shopper got a delay notice."""
    risk = db.session.scalar(sa.select(OrderRisk).where(OrderRisk.order_id == order.id))
    if risk is None:
        return None
    sent = db.session.scalars(sa.select(DelayNotice.kind).where(DelayNotice.order_id == order.id,
                                                                DelayNotice.status == "sent")).all()
    # No time of the change here: the order as we hold it is the same whatever order its webhooks came in.
    return {"state": risk.state, "reason": risk.reason,
            "new_expected": risk.new_expected.isoformat() if risk.new_expected else None,
            "mark": risk.mark, "shopper_notified": bool(sent), "notices_sent": list(sent)}
