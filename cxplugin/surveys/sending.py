"""Send each due survey (and its reminder) once, with a claim that survives a dead worker; build the e-mail."""

from __future__ import annotations

import email.policy
import re
import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, render_template

from cxplugin import i18n, mail
from cxplugin.extensions import db
from cxplugin.logs import log
from cxplugin.models import Order, Shop, Suppression, Survey, SurveyStatus
from cxplugin.models.types import utcnow
from cxplugin.shops import settings as shop_settings
from cxplugin.surveys import answers, links
from cxplugin.surveys.rules import (
    backoff_seconds,
    into_send_window,
    skip_reason,
)
from cxplugin.surveys.scheduling import clock_time, facts, policy

# Long header values (the unsubscribe URL) must stay plain ASCII on one line, not RFC 2047 words
# that mail clients would not recognise as a URL; SMTP allows 998 characters a line.
MAIL_POLICY = email.policy.SMTP.clone(max_line_length=998)

# A claim older than this belongs to a worker that died (see ``send``). Its age is read on the database's
# clock, which every worker shares: a worker whose own clock runs ahead must not take over a live claim.
STALE_CLAIM = timedelta(minutes=10)

# A mailing that failed this many times for a temporary reason (no connection, a 4xx reply) is given up:
# with the backoff that is about two hours of trying.
MAX_SEND_ATTEMPTS = 8

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
        sa.and_(Survey.status == SurveyStatus.SENDING, Survey.claimed_at < database_now() - STALE_CLAIM),
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
    SMTP conversation) makes that case visible; after STALE_CLAIM (on the database's clock) the periodic
    job sends again with the same Message-ID, which mailbox providers use to drop the duplicate. A worker
    that dies after the sent-record is written (but before huey acknowledges the job) sends nothing more.
    Building or sending may fail in any way: the claim is then released with the error kept (``_failed``).
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
    reason = None if reminder else skip_reason(facts(shop, order, survey, arrived_at=now), policy(settings), now)
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

    reminder_due = None
    if not reminder and settings["reminder_days"]:
        window = settings["send_window"]
        reminder_due = into_send_window(now + timedelta(days=settings["reminder_days"]), shop.timezone,
                                        clock_time(window["start"]), clock_time(window["end"]))
    try:  # whatever fails from here (a malformed header, the SMTP conversation) releases the claim
        message = build_message(shop, order, survey, settings, reminder=reminder)
        db.session.commit()  # no database transaction stays open over the SMTP conversation
        mail.send(message, shop.id)
    except Exception as exc:
        db.session.rollback()
        return _failed(survey_id, exc, now, reminder=reminder)
    _record_sent(survey_id, now, reminder=reminder, message_id=str(message["Message-ID"]), reminder_due=reminder_due)
    return SendOutcome(survey_id, "reminded" if reminder else "sent")


def _record_sent(survey_id: int, now: datetime, *, reminder: bool, message_id: str,
                 reminder_due: datetime | None) -> None:
    """The sent-record, written before the job is acknowledged. The row is taken first (PostgreSQL's row lock,
    SQLite's write lock), then read and changed through the ORM (so the scores' rollups see the change): a
    survey the shopper answered meanwhile stays answered."""
    db.session.execute(sa.update(Survey).where(Survey.id == survey_id).values(claimed_at=None)
                       .execution_options(synchronize_session=False))
    survey = db.session.get_one(Survey, survey_id, populate_existing=True)
    survey.send_attempts, survey.last_error = 0, None
    if reminder:
        survey.reminder_sent_at = now
    else:
        survey.sent_at, survey.message_id = now, message_id
        if survey.status == SurveyStatus.SENDING:
            survey.status, survey.reminder_due_at = SurveyStatus.SENT, reminder_due
    db.session.commit()


@dataclass(frozen=True)
class MailFailure:
    kind: str  # "bounced" (the address is refused for good), "rejected" (this message, for good), "temporary"
    error: str  # what went wrong, without any e-mail address: it is stored and logged


_ADDRESS = re.compile(r"[^\s<>()\[\]{},;:\"'`]+@[^\s<>()\[\]{},;:\"'`]+")
# RFC 3463 enhanced status codes that say the address itself is bad: 5.1.x addressing, 5.2.1 mailbox disabled.
_ADDRESS_GONE = re.compile(r"^\s*5\.(1\.\d{1,3}|2\.1)\b")


def without_addresses(text: str) -> str:
    return _ADDRESS.sub("<address>", text)


def mail_failure(exc: Exception) -> MailFailure:
    """What a failed send means for the survey. Only a 5xx refusal of the recipient or of the message is
    final; a refused sender, failed login, 4xx reply or lost connection may pass and is tried again."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        code, reply = next(iter(exc.recipients.values()))  # one recipient a message
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        error = f"SMTPRecipientsRefused: {code} {without_addresses(text)}"
        if code < 500:
            return MailFailure("temporary", error)
        gone = _ADDRESS_GONE.match(text) or (not re.match(r"^\s*\d\.\d", text) and code in (550, 551, 553))
        return MailFailure("bounced" if gone else "rejected", error)
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        error = f"{type(exc).__name__}: {exc.smtp_code} {without_addresses(text)}"
        final = isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500
        return MailFailure("rejected" if final else "temporary", error)
    return MailFailure("temporary", f"{type(exc).__name__}: {without_addresses(str(exc))}")


def _failed(survey_id: int, exc: Exception, now: datetime, *, reminder: bool) -> SendOutcome:
    """Release the claim with the error kept: try again later, or give up (and suppress a bounced address)."""
    failure = mail_failure(exc)
    survey = db.session.get_one(Survey, survey_id)
    shop = db.session.get_one(Shop, survey.shop_id)
    survey.send_attempts += 1
    survey.last_error = failure.error[:2000]
    if failure.kind == "temporary" and survey.send_attempts < MAX_SEND_ATTEMPTS:
        delay = backoff_seconds(survey.send_attempts)
        _release(survey, hold_until=now + timedelta(seconds=delay), reminder=reminder)
        outcome = SendOutcome(survey_id, "retry", retry_in=delay)
    else:
        reason = "failed" if failure.kind == "temporary" else failure.kind
        _release(survey, skipped=reason, reminder=reminder)
        if failure.kind == "bounced" and survey.email_hash:
            answers.suppress_address(survey.shop_id, survey.email_hash, reason)
        outcome = SendOutcome(survey_id, f"skipped:{reason}")
    db.session.commit()
    log("survey mail failed", 30, shop=shop.domain, survey_id=survey_id, error=survey.last_error,
        attempts=survey.send_attempts, outcome=outcome.result)
    return outcome


def database_now() -> datetime:
    """The database's clock, which all workers share (SQLite is embedded: every worker is on its machine)."""
    if db.session.get_bind().dialect.name == "sqlite":
        raw: str = db.session.execute(sa.text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).scalar_one()
        return datetime.fromisoformat(raw).replace(tzinfo=UTC)
    # clock_timestamp(), not now(): now() is the time the transaction began.
    moment: datetime = db.session.execute(sa.select(sa.func.clock_timestamp())).scalar_one()
    return moment.astimezone(UTC)


def _claim(survey: Survey, reminder: bool, now: datetime) -> bool:
    """Take the survey for this worker; a concurrent worker finds it taken (or a dead one's claim stale).
    Whether it is due is judged by ``now``; the claim's time and age by the database's clock."""
    claimed_at = database_now()
    stale = Survey.claimed_at < claimed_at - STALE_CLAIM
    if reminder:
        ready = sa.and_(Survey.status == SurveyStatus.SENT, Survey.reminder_due_at <= now,
                        Survey.reminder_sent_at.is_(None), sa.or_(Survey.claimed_at.is_(None), stale))
        values: dict[str, Any] = {"claimed_at": claimed_at}
    else:
        ready = sa.or_(sa.and_(Survey.status == SurveyStatus.SCHEDULED, Survey.due_at <= now),
                       sa.and_(Survey.status == SurveyStatus.SENDING, stale))
        values = {"status": SurveyStatus.SENDING, "claimed_at": claimed_at}
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


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: str) -> str:
    """Display text for a header: settings saved before line breaks were refused, or a shop's name, may hold
    control characters, which the e-mail library rejects in a header."""
    return _CONTROL.sub(" ", text).strip()  # only the controls: a French no-break space before "?" stays


def survey_locale(shop: Shop, order: Order) -> str:
    return i18n.negotiate(order.customer_locale, shop.primary_locale)


def build_message(shop: Shop, order: Order, survey: Survey, settings: dict[str, Any], *,
                  reminder: bool) -> EmailMessage:
    locale = survey_locale(shop, order)
    shop_name = shop.name or shop.domain

    def t(key: str, **values: Any) -> str:
        return i18n.phrase(locale, "survey", key, **{k: str(v) for k, v in values.items()})

    question = links.first_question(survey)
    unsubscribe_url = f"{current_app.config['APP_URL']}/u/{links.unsubscribe_token(survey)}"
    items = order.line_items or []
    context = {
        "t": t, "locale": locale, "dir": i18n.direction(locale), "shop_name": shop_name,
        "logo_url": settings["logo_url"], "brand_color": settings["brand_color"],
        "first_name": order.first_name, "item_title": items[0]["title"] if items else None,
        "more_items": max(len(items) - 1, 0), "question": question,
        "score_links": links.score_links(survey, question), "unsubscribe_url": unsubscribe_url, "reminder": reminder,
    }
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = one_line(t("reminder_subject" if reminder else "subject", shop=shop_name))
    message["From"] = formataddr((one_line(settings["sender_name"] or shop_name), current_app.config["CX_MAIL_FROM"]))
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


