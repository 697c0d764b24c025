"""Seed the demo shop by playing its story through the app's own front doors: signed webhooks into /webhooks,
the worker's processing, the survey mail, and the shoppers' clicks on the survey page. Nothing is written behind
the app's back; only the clock is replayed (each step runs at the moment it happened).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from cxplugin.demo import DEMO_SHOP
from cxplugin.demo.story import Step, story
from cxplugin.extensions import db
from cxplugin.models import Order, Shop, Survey, WebhookEvent
from cxplugin.models.types import replayed_clock, utcnow
from cxplugin.promise import learning
from cxplugin.risk import checking as risk_checking
from cxplugin.risk import notices
from cxplugin.shopify import signatures
from cxplugin.shops import settings as shop_settings
from cxplugin.shops.lifecycle import add_shop, find_shop
from cxplugin.surveys import links, sending
from cxplugin.webhooks import processing

Progress = Callable[[str], None]

# A shop that promises tightly: next day in the Netherlands, a few days in Europe, a week elsewhere.
DEMO_SETTINGS = {
    "promise": {
        "cutoff": "15:00", "processing_days": {"min": 0, "max": 1},
        "zones": [{"name": "Netherlands", "regions": ["NL"], "transit_days": {"min": 1, "max": 2}, "methods": {}},
                  {"name": "Europe", "regions": ["BE", "DE", "FR", "ES", "PL"], "transit_days": {"min": 2, "max": 4},
                   "methods": {}}],
        "default_zone": {"name": "World", "regions": [], "transit_days": {"min": 4, "max": 8}, "methods": {}},
        "mode": "suggest",
    },
    "surveys": {"alert_email": "owner@demo-shop.example"},
}


def seed(progress: Progress | None = None, orders: int = 280) -> Shop:
    """Install the demo shop and, the first time, play its last ninety days (idempotent: a seeded shop is kept)."""
    say = progress or (lambda _: None)
    shop = find_shop(DEMO_SHOP)
    if shop is not None and db.session.scalar(sa.select(sa.func.count()).select_from(Order)
                                              .where(Order.shop_id == shop.id)):
        say("The demo shop is already seeded; its data is kept.")
        return shop
    shop = add_shop(DEMO_SHOP, token="demo-offline-token", timezone="Europe/Amsterdam", country="NL", locale="nl")
    shop.name, shop.email, shop.currency = "Demo Shop", "owner@demo-shop.example", "EUR"
    db.session.commit()
    now = utcnow()
    told = story(now, orders=orders)
    with replayed_clock(now - timedelta(days=91)):
        shop_settings.update(shop, DEMO_SETTINGS)
    client = current_app.test_client()
    day: datetime | None = None
    played = 0
    for step in told.steps:
        if day is None or step.at.date() != day.date():
            if day is not None:
                _end_of_day(day)
            day = step.at
        with replayed_clock(step.at):
            if step.kind == "webhook":
                _post_webhook(client, step)
                _process_new_events()
            else:
                _answer(client, step)
        played += 1
        if played % 250 == 0:
            say(f"  {played} of {len(told.steps)} events played ({step.at:%d %b})")
    if day is not None:
        _end_of_day(day)
    _end_of_day(now)
    say(f"  {len(told.steps)} events played: {told.orders} orders over 90 days.")
    model = learning.rebuild(shop, now)
    say(f"  learned the promise from {model.deliveries} deliveries ({len(model.routes)} routes).")
    risky = risk_checking.check_shop(shop.id, now)  # with the learned transit, as the worker will every 15 min
    say(f"  judged the risk of {risky['checked']} open orders.")
    return shop


def _post_webhook(client: object, step: Step) -> None:
    """Sign and send the webhook as Shopify does; the app records it and answers 200."""
    body = json.dumps(step.payload).encode()
    secret = current_app.config["SHOPIFY_API_SECRET"]
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": step.topic,
        "X-Shopify-Hmac-Sha256": signatures.webhook_hmac(body, secret),
        "X-Shopify-Shop-Domain": DEMO_SHOP,
        "X-Shopify-API-Version": current_app.config["SHOPIFY_API_VERSION"],
        "X-Shopify-Webhook-Id": hashlib.sha256(body).hexdigest()[:32],
        "X-Shopify-Event-Id": hashlib.sha256(step.topic.encode() + body).hexdigest()[:32],
        "X-Shopify-Triggered-At": step.at.strftime("%Y-%m-%dT%H:%M:%S.%f000Z"),
    }
    response = client.post("/webhooks", data=body, headers=headers)  # type: ignore[attr-defined]
    if response.status_code != 200:
        raise RuntimeError(f"the app refused the demo's {step.topic} webhook: {response.status_code} "
                           f"{response.get_data(as_text=True)[:200]}")


def _process_new_events() -> None:
    """What the worker does with recorded events, here and now."""
    ids = db.session.scalars(sa.select(WebhookEvent.id).where(WebhookEvent.shop_domain == DEMO_SHOP,
                                                              WebhookEvent.status == "pending")
                             .order_by(WebhookEvent.id)).all()
    for event_id in ids:
        processing.process_event(event_id)


def _end_of_day(day: datetime) -> None:
    """The worker's periodic jobs through the day: judge open orders' risk, send the delay notices and surveys that
    came due (in the shop's daytime)."""
    evening = day.replace(hour=17, minute=0, second=0, microsecond=0)
    with replayed_clock(max(evening, day)):
        shop = find_shop(DEMO_SHOP)
        if shop is not None:
            risk_checking.check_shop(shop.id, utcnow())
        notices.send_due(utcnow())
        for survey_id in sending.due_survey_ids(utcnow()):
            sending.send(survey_id, utcnow())


def _answer(client: object, step: Step) -> None:
    """The shopper clicks a score in the survey mail; the survey page confirms it, then takes NPS and a comment."""
    survey = db.session.scalar(sa.select(Survey).join(Order, Survey.order_id == Order.id)
                               .where(Order.shopify_id == step.order_id))
    if survey is None or survey.sent_at is None:
        return  # skipped (too soon after another survey to the same shopper, say) or not sent yet
    path = f"/s/{links.answer_token(survey, 'csat')}"
    client.get(f"{path}?score={step.csat}")  # type: ignore[attr-defined]
    form = {"csat": str(step.csat)}
    if step.nps is not None and survey.question == "csat_nps":
        form["nps"] = str(step.nps)
    if step.comment:
        form["comment"] = step.comment
    client.post(path, data=form)  # type: ignore[attr-defined]
