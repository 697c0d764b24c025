"""The shopper's delay notice: one e-mail per order and risk kind, in the order's language, in the shop's daytime,
optionally with a single-use discount code created for that order.

Sent exactly once as the surveys are (a claim on the database clock, committed before any network call), to no
address on the shop's suppression list, with an unsubscribe link. The discount code is named after the notice, so
creating it again after a crash finds it taken and keeps it: one code however often the job runs.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, render_template
from itsdangerous import BadSignature, URLSafeTimedSerializer

from cxplugin import i18n, mail
from cxplugin.extensions import db
from cxplugin.logs import log
from cxplugin.models import DelayNotice, Order, OrderRisk, Shop, Suppression
from cxplugin.models.types import utcnow
from cxplugin.privacy import email_hash
from cxplugin.risk import rules
from cxplugin.shopify.admin_api import AdminApiError, call
from cxplugin.shopify.client import signing_secrets
from cxplugin.shops import settings as shop_settings
from cxplugin.surveys import answers
from cxplugin.surveys.rules import into_send_window
from cxplugin.surveys.scheduling import clock_time
from cxplugin.surveys.sending import MAIL_POLICY, STALE_CLAIM, database_now, mail_failure, one_line

MAX_ATTEMPTS = 8
UNSUBSCRIBE_TOKEN_DAYS = 365

DISCOUNT_CREATE = """
mutation CreateDelayDiscount($discount: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $discount) {
    codeDiscountNode { id }
    userErrors { field message code }
  }
}
"""


@dataclass(frozen=True)
class Outcome:
    notice_id: int
    result: str  # sent, skipped:<reason>, retry, not_due


def plan(shop: Shop, order: Order, kind: str, new_expected: date | None, now: datetime) -> DelayNotice | None:
    """Plan the notice for a new risk when the merchant sends notices for that kind; at most one per kind."""
    settings = shop_settings.current(shop)["risk"]
    if not settings["notices"].get(kind, False):
        return None
    existing = db.session.scalar(sa.select(DelayNotice).where(DelayNotice.order_id == order.id,
                                                              DelayNotice.kind == kind))
    if existing is not None:
        return existing
    notice = DelayNotice(shop_id=shop.id, order_id=order.id, kind=kind, status="planned", new_expected=new_expected,
                         attempts=0)
    try:
        with db.session.begin_nested():  # a concurrent check planned it first: keep theirs
            db.session.add(notice)
    except sa.exc.IntegrityError:
        return db.session.scalar(sa.select(DelayNotice).where(DelayNotice.order_id == order.id,
                                                              DelayNotice.kind == kind))
    return notice


def due_ids(now: datetime, limit: int = 1000) -> list[int]:
    """Planned notices (and sending ones whose claim went stale) of installed shops."""
    installed = sa.select(Shop.id).where(Shop.installed_at.is_not(None), Shop.uninstalled_at.is_(None))
    ready = sa.or_(DelayNotice.status == "planned",
                   sa.and_(DelayNotice.status == "sending", DelayNotice.claimed_at < now - STALE_CLAIM))
    return list(db.session.scalars(sa.select(DelayNotice.id).where(ready, DelayNotice.shop_id.in_(installed))
                                   .order_by(DelayNotice.id).limit(limit)))


def _in_daytime(shop: Shop, now: datetime) -> bool:
    window = shop_settings.current(shop)["surveys"]["send_window"]
    return into_send_window(now, shop.timezone, clock_time(window["start"]), clock_time(window["end"])) <= now


def _claim(notice_id: int) -> bool:
    claimed_at = database_now()
    ready = sa.or_(DelayNotice.status == "planned",
                   sa.and_(DelayNotice.status == "sending", DelayNotice.claimed_at < claimed_at - STALE_CLAIM))
    result = db.session.execute(sa.update(DelayNotice).where(DelayNotice.id == notice_id, ready)
                                .values(status="sending", claimed_at=claimed_at))
    db.session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _skip(notice: DelayNotice, reason: str) -> Outcome:
    notice.status, notice.skip_reason, notice.claimed_at = "skipped", reason, None
    db.session.commit()
    return Outcome(notice.id, f"skipped:{reason}")


def _retry(notice_id: int, error: str) -> Outcome:
    notice = db.session.get_one(DelayNotice, notice_id)
    notice.attempts += 1
    notice.last_error = error[:2000]
    notice.claimed_at = None
    if notice.attempts >= MAX_ATTEMPTS:
        notice.status, notice.skip_reason = "skipped", "failed"
        db.session.commit()
        return Outcome(notice_id, "skipped:failed")
    notice.status = "planned"
    db.session.commit()
    log("delay notice held back", 30, notice_id=notice_id, error=notice.last_error, attempts=notice.attempts)
    return Outcome(notice_id, "retry")


def _why_not(shop: Shop, order: Order, notice: DelayNotice) -> str | None:
    """Why the notice is no longer wanted, if it is not."""
    if not shop.is_installed:
        return "uninstalled"
    if order.redacted_at is not None or not order.email:
        return "no_address"
    if order.cancelled_at is not None:
        return "cancelled"
    if db.session.scalar(sa.select(Suppression.id).where(
            Suppression.shop_id == shop.id, Suppression.email_hash == email_hash(shop.id, order.email))) is not None:
        return "unsubscribed"
    risk = db.session.scalar(sa.select(OrderRisk).where(OrderRisk.order_id == order.id))
    if risk is None or risk.state not in rules.KINDS:
        return "no_longer_at_risk"  # back on track, delivered, or its shipment cancelled since it was planned
    if risk.state != notice.kind:
        return "risk_changed"  # the order's present risk has its own notice: one mail, about what holds now
    if not shop_settings.current(shop)["risk"]["notices"].get(notice.kind, False):
        return "switched_off"
    return None


def send(notice_id: int, now: datetime) -> Outcome:
    """Send the notice once: claim it, create its discount code if the merchant gives one (once), then mail."""
    notice = db.session.get(DelayNotice, notice_id)
    if notice is None:
        return Outcome(notice_id, "skipped:gone")
    shop = db.session.get_one(Shop, notice.shop_id)
    if not _in_daytime(shop, now):
        return Outcome(notice_id, "not_due")
    if not _claim(notice_id):
        db.session.rollback()
        return Outcome(notice_id, "not_due")
    notice = db.session.get_one(DelayNotice, notice_id)
    order = db.session.get_one(Order, notice.order_id)
    reason = _why_not(shop, order, notice)
    if reason:
        return _skip(notice, reason)
    risk = db.session.scalar(sa.select(OrderRisk).where(OrderRisk.order_id == order.id))
    if risk is not None and risk.new_expected:
        notice.new_expected = risk.new_expected
    settings = shop_settings.current(shop)
    percent = settings["risk"]["discount_percent"]
    if percent and notice.discount_code is None:
        code = discount_code_for(notice)
        db.session.commit()  # no transaction open over the Admin API call
        try:
            created = create_discount(shop, order, code, percent, now)
        except Exception as exc:  # the mail waits for its code: no notice claims a code it does not have
            db.session.rollback()
            return _retry(notice_id, f"discount: {type(exc).__name__}: {exc}")
        notice = db.session.get_one(DelayNotice, notice_id)
        notice.discount_code, notice.discount_id = code, created
        db.session.commit()
    try:
        message = build_message(shop, order, notice, settings)
        db.session.commit()
        mail.send(message, shop.id)
    except Exception as exc:
        db.session.rollback()
        failure = mail_failure(exc)
        if failure.kind == "bounced":
            answers.suppress_address(shop.id, email_hash(shop.id, order.email or ""), "bounced")
            return _skip(db.session.get_one(DelayNotice, notice_id), "bounced")
        return _retry(notice_id, failure.error)
    db.session.execute(sa.update(DelayNotice).where(DelayNotice.id == notice_id).values(
        status="sent", sent_at=now, claimed_at=None, message_id=str(message["Message-ID"]), last_error=None))
    db.session.commit()
    return Outcome(notice_id, "sent")


def send_due(now: datetime) -> dict[str, int]:
    """Send every due notice now (the periodic job); each is claimed, so two runs at once send each once."""
    sent = 0
    for notice_id in due_ids(now):
        if send(notice_id, now).result == "sent":
            sent += 1
    return {"sent": sent}


# ---- the discount code -------------------------------------------------------------------------------------

def discount_code_for(notice: DelayNotice) -> str:
    """The notice's code: the same every time it is asked for, and not guessable from the order."""
    digest = hmac.new(signing_secrets()[0].encode(), f"discount:{notice.shop_id}:{notice.id}".encode(),
                      hashlib.sha256).hexdigest()
    return f"SORRY-{digest[:10].upper()}"


def create_discount(shop: Shop, order: Order, code: str, percent: int, now: datetime) -> str | None:
    """Create the single-use code in the shop; when it exists already (an earlier run created it), keep it."""
    variables = {"discount": {
        "title": f"Delay apology {order.name or order.shopify_id}", "code": code,
        "startsAt": now.isoformat(), "endsAt": (now + timedelta(days=90)).isoformat(),
        "usageLimit": 1, "appliesOncePerCustomer": True,
        "customerSelection": {"all": True},
        "customerGets": {"value": {"percentage": percent / 100}, "items": {"all": True}},
    }}
    data = call(shop.id, DISCOUNT_CREATE, variables)
    payload = data["discountCodeBasicCreate"] or {}
    errors = payload.get("userErrors") or []
    if errors:
        if any(e.get("code") == "TAKEN" or "taken" in (e.get("message") or "").lower() for e in errors):
            return None  # created by an earlier run that did not live to record it
        raise AdminApiError("user_errors", "; ".join(e.get("message") or "" for e in errors))
    node = payload.get("codeDiscountNode") or {}
    return str(node.get("id")) if node.get("id") else None


# ---- the e-mail ----------------------------------------------------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(list(reversed(signing_secrets())), salt="cx-notice-unsubscribe")


def unsubscribe_token(notice: DelayNotice) -> str:
    return _serializer().dumps({"n": notice.id})


def notice_from_token(token: str) -> DelayNotice | None:
    """The notice a signed unsubscribe link points at; None for a tampered, unknown or expired link."""
    try:
        data = _serializer().loads(token, max_age=UNSUBSCRIBE_TOKEN_DAYS * 86400)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("n"), int):
        return None
    return db.session.get(DelayNotice, data["n"])


def build_message(shop: Shop, order: Order, notice: DelayNotice, settings: dict[str, Any]) -> EmailMessage:
    locale = i18n.negotiate(order.customer_locale, shop.primary_locale)
    shop_name = shop.name or shop.domain
    surveys = settings["surveys"]

    def t(key: str, **values: Any) -> str:
        return i18n.phrase(locale, "delay_notice", key, **{k: str(v) for k, v in values.items()})

    new_date = (i18n.format_dates(notice.new_expected, notice.new_expected, locale, order.destination_country)
                if notice.new_expected else None)
    unsubscribe_url = f"{current_app.config['APP_URL']}/u/notice/{unsubscribe_token(notice)}"
    context = {
        "t": t, "locale": locale, "dir": i18n.direction(locale), "shop_name": shop_name,
        "brand_color": surveys["brand_color"], "logo_url": surveys["logo_url"], "first_name": order.first_name,
        "order_name": order.name or str(order.shopify_id), "what": t(f"what_{notice.kind}"), "new_date": new_date,
        "apology": settings["risk"]["apology"] or t("apology", shop=shop_name),
        "discount_code": notice.discount_code, "discount_percent": settings["risk"]["discount_percent"],
        "unsubscribe_url": unsubscribe_url,
    }
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = one_line(t("subject", order=context["order_name"], shop=shop_name))
    message["From"] = formataddr((one_line(surveys["sender_name"] or shop_name), current_app.config["CX_MAIL_FROM"]))
    message["To"] = order.email or ""
    reply_to = surveys["reply_to"] or shop.email
    if reply_to:
        message["Reply-To"] = reply_to
    host = urlsplit(current_app.config["APP_URL"]).hostname or "cxplugin"
    message["Message-ID"] = f"<delay-{notice.id}@{host}>"  # the same on a resend after a crash
    message["Date"] = format_datetime(utcnow())
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(render_template("email/delay_notice.txt", **context))
    message.add_alternative(render_template("email/delay_notice.html", **context), subtype="html")
    message["Content-Language"] = locale
    return message
