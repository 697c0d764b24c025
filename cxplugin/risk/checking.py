"""The at-risk check: judge an order with the risk rules, record each change of its risk state with its time, and
plan what follows a new risk (the shopper's delay notice, the Flow trigger). No network calls here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from cxplugin.extensions import db
from cxplugin.models import Order, OrderRisk, RiskChange, Shipment, Shop
from cxplugin.promise import calculator, learning
from cxplugin.risk import flow, notices, rules
from cxplugin.shops import settings as shop_settings

# Orders older than this are not followed any more (their promise is long settled either way).
FOLLOW_DAYS = 120
# The periodic check loads and commits this many orders at a time.
BATCH = 200


@dataclass(frozen=True)
class Judging:
    """What judging a batch of one shop's orders reads once, not once per order: the learned model, the
    thresholds in force, and the orders' risk rows (an order missing from ``risks`` has none yet)."""

    learned: learning.LearnedRoutes | None
    thresholds: rules.Thresholds
    risks: Mapping[int, OrderRisk]

    @classmethod
    def of(cls, shop: Shop, order_ids: Iterable[int]) -> Judging:
        risks = db.session.scalars(sa.select(OrderRisk).where(OrderRisk.order_id.in_(list(order_ids))))
        return cls(learning.latest(shop.id), thresholds(shop_settings.current(shop)),
                   {risk.order_id: risk for risk in risks})


def thresholds(settings: dict[str, Any]) -> rules.Thresholds:
    risk = settings["risk"]
    return rules.Thresholds(stall_days=risk["stall_business_days"], likely_late_below=risk["likely_late_below"])


def _transit(order: Order, settings: calculator.PromiseSettings, carrier: str | None,
             learned: learning.LearnedRoutes | None) -> tuple[tuple[tuple[int, float], ...], tuple[float, ...]]:
    """The route's learned transit and the shop's delivery hours; without a learned model, the zone's fixed
    range, each day alike, and no hours."""
    destination = calculator.Destination(order.destination_country or "", order.destination_province,
                                         order.destination_zip)
    route = learned.find(destination, carrier) if learned is not None else None
    if route is not None and route.transit_distribution:
        return route.transit_distribution, route.delivery_hours
    zone, _ = settings.zone_for(destination)
    if zone is None:
        return (), ()
    days = range(zone.transit_min, zone.transit_max + 1)
    return tuple((d, 1 / len(days)) for d in days), ()


def facts(shop: Shop, order: Order, learned: learning.LearnedRoutes | None) \
        -> tuple[calculator.PromiseSettings, rules.OrderFacts] | None:
    """What the rules need to know of ``order`` (``learned``: the shop's latest model); None when it has no
    promise to keep."""
    if order.placed_at is None or order.promise_latest is None:
        return None
    data = shop_settings.in_force_at(shop, order.placed_at)
    settings = shop_settings.promise_settings(data, shop.timezone, shop.country_code)
    destination = calculator.Destination(order.destination_country or "", order.destination_province,
                                         order.destination_zip)
    dispatch_latest: date | None = None
    if order.destination_country:
        made = calculator.compute(settings, order.placed_at, destination)
        if made.dispatch_latest is not None:
            dispatch_latest = min(made.dispatch_latest, order.promise_latest)
    shipments = tuple(
        rules.ShipmentFacts(shipped_at=s.shipped_at, delivered_at=s.delivered_at,
                            estimated_delivery_at=s.estimated_delivery_at,
                            scans=tuple(rules.Scan(h.status, h.happened_at) for h in s.history),
                            fulfillment_status=s.fulfillment_status)
        for s in order.shipments)
    carrier = next((s.carrier for s in order.shipments if s.carrier), None)
    transit, hours = _transit(order, settings, carrier, learned)
    return settings, rules.OrderFacts(placed_at=order.placed_at, promised_latest=order.promise_latest,
                                      dispatch_latest=dispatch_latest, destination_country=order.destination_country,
                                      shipments=shipments, transit_distribution=transit, delivery_hours=hours)


def check(shop: Shop, order: Order, now: datetime, judging: Judging | None = None) -> OrderRisk | None:
    """Judge the order now and record its risk state if it changed. Returns the order's risk row (None for an
    order without a promise). ``judging``: what a batch read once (else read for this order). The caller
    commits."""
    judging = judging or Judging.of(shop, [order.id])
    risk = judging.risks.get(order.id)
    if order.cancelled_at is not None or order.redacted_at is not None:
        verdict = rules.Assessment(rules.ON_TRACK, "order cancelled" if order.cancelled_at else "order redacted",
                                   closed=True)
    else:
        known = facts(shop, order, judging.learned)
        if known is None:
            return risk
        settings, order_facts = known
        verdict = rules.assess(settings, order_facts, now, judging.thresholds)
    if risk is None:
        risk = OrderRisk(shop_id=shop.id, order_id=order.id, state=rules.ON_TRACK, reason="on track", since=now,
                         checked_at=now, closed=False)
        db.session.add(risk)
    risk.checked_at = now
    risk.closed = verdict.closed
    changed = verdict.state != risk.state
    if not changed:
        # Same state: keep when it began; the reason and the date may be sharper now.
        risk.reason, risk.new_expected = verdict.reason[:255], verdict.new_expected or risk.new_expected
        return risk
    risk.state, risk.reason, risk.new_expected, risk.since = (verdict.state, verdict.reason[:255],
                                                              verdict.new_expected, now)
    risk.mark = risk.marked_at = None
    db.session.add(RiskChange(shop_id=shop.id, order_id=order.id, state=verdict.state, reason=verdict.reason[:255],
                              new_expected=verdict.new_expected, at=now))
    if verdict.at_risk:
        notices.plan(shop, order, verdict.state, verdict.new_expected, now)
        flow.plan_at_risk(shop, order, verdict.state, verdict.new_expected)
    return risk


def open_order_ids(shop: Shop, now: datetime) -> list[int]:
    """Orders of the shop still followed: with a promise, not cancelled or redacted, placed recently, and not
    closed (delivered) by an earlier check."""
    closed = sa.select(OrderRisk.order_id).where(OrderRisk.shop_id == shop.id, OrderRisk.closed.is_(True))
    return list(db.session.scalars(sa.select(Order.id).where(
        Order.shop_id == shop.id, Order.promise_latest.is_not(None), Order.cancelled_at.is_(None),
        Order.redacted_at.is_(None), Order.placed_at >= now - timedelta(days=FOLLOW_DAYS),
        Order.id.not_in(closed)).order_by(Order.id)))


def check_shop(shop_id: int, now: datetime) -> dict[str, int]:
    """Re-judge every open order of the shop, a batch at a time: each batch's orders, shipments, scans and risk
    rows are read in a few queries, not a few per order, and committed together."""
    shop = db.session.get(Shop, shop_id)
    if shop is None or not shop.is_installed:
        return {"checked": 0}
    ids = open_order_ids(shop, now)
    for start in range(0, len(ids), BATCH):
        batch = ids[start:start + BATCH]
        judging = Judging.of(shop, batch)
        orders = db.session.scalars(sa.select(Order).where(Order.id.in_(batch)).order_by(Order.id).options(
            so.selectinload(Order.shipments).selectinload(Shipment.history)))
        for order in orders:
            check(shop, order, now, judging)
        db.session.commit()
    return {"checked": len(ids)}


def check_all(now: datetime) -> dict[str, int]:
    shop_ids = list(db.session.scalars(sa.select(Shop.id).where(Shop.installed_at.is_not(None),
                                                                Shop.uninstalled_at.is_(None))))
    checked = 0
    for shop_id in shop_ids:
        checked += check_shop(shop_id, now)["checked"]
    return {"shops": len(shop_ids), "checked": checked}
