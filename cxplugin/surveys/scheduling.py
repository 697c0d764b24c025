"""When each order's survey is due: planned from its delivery, skipped when the rules say so."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from cxplugin.extensions import db
from cxplugin.models import Order, Shipment, Shop, Suppression, Survey, SurveyStatus
from cxplugin.privacy import email_hash
from cxplugin.promise import punctuality
from cxplugin.shops import settings as shop_settings
from cxplugin.surveys.rules import (
    GIVEN_UP,
    SurveyFacts,
    SurveyPolicy,
    into_send_window,
    skip_reason,
)


def clock_time(value: str) -> time:
    hours, minutes = (int(p) for p in value.split(":"))
    return time(hours, minutes)

def plan(shop: Shop, order: Order, now: datetime) -> Survey | None:
    """Schedule (or reschedule, or skip) the order's survey from what we know of its delivery."""
    settings = shop_settings.current(shop)["surveys"]
    if not settings["enabled"]:
        return None
    survey = db.session.scalar(sa.select(Survey).where(Survey.order_id == order.id))
    if survey is not None and (survey.status not in (SurveyStatus.SCHEDULED, SurveyStatus.SKIPPED)
                               or survey.skip_reason in GIVEN_UP):
        return survey
    shipments = db.session.scalars(sa.select(Shipment).where(Shipment.order_id == order.id))
    live = [s for s in shipments if s.fulfillment_status not in ("cancelled", "error", "failure")]
    delivered_at = punctuality.order_delivered_at([s.delivered_at for s in live])
    shipped = [s.shipped_at for s in live if s.shipped_at is not None]
    if delivered_at is not None:
        basis, arrived_at, due = "delivered", delivered_at, delivered_at + timedelta(days=settings["delay_days"])
    elif shipped:
        # No delivery event may ever come (carriers without tracking): ask a while after shipping.
        basis, arrived_at = "fallback", max(shipped)
        due = arrived_at + timedelta(days=settings["fallback_days"])
    else:
        return survey
    window = settings["send_window"]
    due = into_send_window(due, shop.timezone, clock_time(window["start"]), clock_time(window["end"]))
    if survey is None:
        survey = Survey(shop_id=shop.id, order_id=order.id, question=settings["question"])
        db.session.add(survey)
    survey.basis, survey.due_at = basis, due
    survey.email_hash = email_hash(shop.id, order.email) if order.email else None
    reason = skip_reason(facts(shop, order, survey, arrived_at), policy(settings), now)
    survey.status = SurveyStatus.SKIPPED if reason else SurveyStatus.SCHEDULED
    survey.skip_reason = reason
    return survey


def policy(settings: dict[str, Any]) -> SurveyPolicy:
    return SurveyPolicy(throttle_days=settings["throttle_days"], max_age_days=settings["max_age_days"])


def facts(shop: Shop, order: Order, survey: Survey, arrived_at: datetime) -> SurveyFacts:
    suppressed = last_sent = None
    if survey.email_hash:
        suppressed = db.session.scalar(sa.select(Suppression.id).where(
            Suppression.shop_id == shop.id, Suppression.email_hash == survey.email_hash))
        others = sa.select(sa.func.max(Survey.sent_at)).where(
            Survey.shop_id == shop.id, Survey.email_hash == survey.email_hash, Survey.order_id != order.id)
        last_sent = db.session.scalar(others)
    return SurveyFacts(
        cancelled=order.cancelled_at is not None,
        refunded=order.financial_status == "refunded",
        has_email=bool(order.email),
        suppressed=suppressed is not None,
        last_surveyed_at=last_sent,
        arrived_at=arrived_at,
    )


