"""The daily rollups equal a direct count of the rows after a random stream of order, fulfilment and survey
events (in any order, repeated, cancelled), handled by the same topic handlers the worker runs."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask

from cxplugin.extensions import db
from cxplugin.models import Order, ScoreDay, Shipment, Shop, Survey, WebhookEvent
from cxplugin.webhooks.topics import TOPICS
from tests.shopify_signing import fixture

TZ = ZoneInfo("America/New_York")
BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _order(n: int, rng: random.Random) -> dict[str, Any]:
    order = fixture("orders_create__basic")
    placed = BASE + timedelta(days=rng.randint(0, 20), hours=rng.randint(0, 23))
    latest = placed.date() + timedelta(days=rng.randint(1, 6))
    customer = rng.choice([1, 2, 3, None])
    order |= {"id": 7000 + n, "name": f"#{n}", "created_at": placed.isoformat(),
              "updated_at": (placed + timedelta(minutes=rng.randint(0, 3000))).isoformat(),
              "email": f"shopper{rng.randint(1, 3)}@example.com",
              "cancelled_at": rng.choice([None, None, None, placed.isoformat()]),
              "note_attributes": [{"name": "_cx_promise", "value":
                                   f'{{"earliest":"{latest - timedelta(days=1)}","latest":"{latest}"}}'}]
              if rng.random() < 0.8 else []}
    order["customer"] = None if customer is None else {**order["customer"], "id": customer}
    return order


def _fulfillment(n: int, order: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    payload = fixture("fulfillments_update__delivered")
    placed = datetime.fromisoformat(order["created_at"])
    moment = placed + timedelta(days=rng.randint(1, 9), hours=rng.randint(0, 23))
    payload |= {"id": 90000 + n, "order_id": order["id"], "tracking_company": rng.choice(["UPS", "DHL", None]),
                "created_at": placed.isoformat(), "updated_at": moment.isoformat(),
                "status": rng.choice(["success", "success", "success", "cancelled"]),
                "shipment_status": rng.choice(["delivered", "delivered", "in_transit", None])}
    return payload


def _handle(shop: Shop, topic: str, payload: dict[str, Any], rng: random.Random) -> None:
    event = WebhookEvent(triggered_at=BASE + timedelta(seconds=rng.randint(0, 10**6)))
    TOPICS[topic].handle(shop, TOPICS[topic].load(payload), event)


def _survey_event(shop: Shop, rng: random.Random) -> None:
    order = rng.choice(list(db.session.scalars(sa.select(Order).where(Order.shop_id == shop.id))))
    survey = db.session.scalar(sa.select(Survey).where(Survey.order_id == order.id))
    if survey is None:
        survey = Survey(shop_id=shop.id, order_id=order.id, question="csat_nps", basis="delivered", due_at=BASE)
        db.session.add(survey)
    survey.sent_at = survey.sent_at or BASE + timedelta(days=rng.randint(0, 30), hours=rng.randint(0, 23))
    survey.status = rng.choice(["sent", "answered", "answered"])
    survey.csat = rng.choice([None, 1, 2, 3, 4, 5])
    survey.nps = rng.choice([None, 0, 5, 7, 9, 10])


def direct_count(shop: Shop) -> Counter[tuple[Any, ...]]:
    """Deliveries and surveys per (kind, day, bucket), counted from the orders' shipments and the surveys."""
    counts: Counter[tuple[Any, ...]] = Counter()
    buckets: dict[int, str] = {}
    for order in db.session.scalars(sa.select(Order).where(Order.shop_id == shop.id)):
        shipments = db.session.scalars(sa.select(Shipment).where(Shipment.order_id == order.id)).all()
        live = [s for s in shipments if s.fulfillment_status not in ("cancelled", "error", "failure")]
        if not live or any(s.delivered_at is None for s in live):
            continue
        day = max(s.delivered_at for s in live if s.delivered_at).astimezone(TZ).date()
        late = (day - order.promise_latest).days if order.promise_latest else None
        bucket = "" if late is None else "on_time" if late <= 0 else "1_day_late" if late == 1 else \
            "2_3_days_late" if late <= 3 else "4_plus_days_late"
        buckets[order.id] = bucket
        counts[("delivery", day, bucket, "orders")] += 1
        counts[("delivery", day, bucket, "late_days")] += max(late or 0, 0)
    for survey in db.session.scalars(sa.select(Survey).where(Survey.shop_id == shop.id, Survey.sent_at.is_not(None))):
        key = ("survey", survey.sent_at.astimezone(TZ).date(), buckets.get(survey.order_id, ""))
        counts[(*key, "sent")] += 1
        if survey.status == "answered":
            counts[(*key, "answered")] += 1
            if survey.csat is not None:
                counts[(*key, f"csat_{survey.csat}")] += 1
            if survey.nps is not None:
                counts[(*key, "nps_sum")] += survey.nps
    return +counts


def rollup_count(shop: Shop) -> Counter[tuple[Any, ...]]:
    counts: Counter[tuple[Any, ...]] = Counter()
    names = ("orders", "late_days", "sent", "answered", "csat_1", "csat_2", "csat_3", "csat_4", "csat_5", "nps_sum")
    rows = db.session.execute(sa.select(ScoreDay.kind, ScoreDay.day, ScoreDay.bucket,
                                        *[getattr(ScoreDay, n) for n in names])
                              .where(ScoreDay.shop_id == shop.id, ScoreDay.grain == "punctuality"))
    for kind, day, bucket, *values in rows:
        for name, value in zip(names, values, strict=True):
            counts[(kind, day, bucket, name)] += value
    return +counts


def grains_agree(shop: Shop) -> bool:
    """Every order and survey counts once in each grain."""
    totals = db.session.execute(sa.select(ScoreDay.grain, sa.func.sum(ScoreDay.orders), sa.func.sum(ScoreDay.sent),
                                          sa.func.sum(ScoreDay.first_customers))
                                .where(ScoreDay.shop_id == shop.id).group_by(ScoreDay.grain)).all()
    return len({tuple(row[1:]) for row in totals}) <= 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rollups_equal_a_direct_count_after_a_random_stream_of_events(app: Flask, shop: str, seed: int) -> None:
    rng = random.Random(seed)
    with app.app_context():
        the_shop = db.session.scalar(sa.select(Shop))
        assert the_shop is not None
        orders = [_order(n, rng) for n in range(12)]
        events: list[tuple[str, dict[str, Any]]] = []
        for n, order in enumerate(orders):
            events.append(("orders/create", order))
            events += [("fulfillments/update", _fulfillment(n * 3 + k, order, rng)) for k in range(rng.randint(0, 2))]
            events += [("orders/updated", {**order, "updated_at": (BASE + timedelta(days=40)).isoformat(),
                                           "cancelled_at": None})] * rng.randint(0, 1)
        events += rng.sample(events, 8)  # replays
        rng.shuffle(events)
        for step, (topic, payload) in enumerate(events):
            _handle(the_shop, topic, payload, rng)
            if step % 3 == 0 and step > 12:
                _survey_event(the_shop, rng)
            db.session.commit()
        assert rollup_count(the_shop) == direct_count(the_shop)
        assert grains_agree(the_shop)
