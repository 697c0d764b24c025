"""A small shop history for the scores tests, sent through the real webhook path, and an independent
computation of every figure from the same table (plain Python, no app code)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Flask

from cxplugin.extensions import db
from cxplugin.models import Order, Survey
from tests.conftest import Send
from tests.shopify_signing import fixture

TZ = ZoneInfo("America/New_York")  # the test shop's zone
NOON = time(12, 0)


@dataclass(frozen=True)
class Row:
    n: int
    customer: int | None  # Shopify customer id; None: known by e-mail only
    email: str
    placed: date
    promise: tuple[date, date] | None
    delivered: datetime | None  # shop-local wall time
    carrier: str
    country: str | None


def d(text: str) -> date:
    return date.fromisoformat(text)


def at(text: str, clock: time = NOON) -> datetime:
    return datetime.combine(d(text), clock, tzinfo=TZ)


def p(a: str, b: str) -> tuple[date, date]:
    return d(a), d(b)


# Customer 3 is late once (Jan), does not order within 90 days, then is on time (May) and comes back (June).
HISTORY = [
    Row(1, 1, "c1@example.com", d("2026-01-05"), p("2026-01-08", "2026-01-10"), at("2026-01-09"), "UPS", "US"),
    Row(2, 3, "c3@example.com", d("2026-01-05"), p("2026-01-07", "2026-01-08"), at("2026-01-10"), "UPS", "US"),
    Row(3, 1, "c1@example.com", d("2026-02-01"), p("2026-02-04", "2026-02-06"), at("2026-02-03"), "UPS", "US"),
    Row(4, 4, "c4@example.com", d("2026-02-10"), p("2026-02-13", "2026-02-15"), at("2026-02-16"), "DHL", "US"),
    Row(5, 4, "c4@example.com", d("2026-03-01"), p("2026-03-04", "2026-03-06"), at("2026-03-05"), "DHL", "US"),
    Row(6, 3, "c3@example.com", d("2026-05-01"), p("2026-05-04", "2026-05-06"), at("2026-05-05"), "UPS", "US"),
    # Delivered at 23:30 New York time: 7 June in UTC, still 6 June (on time) for the shop.
    Row(7, 3, "c3@example.com", d("2026-06-01"), p("2026-06-04", "2026-06-06"), at("2026-06-06", time(23, 30)),
        "UPS", "US"),
    Row(8, None, "eve@example.com", d("2026-03-10"), p("2026-03-13", "2026-03-16"), at("2026-03-20"), "PostNL", "NL"),
    Row(9, None, "Eve@Example.com", d("2026-04-01"), p("2026-04-05", "2026-04-08"), at("2026-04-07"), "PostNL", "NL"),
    Row(10, 5, "c5@example.com", d("2026-04-10"), None, at("2026-04-15"), "UPS", None),
    Row(11, 6, "c6@example.com", d("2026-07-01"), p("2026-07-03", "2026-07-06"), None, "UPS", "US"),
    Row(12, 7, "c7@example.com", d("2026-06-10"), p("2026-06-13", "2026-06-15"), at("2026-06-19"), "UPS", "US"),
    Row(13, 8, "c8@example.com", d("2026-06-12"), p("2026-06-15", "2026-06-17"), at("2026-06-18"), "UPS", "US"),
]


@dataclass(frozen=True)
class Answer:
    order: int
    sent: date
    csat: int | None
    nps: int | None
    comment: str | None = None
    answered: bool = True


ANSWERS = [
    Answer(1, d("2026-01-12"), 5, 10, "Fast!"),
    Answer(2, d("2026-01-13"), 2, 3, "Late again"),
    Answer(3, d("2026-02-06"), 4, 9),
    Answer(4, d("2026-02-19"), 3, 7),
    Answer(5, d("2026-03-08"), 5, 8),
    Answer(6, d("2026-05-08"), None, None, answered=False),
    Answer(8, d("2026-03-23"), 1, 0, "Four days late"),
    Answer(9, d("2026-04-10"), 4, 9, "Better"),
    Answer(12, d("2026-06-22"), 2, 5),
    Answer(13, d("2026-06-21"), None, None, answered=False),
    Answer(7, d("2026-08-02"), 5, 10, "After the period"),
    Answer(10, d("2026-04-18"), 5, None, "ok"),
]
ZONES = {"US": "Domestic", "NL": "International", None: None}
START, END = d("2026-01-01"), d("2026-07-31")


def order_id(n: int) -> int:
    return 5_000_000 + n


def allow_the_shown_promises(app: Flask, shop_domain: str = "cx-test-shop.myshopify.com") -> None:
    """Settings in force since 2025 under which each promise of the history could have been shown on the storefront
    (0–10 processing and 0–10 transit days): the app keeps a cart's promise only when the settings could have made
    it. Written as a settings version, as a save long ago would have left it."""
    from cxplugin.models import SettingsVersion, Shop
    from cxplugin.shops.settings import current, merge

    wide = {"min": 0, "max": 10}
    with app.app_context():
        shop = db.session.scalars(sa.select(Shop).where(Shop.domain == shop_domain)).one()
        data = merge(current(shop), {"promise": {"processing_days": wide, "zones": [
            {"name": "Domestic", "regions": ["US"], "transit_days": wide, "methods": {}}],
            "default_zone": {"name": "International", "regions": [], "transit_days": wide, "methods": {}}}})
        db.session.add(SettingsVersion(shop_id=shop.id, version=1, data=data,
                                       effective_from=datetime(2025, 1, 1, tzinfo=UTC)))
        db.session.commit()


def send_history(send: Send, drain: Callable[[], int], rows: list[Row] = HISTORY, *,
                 fulfillment_first: bool = False) -> None:
    """Each order's orders/create and one fulfilment (delivered, or in transit); with ``fulfillment_first`` the
    fulfilment arrives before its order."""
    for row in rows:
        order = fixture("orders_create__basic")
        placed = datetime.combine(row.placed, time(9, 0), tzinfo=TZ).isoformat()
        order |= {"id": order_id(row.n), "name": f"#{1000 + row.n}", "created_at": placed, "updated_at": placed,
                  "email": row.email, "contact_email": row.email}
        order["customer"] = None if row.customer is None else {**order["customer"], "id": row.customer,
                                                                "email": row.email}
        order["note_attributes"] = [] if row.promise is None else [{"name": "_cx_promise", "value": json.dumps(
            {"earliest": row.promise[0].isoformat(), "latest": row.promise[1].isoformat()})}]
        if row.country is None:
            order["shipping_address"] = None
        else:
            order["shipping_address"] = {**order["shipping_address"], "country_code": row.country,
                                         "province_code": "NY" if row.country == "US" else None}
        fulfillment = fixture("fulfillments_update__delivered")
        moment = row.delivered or datetime.combine(row.placed + timedelta(days=1), time(10, 0), tzinfo=TZ)
        fulfillment |= {"id": 9_000_000 + row.n, "order_id": order_id(row.n), "tracking_company": row.carrier,
                        "created_at": moment.isoformat(), "updated_at": moment.isoformat(),
                        "shipment_status": "delivered" if row.delivered else "in_transit"}
        events = [("orders/create", order), ("fulfillments/update", fulfillment)]
        for topic, payload in reversed(events) if fulfillment_first else events:
            assert send(topic, payload).status_code == 200
            drain()


def write_answers(app: Flask, answers: list[Answer] = ANSWERS) -> None:
    """The surveys as sent and answered (written as the survey code would: through the ORM)."""
    with app.app_context():
        for a in answers:
            order = db.session.scalar(sa.select(Order).where(Order.shopify_id == order_id(a.order)))
            assert order is not None
            survey = db.session.scalar(sa.select(Survey).where(Survey.order_id == order.id))
            if survey is None:
                survey = Survey(shop_id=order.shop_id, order_id=order.id, question="csat_nps", basis="delivered",
                                due_at=datetime.now(UTC))
                db.session.add(survey)
            sent = datetime.combine(a.sent, time(10, 0), tzinfo=TZ)
            survey.sent_at = sent
            survey.status = "answered" if a.answered else "sent"
            if a.answered:
                survey.csat, survey.nps, survey.comment = a.csat, a.nps, a.comment
                survey.answered_at = sent + timedelta(hours=a.order)
            db.session.commit()


# -- the independent computation --------------------------------------------------------------------------------

def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole >= 5 else None


def _late(row: Row) -> int:
    assert row.promise is not None and row.delivered is not None
    return max((row.delivered.date() - row.promise[1]).days, 0)


def _bucket(row: Row) -> str | None:
    if row.promise is None or row.delivered is None:
        return None
    late = _late(row)
    return "on_time" if late == 0 else "1_day_late" if late == 1 else "2_3_days_late" if late <= 3 else \
        "4_plus_days_late"


def _csat(answers: list[Answer]) -> dict[str, Any]:
    scores = [a.csat for a in answers if a.answered and a.csat is not None]
    happy = sum(1 for s in scores if s >= 4)
    return {"answers": len(scores), "satisfied": happy, "rate": _rate(happy, len(scores)),
            "distribution": {str(k): scores.count(k) for k in range(1, 6)}}


def _nps(answers: list[Answer]) -> dict[str, Any]:
    scores = [a.nps for a in answers if a.answered and a.nps is not None]
    pro, det = sum(s >= 9 for s in scores), sum(s <= 6 for s in scores)
    return {"answers": len(scores), "promoters": pro, "passives": len(scores) - pro - det, "detractors": det,
            "score": round(100 * (pro - det) / len(scores), 1) if len(scores) >= 5 else None}


def expected(today: date, start: date = START, end: date = END) -> dict[str, Any]:
    rows = {r.n: r for r in HISTORY}
    delivered = [r for r in HISTORY if r.delivered and start <= r.delivered.date() <= end]
    promised = [r for r in delivered if r.promise]
    on_time = [r for r in promised if _late(r) == 0]
    late = [r for r in promised if _late(r) > 0]
    sent = [a for a in ANSWERS if start <= a.sent <= end]

    def who(r: Row) -> str:
        return f"c{r.customer}" if r.customer is not None else r.email.lower()

    matured = [r for r in promised if r.delivered and r.delivered.date() <= today - timedelta(days=91)]
    repeat: dict[str, dict[str, int]] = {}
    for kind in ("on_time", "late"):
        firsts: dict[str, Row] = {}
        for r in sorted((r for r in HISTORY if r.promise and r.delivered), key=lambda r: r.delivered or r.placed):
            if (_late(r) == 0) == (kind == "on_time"):
                firsts.setdefault(who(r), r)
        cohort = [r for r in firsts.values() if r in matured]
        back = [r for r in cohort if any(o is not r and who(o) == who(r) and r.delivered is not None
                                         and r.delivered < datetime.combine(o.placed, time(9, 0), tzinfo=TZ)
                                         <= r.delivered + timedelta(days=90) for o in HISTORY)]
        repeat[kind] = {"customers": len(cohort), "returned": len(back), "rate": _rate(len(back), len(cohort))}

    def by(key: Callable[[Row], Any]) -> dict[Any, dict[str, Any]]:
        groups: dict[Any, dict[str, Any]] = {}
        for value in {key(r) for r in delivered} | {key(rows[a.order]) for a in sent}:
            ds = [r for r in delivered if key(r) == value]
            ps = [r for r in ds if r.promise]
            groups[value] = {"deliveries": len(ds), "with_promise": len(ps),
                             "on_time_rate": _rate(sum(_late(r) == 0 for r in ps), len(ps)),
                             "csat": _csat([a for a in sent if key(rows[a.order]) == value])}
        return groups

    weeks: dict[str, dict[str, Any]] = {}
    for w in sorted({(r.delivered.date() - timedelta(days=r.delivered.weekday())) for r in delivered if r.delivered}
                    | {a.sent - timedelta(days=a.sent.weekday()) for a in sent}):
        ps = [r for r in promised if r.delivered and w <= r.delivered.date() < w + timedelta(days=7)]
        ss = [a for a in sent if w <= a.sent < w + timedelta(days=7)]
        weeks[w.isoformat()] = {"on_time_rate": _rate(sum(_late(r) == 0 for r in ps), len(ps)),
                                "with_promise": len(ps), "csat": _csat(ss), "nps": _nps(ss)}
    answered = [a for a in sent if a.answered]
    return {
        "on_time": {"delivered": len(delivered), "with_promise": len(promised), "on_time": len(on_time),
                    "early": sum(1 for r in on_time if r.promise and r.delivered
                                 and r.delivered.date() < r.promise[0]),
                    "rate": _rate(len(on_time), len(promised)),
                    "mean_days_late": round(sum(_late(r) for r in late) / len(late), 2) if len(late) >= 5 else None},
        "csat": _csat(sent), "nps": _nps(sent),
        "response_rate": {"sent": len(sent), "answered": len(answered), "rate": _rate(len(answered), len(sent))},
        "by_punctuality": [{"bucket": b, "orders": sum(_bucket(r) == b for r in delivered),
                            "csat": _csat([a for a in sent if _bucket(rows[a.order]) == b]),
                            "nps": _nps([a for a in sent if _bucket(rows[a.order]) == b])}
                           for b in ("on_time", "1_day_late", "2_3_days_late", "4_plus_days_late")],
        "repeat_purchase": repeat,
        "by_destination": by(lambda r: (r.country, ZONES[r.country])),
        "by_carrier": by(lambda r: r.carrier),
        "weekly": weeks,
        "comments": [a.comment for a in sorted(answered, key=lambda a: -a.order - 24 * a.sent.toordinal())
                     if a.comment],
    }
