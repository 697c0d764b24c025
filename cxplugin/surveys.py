"""Post-delivery surveys: schedule, render, send once, record answers, suppress, alert the merchant."""

from __future__ import annotations

import email.policy
import hashlib
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
from flask import current_app, render_template
from itsdangerous import BadSignature, URLSafeTimedSerializer

from cxplugin import i18n, mail, punctuality, shop_settings
from cxplugin.extensions import db
from cxplugin.logs import log
from cxplugin.models import Order, Shipment, Shop, Suppression, Survey, SurveyStatus
from cxplugin.models.types import utcnow
from cxplugin.survey_rules import (
    SurveyFacts,
    SurveyPolicy,
    backoff_seconds,
    into_send_window,
    is_detractor,
    skip_reason,
)

# Long header values (the unsubscribe URL) must stay plain ASCII on one line, not RFC 2047 words
# that mail clients would not recognise as a URL; SMTP allows 998 characters a line.
MAIL_POLICY = email.policy.SMTP.clone(max_line_length=998)

# A claim older than this belongs to a worker that died (see ``send``).
STALE_CLAIM = timedelta(minutes=10)
ALERT_TIMEOUT_SECONDS = 5
UNSUBSCRIBE_TOKEN_DAYS = 365


def email_hash(shop_id: int, email: str) -> str:
    return hashlib.sha256(f"{shop_id}:{email.strip().lower()}".encode()).hexdigest()


def _hhmm(value: str) -> time:
    hours, minutes = (int(p) for p in value.split(":"))
    return time(hours, minutes)


# ---- scheduling -------------------------------------------------------------------------------

def plan(shop: Shop, order: Order, now: datetime) -> Survey | None:
    """Schedule (or reschedule, or skip) the order's survey from what we know of its delivery."""
    settings = shop_settings.current(shop)["surveys"]
    if not settings["enabled"]:
        return None
    survey = db.session.scalar(sa.select(Survey).where(Survey.order_id == order.id))
    if survey is not None and survey.status not in (SurveyStatus.SCHEDULED, SurveyStatus.SKIPPED):
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
    due = into_send_window(due, shop.timezone, _hhmm(window["start"]), _hhmm(window["end"]))
    if survey is None:
        survey = Survey(shop_id=shop.id, order_id=order.id, question=settings["question"])
        db.session.add(survey)
    survey.basis, survey.due_at = basis, due
    survey.email_hash = email_hash(shop.id, order.email) if order.email else None
    reason = skip_reason(_facts(shop, order, survey, arrived_at), _policy(settings), now)
    survey.status = SurveyStatus.SKIPPED if reason else SurveyStatus.SCHEDULED
    survey.skip_reason = reason
    return survey


def _policy(settings: dict[str, Any]) -> SurveyPolicy:
    return SurveyPolicy(throttle_days=settings["throttle_days"], max_age_days=settings["max_age_days"])


def _facts(shop: Shop, order: Order, survey: Survey, arrived_at: datetime) -> SurveyFacts:
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


# ---- sending ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SendOutcome:
    survey_id: int
    result: str  # sent, reminded, skipped:<reason>, held:<why>, not_due, retry
    retry_in: float | None = None


def due_survey_ids(now: datetime, limit: int = 5000, extra: sa.ColumnElement[bool] | None = None) -> list[int]:
    """Surveys to send now: due ones, due reminders, and claims whose worker died."""
    installed = sa.select(Shop.id).where(Shop.installed_at.is_not(None), Shop.uninstalled_at.is_(None))
    due = sa.or_(
        sa.and_(Survey.status == SurveyStatus.SCHEDULED, Survey.due_at <= now),
        sa.and_(Survey.status == SurveyStatus.SENDING, Survey.claimed_at < now - STALE_CLAIM),
        sa.and_(Survey.status == SurveyStatus.SENT, Survey.reminder_due_at <= now, Survey.reminder_sent_at.is_(None)),
    )
    query = sa.select(Survey.id).where(due, Survey.shop_id.in_(installed))
    if extra is not None:
        query = query.where(extra)
    return list(db.session.scalars(query.order_by(Survey.due_at).limit(limit)))


def take_due_for_queue(now: datetime, limit: int = 5000) -> list[int]:
    """Due surveys not queued within STALE_CLAIM, marked as queued now, so each gets one job."""
    not_queued = sa.or_(Survey.queued_at.is_(None), Survey.queued_at <= now - STALE_CLAIM)
    ids = due_survey_ids(now, limit, extra=not_queued)
    if ids:
        db.session.execute(sa.update(Survey).where(Survey.id.in_(ids)).values(queued_at=now))
    db.session.commit()
    return ids


def send(survey_id: int, now: datetime) -> SendOutcome:
    """Send the survey (or its reminder) once.

    Exactly-once with SMTP has one window we cannot close: the server accepted the message and the
    worker died before writing the sent-record below. The claim (status SENDING, committed before the
    SMTP conversation) makes that case visible; after STALE_CLAIM the periodic job sends again with
    the same Message-ID, which mailbox providers use to drop the duplicate. A worker that dies after
    the sent-record is written (but before huey acknowledges the job) sends nothing more.
    """
    survey = db.session.get(Survey, survey_id)
    if survey is None:
        return SendOutcome(survey_id, "skipped:gone")
    reminder = survey.status == SurveyStatus.SENT
    claimed = _claim(survey, reminder, now)
    if not claimed:
        db.session.rollback()
        return SendOutcome(survey_id, "not_due")
    survey = db.session.get_one(Survey, survey_id)
    shop, order = db.session.get_one(Shop, survey.shop_id), survey.order
    settings = shop_settings.current(shop)["surveys"]

    # Re-check whether the survey is still wanted (the age was judged when it was scheduled).
    reason = None if reminder else skip_reason(_facts(shop, order, survey, arrived_at=now), _policy(settings), now)
    if reminder and (survey.status == SurveyStatus.ANSWERED or _is_suppressed(shop, survey)):
        reason = "answered_or_unsubscribed"
    if not shop.is_installed:
        reason = "uninstalled"
    if reason:
        _release(survey, skipped=reason, reminder=reminder)
        db.session.commit()
        return SendOutcome(survey_id, f"skipped:{reason}")
    if _sent_last_hour(shop, now) >= settings["hourly_cap"]:
        _release(survey, hold_until=now + timedelta(minutes=15), reminder=reminder)
        db.session.commit()
        return SendOutcome(survey_id, "held:hourly_cap")

    message = build_message(shop, order, survey, settings, reminder=reminder)
    try:
        mail.send(message, shop.id)
    except Exception as exc:
        db.session.rollback()
        survey = db.session.get_one(Survey, survey_id)
        survey.send_attempts += 1
        survey.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        delay = backoff_seconds(survey.send_attempts)
        _release(survey, hold_until=now + timedelta(seconds=delay), reminder=reminder)
        db.session.commit()
        log("survey mail failed", 30, shop=shop.domain, survey_id=survey_id, error=survey.last_error)
        return SendOutcome(survey_id, "retry", retry_in=delay)

    # The sent-record: written before the job is acknowledged.
    if reminder:
        survey.reminder_sent_at = now
    else:
        survey.status, survey.sent_at, survey.message_id = SurveyStatus.SENT, now, str(message["Message-ID"])
        if settings["reminder_days"]:
            window = settings["send_window"]
            survey.reminder_due_at = into_send_window(now + timedelta(days=settings["reminder_days"]), shop.timezone,
                                                      _hhmm(window["start"]), _hhmm(window["end"]))
    survey.claimed_at = None
    db.session.commit()
    return SendOutcome(survey_id, "reminded" if reminder else "sent")


def _claim(survey: Survey, reminder: bool, now: datetime) -> bool:
    """Take the survey for this worker; a concurrent worker finds it taken (or a dead one's claim stale)."""
    if reminder:
        ready = sa.and_(Survey.status == SurveyStatus.SENT, Survey.reminder_due_at <= now,
                        Survey.reminder_sent_at.is_(None),
                        sa.or_(Survey.claimed_at.is_(None), Survey.claimed_at < now - STALE_CLAIM))
        values: dict[str, Any] = {"claimed_at": now}
    else:
        ready = sa.or_(sa.and_(Survey.status == SurveyStatus.SCHEDULED, Survey.due_at <= now),
                       sa.and_(Survey.status == SurveyStatus.SENDING, Survey.claimed_at < now - STALE_CLAIM))
        values = {"status": SurveyStatus.SENDING, "claimed_at": now}
    result = db.session.execute(sa.update(Survey).where(Survey.id == survey.id, ready).values(**values))
    db.session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _release(survey: Survey, *, reminder: bool, skipped: str | None = None,
             hold_until: datetime | None = None) -> None:
    survey.claimed_at = None
    if reminder:
        if skipped:
            survey.reminder_due_at = None
        elif hold_until:
            survey.reminder_due_at = hold_until
        return
    if skipped:
        survey.status, survey.skip_reason = SurveyStatus.SKIPPED, skipped
    else:
        survey.status = SurveyStatus.SCHEDULED
        if hold_until:
            survey.due_at = hold_until


def _sent_last_hour(shop: Shop, now: datetime) -> int:
    since = now - timedelta(hours=1)
    return db.session.scalar(sa.select(sa.func.count()).select_from(Survey).where(
        Survey.shop_id == shop.id,
        sa.or_(Survey.sent_at >= since, Survey.reminder_sent_at >= since))) or 0


def _is_suppressed(shop: Shop, survey: Survey) -> bool:
    return survey.email_hash is not None and db.session.scalar(sa.select(Suppression.id).where(
        Suppression.shop_id == shop.id, Suppression.email_hash == survey.email_hash)) is not None


# ---- the message ------------------------------------------------------------------------------

def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SHOPIFY_API_SECRET"], salt=f"cx-{purpose}")


def answer_token(survey: Survey, question: str) -> str:
    """Signed, holds no personal data: the survey's id and which question the link answers."""
    return _serializer("survey").dumps({"s": survey.id, "q": question})


def unsubscribe_token(survey: Survey) -> str:
    return _serializer("unsubscribe").dumps({"s": survey.id})


class TokenError(Exception):
    def __init__(self, expired: bool) -> None:
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


def survey_from_token(token: str, purpose: str) -> tuple[Survey, dict[str, Any]]:
    """The survey a signed link points at. Raises TokenError for a tampered, unknown or expired link."""
    try:
        data, signed_at = _serializer(purpose).loads(token, return_timestamp=True)
    except BadSignature as exc:
        raise TokenError(expired=False) from exc
    if not isinstance(data, dict) or not isinstance(data.get("s"), int):
        raise TokenError(expired=False)
    survey = db.session.get(Survey, data["s"])
    if survey is None:
        raise TokenError(expired=True)  # the shop or the order is gone
    shop = db.session.get_one(Shop, survey.shop_id)
    days = UNSUBSCRIBE_TOKEN_DAYS if purpose == "unsubscribe" else shop_settings.current(shop)["surveys"]["token_days"]
    if utcnow() - signed_at > timedelta(days=days):
        raise TokenError(expired=True)
    return survey, data


def first_question(survey: Survey) -> str:
    return "nps" if survey.question == "nps" else "csat"


def score_links(survey: Survey, question: str) -> list[tuple[int, str]]:
    base = current_app.config["APP_URL"]
    token = answer_token(survey, question)
    scores = range(1, 6) if question == "csat" else range(0, 11)
    return [(score, f"{base}/s/{token}?score={score}") for score in scores]


def survey_locale(shop: Shop, order: Order) -> str:
    return i18n.negotiate(order.customer_locale, shop.primary_locale)


def build_message(shop: Shop, order: Order, survey: Survey, settings: dict[str, Any], *,
                  reminder: bool) -> EmailMessage:
    locale = survey_locale(shop, order)
    shop_name = shop.name or shop.domain

    def t(key: str, **values: Any) -> str:
        return i18n.phrase(locale, "survey", key, **{k: str(v) for k, v in values.items()})

    question = first_question(survey)
    unsubscribe_url = f"{current_app.config['APP_URL']}/u/{unsubscribe_token(survey)}"
    items = order.line_items or []
    context = {
        "t": t, "locale": locale, "dir": i18n.direction(locale), "shop_name": shop_name,
        "logo_url": settings["logo_url"], "brand_color": settings["brand_color"],
        "first_name": order.first_name, "item_title": items[0]["title"] if items else None,
        "more_items": max(len(items) - 1, 0), "question": question,
        "score_links": score_links(survey, question), "unsubscribe_url": unsubscribe_url, "reminder": reminder,
    }
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = t("reminder_subject" if reminder else "subject", shop=shop_name)
    message["From"] = formataddr((settings["sender_name"] or shop_name, current_app.config["CX_MAIL_FROM"]))
    message["To"] = order.email or ""
    reply_to = settings["reply_to"] or shop.email
    if reply_to:
        message["Reply-To"] = reply_to
    host = urlsplit(current_app.config["APP_URL"]).hostname or "cxplugin"
    # Stable per survey and mailing: a resend after a crash carries the same id (see ``send``).
    message["Message-ID"] = f"<survey-{survey.id}-{'reminder' if reminder else 'first'}@{host}>"
    message["Date"] = format_datetime(utcnow())
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(render_template("email/survey.txt", **context))
    message.add_alternative(render_template("email/survey.html", **context), subtype="html")
    message["Content-Language"] = locale  # after the content: set_content replaces Content-* headers
    return message


# ---- answers ----------------------------------------------------------------------------------

def record_score(survey: Survey, question: str, score: int, now: datetime) -> None:
    """Record (or change) a score; a repeated click with the same score changes nothing."""
    if getattr(survey, question) == score:
        return
    setattr(survey, question, score)
    survey.status = SurveyStatus.ANSWERED
    survey.answered_at = survey.answered_at or now
    if is_detractor(survey.csat, survey.nps) and survey.alert_state is None:
        survey.alert_state = "pending"


def record_comment(survey: Survey, comment: str, now: datetime) -> None:
    comment = comment.strip()[:2000]
    if not comment or comment == survey.comment:
        return
    survey.comment = comment
    survey.status = SurveyStatus.ANSWERED
    survey.answered_at = survey.answered_at or now
    survey.alert_state = "pending"  # a new comment is worth the merchant's eyes, even from a promoter


def unsubscribe(survey: Survey) -> None:
    """The address joins the shop's suppression list; pending mailings for it are dropped."""
    if survey.email_hash is None:
        return
    exists = db.session.scalar(sa.select(Suppression.id).where(Suppression.shop_id == survey.shop_id,
                                                              Suppression.email_hash == survey.email_hash))
    if exists is None:
        db.session.add(Suppression(shop_id=survey.shop_id, email_hash=survey.email_hash))
    db.session.execute(sa.update(Survey).where(
        Survey.shop_id == survey.shop_id, Survey.email_hash == survey.email_hash,
        Survey.status == SurveyStatus.SCHEDULED).values(status=SurveyStatus.SKIPPED, skip_reason="unsubscribed"))
    db.session.execute(sa.update(Survey).where(
        Survey.shop_id == survey.shop_id, Survey.email_hash == survey.email_hash,
        Survey.reminder_sent_at.is_(None)).values(reminder_due_at=None))


# ---- alerts -----------------------------------------------------------------------------------

def shops_with_pending_alerts() -> list[int]:
    return list(db.session.scalars(sa.select(Survey.shop_id).where(Survey.alert_state == "pending").distinct()))


def send_alerts(shop_id: int) -> int:
    """One batched alert (e-mail, and the webhook if set) with every answer that needs attention."""
    shop = db.session.get_one(Shop, shop_id)
    pending = list(db.session.scalars(sa.select(Survey).where(Survey.shop_id == shop_id,
                                                              Survey.alert_state == "pending")
                                      .order_by(Survey.answered_at)))
    if not pending or not shop.is_installed:
        return 0
    settings = shop_settings.current(shop)["surveys"]
    items = [{"order_name": s.order.name, "csat": s.csat, "nps": s.nps, "comment": s.comment,
              "detractor": is_detractor(s.csat, s.nps)} for s in pending]
    admin_url = f"https://admin.shopify.com/store/{shop.handle}/apps/{current_app.config['SHOPIFY_API_KEY']}"

    def t(key: str, **values: Any) -> str:
        return i18n.phrase("en", "alert", key, **{k: str(v) for k, v in values.items()})

    context = {"t": t, "shop_name": shop.name or shop.domain, "admin_url": admin_url, "items": items}
    recipient = settings["alert_email"] or shop.email
    if recipient:
        message = EmailMessage(policy=MAIL_POLICY)
        message["Subject"] = t("subject", count=len(items))
        message["From"] = formataddr(("cxplugin", current_app.config["CX_MAIL_FROM"]))
        message["To"] = recipient
        host = urlsplit(current_app.config["APP_URL"]).hostname or "cxplugin"
        message["Message-ID"] = f"<alert-{shop.id}-{pending[-1].id}-{len(items)}@{host}>"
        message.set_content(render_template("email/alert.txt", **context))
        message.add_alternative(render_template("email/alert.html", **context), subtype="html")
        mail.send(message, shop.id)
    if settings["alert_webhook_url"]:
        lines = [f"{t('subject', count=len(items))} ({shop.name or shop.domain})"]
        for item in items:
            scores = ", ".join(f"{k.upper()} {item[k]}" for k in ("csat", "nps") if item[k] is not None)
            comment = f" — “{item['comment']}”" if item["comment"] else ""
            lines.append(f"• {item['order_name'] or 'Order'}: {scores}{comment}")
        response = requests.post(settings["alert_webhook_url"], json={"text": "\n".join(lines)},
                                 timeout=ALERT_TIMEOUT_SECONDS)
        response.raise_for_status()
    for survey in pending:
        survey.alert_state = "sent"
    db.session.commit()
    return len(items)
