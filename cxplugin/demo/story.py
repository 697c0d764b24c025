"""Ninety days of a believable shop, as the webhooks and shopper clicks that would tell it. PURE: seeded randomness,
``now`` an argument; no I/O.

Most parcels arrive on time; some are late, and the later they are the less happy the shopper. A few are on their
way now and running late, a few were returned. Shoppers write in their own languages.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

# (country, region, zip, weight, typical transit days, carrier, locale, currency city)
DESTINATIONS = [
    ("NL", "NH", "1012 AB", 40, 1.2, "PostNL", "nl", "Amsterdam"),
    ("NL", "ZH", "3011 AA", 14, 1.4, "PostNL", "nl", "Rotterdam"),
    ("BE", "VAN", "2000", 10, 2.2, "bpost", "nl", "Antwerpen"),
    ("DE", "BE", "10115", 12, 2.6, "DHL", "de", "Berlin"),
    ("FR", "IDF", "75001", 8, 3.0, "Colissimo", "fr", "Paris"),
    ("ES", "MD", "28001", 5, 4.2, "DHL", "es", "Madrid"),
    ("IL", "TA", "6100000", 3, 6.5, "UPS", "he", "Tel Aviv"),
    ("AE", "DU", "00000", 3, 5.5, "UPS", "ar", "Dubai"),
    ("PL", "MZ", "00-001", 5, 3.4, "DPD", "pl", "Warszawa"),
]
FIRST_NAMES = ["Sam", "Noor", "Lotte", "Jonas", "Camille", "Lucía", "Yael", "Omar", "Zofia", "Daan", "Emma", "Mila"]
PRODUCTS = [("Linen shirt", 5_100_001, 59.0), ("Wool scarf", 5_100_002, 39.0), ("Canvas tote", 5_100_003, 24.5),
            ("Ceramic mug", 5_100_004, 18.0), ("Leather wallet", 5_100_005, 72.0)]
COMMENTS = {
    "en": {"happy": ["Arrived a day early, lovely quality.", "Exactly as promised, thank you!"],
           "late": ["It came three days after the date you gave me.", "Late, and nobody told me."]},
    "nl": {"happy": ["Snel geleverd en mooi verpakt.", "Precies op tijd, top!"],
           "late": ["Het pakket kwam veel later dan beloofd.", "Te laat, en geen bericht van jullie."]},
    "de": {"happy": ["Schnelle Lieferung, alles bestens.", "Pünktlich und gut verpackt."],
           "late": ["Die Lieferung kam zwei Tage zu spät.", "Zu spät und keine Information."]},
    "fr": {"happy": ["Livré à temps, merci !", "Très belle qualité, livraison rapide."],
           "late": ["Colis arrivé avec trois jours de retard.", "En retard et sans nouvelles."]},
    "es": {"happy": ["Llegó antes de lo previsto.", "Todo perfecto, gracias."],
           "late": ["El pedido llegó tarde.", "Tardó mucho más de lo prometido."]},
    "he": {"happy": ["הגיע מהר ובדיוק כמו שהובטח.", "איכות מעולה, תודה!"],
           "late": ["החבילה הגיעה באיחור של שלושה ימים.", "איחור, ואף אחד לא עדכן אותי."]},
    "ar": {"happy": ["وصل الطلب في الموعد، شكراً!", "جودة ممتازة وتوصيل سريع."],
           "late": ["وصل الطلب متأخراً ثلاثة أيام.", "تأخر الطلب ولم يخبرني أحد."]},
    "pl": {"happy": ["Szybka dostawa, polecam.", "Wszystko na czas, dziękuję."],
           "late": ["Paczka przyszła z dużym opóźnieniem.", "Spóźnione i bez informacji."]},
}


@dataclass(frozen=True)
class Step:
    """One thing that happens at ``at``: a webhook from Shopify, or a shopper answering a survey."""

    at: datetime
    kind: str  # "webhook" or "answer"
    topic: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    order_id: int = 0
    csat: int | None = None
    nps: int | None = None
    comment: str | None = None


@dataclass(frozen=True)
class Story:
    steps: list[Step]
    orders: int


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def story(now: datetime, orders: int = 280, days: int = 90, seed: int = 11) -> Story:
    """The shop's last ``days`` days up to ``now``: ``orders`` orders with their fulfilments, carrier scans, survey
    answers and a few returns, in time order."""
    rng = random.Random(seed)
    steps: list[Step] = []
    start = now - timedelta(days=days)
    weights = [d[3] for d in DESTINATIONS]
    # The catalogue first, as Shopify tells the app of a product when the merchant edits it: the promise then
    # knows each product's tags without asking Shopify (which the demo cannot reach).
    edited = start - timedelta(days=1)
    for title, product_id, _ in PRODUCTS:
        steps.append(Step(edited, "webhook", "products/update", {
            "id": product_id, "title": title, "tags": "demo, in-stock", "product_type": "Accessories",
            "updated_at": _iso(edited)}))
    for n in range(orders):
        country, region, zip_code, _, typical, carrier, locale, city = rng.choices(DESTINATIONS, weights)[0]
        placed = start + timedelta(seconds=rng.uniform(0, (days - 0.2) * 86400))
        order_id = 9_100_000 + n
        customer_id = 8_100_000 + rng.randrange(0, int(orders * 0.85))  # some customers come back
        title, product_id, price = rng.choice(PRODUCTS)
        name = f"#{3000 + n}"
        first = rng.choice(FIRST_NAMES)
        steps.append(Step(placed, "webhook", "orders/create", {
            "id": order_id, "name": name, "created_at": _iso(placed), "updated_at": _iso(placed),
            "email": f"shopper{customer_id}@example.com", "customer_locale": locale, "currency": "EUR",
            "customer": {"id": customer_id, "first_name": first, "email": f"shopper{customer_id}@example.com"},
            "shipping_address": {"first_name": first, "city": city, "province_code": region, "country_code": country,
                                 "zip": zip_code},
            "line_items": [{"id": order_id * 10 + 1, "title": title, "quantity": 1, "product_id": product_id,
                            "price": f"{price:.2f}"}],
            "financial_status": "paid", "note_attributes": [],
        }))
        processing_hours = rng.choice([3, 20, 26, 44]) + rng.uniform(0, 4)
        shipped = placed + timedelta(hours=processing_hours)
        if shipped.weekday() >= 5:
            shipped += timedelta(days=7 - shipped.weekday(), hours=2)
        if shipped >= now:
            continue  # still being packed
        fulfillment_id = 9_200_000 + n
        steps.append(Step(shipped, "webhook", "fulfillments/create", {
            "id": fulfillment_id, "order_id": order_id, "name": f"{name}.1", "status": "success",
            "shipment_status": None, "tracking_company": carrier, "tracking_number": f"CX{n:09d}",
            "created_at": _iso(shipped), "updated_at": _iso(shipped),
            "line_items": [{"id": order_id * 10 + 1, "quantity": 1, "product_id": product_id}],
        }))
        late_kind = rng.random()
        transit = typical * rng.uniform(0.8, 1.25)
        delay = 0.0
        if late_kind < 0.07:
            delay = rng.uniform(3, 6)  # lost in a depot for a while
        elif late_kind < 0.13:
            delay = rng.uniform(1.6, 3)
        elif late_kind < 0.2:
            delay = rng.uniform(0.6, 1.6)
        if now - placed < timedelta(days=12) and rng.random() < 0.12:
            delay = rng.uniform(6, 10)  # stuck right now: the orders at risk the merchant should see today
        transit += delay
        delivered = shipped + timedelta(days=transit)
        if delivered.weekday() == 6:
            delivered += timedelta(days=1)
        scan = shipped + timedelta(hours=rng.uniform(6, 14))
        event_id = 9_300_000 + n * 10
        if scan < now:
            steps.append(_event(scan, event_id, fulfillment_id, order_id, "in_transit", city, country))
        if delivered >= now:
            continue  # on its way: some of these are running late right now
        if rng.random() < 0.3:
            steps.append(_event(delivered - timedelta(hours=5), event_id + 1, fulfillment_id, order_id,
                                "out_for_delivery", city, country))
        steps.append(_event(delivered, event_id + 2, fulfillment_id, order_id, "delivered", city, country))
        lateness = delay
        # The survey goes out two days after delivery, in the shop's daytime; some answer that evening.
        answered_at = delivered + timedelta(days=3, hours=rng.uniform(2, 20))
        if answered_at < now and rng.random() < 0.55:
            steps.append(_answer(rng, answered_at, order_id, locale, lateness))
        if rng.random() < (0.22 if lateness > 1 else 0.06):
            reason = "arrived-late" if lateness > 1 and rng.random() < 0.6 else rng.choice(
                ["size-too-small", "not-as-described", "changed-mind", "damaged"])
            requested = delivered + timedelta(days=rng.uniform(1, 10))
            if requested < now:
                steps.append(Step(requested, "webhook", "returns/request", {
                    "id": 9_400_000 + n, "admin_graphql_api_id": f"gid://shopify/Return/{9_400_000 + n}",
                    "order": {"id": order_id, "admin_graphql_api_id": f"gid://shopify/Order/{order_id}"},
                    "status": "requested", "created_at": _iso(requested), "updated_at": _iso(requested),
                    "return_line_items": [{"id": 9_500_000 + n, "quantity": 1, "return_reason": reason,
                                           "return_reason_definition": {"handle": reason},
                                           "fulfillment_line_item": {"line_item": {"id": order_id * 10 + 1}}}],
                }, order_id=order_id))
    steps.sort(key=lambda step: step.at)
    return Story(steps, orders)


def _event(at: datetime, event_id: int, fulfillment_id: int, order_id: int, status: str, city: str,
           country: str) -> Step:
    return Step(at, "webhook", "fulfillment_events/create", {
        "id": event_id, "fulfillment_id": fulfillment_id, "order_id": order_id, "status": status,
        "happened_at": _iso(at), "created_at": _iso(at), "updated_at": _iso(at), "city": city, "country": country,
        "message": {"in_transit": "Sorted at the hub", "out_for_delivery": "Out for delivery",
                    "delivered": "Delivered"}[status],
    })


def _answer(rng: random.Random, at: datetime, order_id: int, locale: str, lateness: float) -> Step:
    """Satisfaction falls with each day late (the shape the scores page should show)."""
    if lateness <= 0:
        csat = rng.choices([5, 4, 3, 2], [60, 28, 9, 3])[0]
    elif lateness <= 1.5:
        csat = rng.choices([5, 4, 3, 2, 1], [25, 30, 25, 12, 8])[0]
    else:
        csat = rng.choices([5, 4, 3, 2, 1], [8, 15, 25, 27, 25])[0]
    nps = max(0, min(10, 2 * csat + rng.choice([-1, 0, 0, 1]) - (1 if csat < 3 else 0)))
    comment = None
    mood = "happy" if csat >= 4 else "late" if lateness > 0 else None
    if mood and rng.random() < 0.45:
        comment = rng.choice(COMMENTS.get(locale, COMMENTS["en"])[mood])
    return Step(at, "answer", order_id=order_id, csat=csat, nps=nps, comment=comment)


def by_kind(steps: list[Step]) -> Iterator[tuple[str, int]]:
    counts: dict[str, int] = {}
    for step in steps:
        key = step.topic or step.kind
        counts[key] = counts.get(key, 0) + 1
    yield from sorted(counts.items())
