"""Tell the merchant about answers that need attention: one batched alert per shop and channel.

Each channel (e-mail, webhook) keeps its own state per answer, so one that fails never stops, nor repeats,
the other, and one shop's trouble never holds up another's. A channel that keeps failing is given up for the
answers it carries after FAILURE_LIMIT attempts in a row, and the merchant is told once. No network call
happens inside a database transaction.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, render_template

from cxplugin import i18n, mail, outbound
from cxplugin.extensions import db
from cxplugin.logs import log, logger
from cxplugin.models import AlertChannel, Shop, Survey
from cxplugin.shopify import admin_links
from cxplugin.shops import settings as shop_settings
from cxplugin.surveys.rules import (
    is_detractor,
)
from cxplugin.surveys.sending import MAIL_POLICY

ALERT_TIMEOUT_SECONDS = 5
CHANNELS = ("email", "webhook")
# Attempts in a row before a channel is given up for the answers it carries (runs are 15 minutes apart).
FAILURE_LIMIT = 5
_STATE = {"email": Survey.alert_email_state, "webhook": Survey.alert_webhook_state}


def shops_with_pending_alerts() -> list[int]:
    """Installed shops with an answer not yet batched, or waiting on a channel."""
    waiting = sa.or_(Survey.alert_state == "pending", *(state == "pending" for state in _STATE.values()))
    query = (sa.select(Survey.shop_id).join(Shop, Shop.id == Survey.shop_id)
             .where(waiting, Shop.installed_at.is_not(None), Shop.uninstalled_at.is_(None)).distinct())
    return list(db.session.scalars(query))


def send_all(now: datetime) -> dict[str, int]:
    """Every shop's pending alerts, shop by shop: a shop that raises is logged and tried again next run."""
    counts = {"shops": 0, "sent": 0, "failed": 0, "given_up": 0, "errors": 0}
    for shop_id in shops_with_pending_alerts():
        counts["shops"] += 1
        try:
            outcomes = send_alerts(shop_id, now)
        except Exception:
            db.session.rollback()
            logger.exception("alerts failed", extra={"fields": {"shop_id": shop_id}})
            counts["errors"] += 1
            continue
        for outcome in outcomes.values():
            if outcome in counts:
                counts[outcome] += 1
    return counts


def send_alerts(shop_id: int, now: datetime) -> dict[str, str]:
    """The shop's new answers go to the channels that are on; then each channel delivers what waits for it.
    One channel raising is logged and does not stop the other."""
    take_new_answers(shop_id)
    outcomes: dict[str, str] = {}
    for channel in CHANNELS:
        try:
            outcomes[channel] = deliver(shop_id, channel, now)
        except Exception:
            db.session.rollback()
            logger.exception("alert channel failed", extra={"fields": {"shop_id": shop_id, "channel": channel}})
            outcomes[channel] = "errors"
    return outcomes


def take_new_answers(shop_id: int) -> int:
    """Answers that newly need attention wait on each channel that is on now (a later change of the
    settings does not bring back a channel that was off)."""
    shop = db.session.get_one(Shop, shop_id)
    targets = _targets(shop)
    taken = db.session.execute(
        sa.update(Survey).where(Survey.shop_id == shop_id, Survey.alert_state == "pending")
        .values(alert_state="batched", **{f"alert_{channel}_state": "pending" if targets[channel] else None
                                          for channel in CHANNELS}))
    db.session.commit()
    return int(getattr(taken, "rowcount", 0) or 0)


def deliver(shop_id: int, channel: str, now: datetime) -> str:
    """One attempt to deliver what waits on this channel, in one message: "nothing", "sent", "dropped"
    (the channel was switched off), "failed" (tried again next run) or "given_up"."""
    shop = db.session.get_one(Shop, shop_id)
    state = _STATE[channel]
    pending = list(db.session.scalars(sa.select(Survey).where(Survey.shop_id == shop_id, state == "pending")
                                      .order_by(Survey.answered_at, Survey.id)))
    target = _targets(shop)[channel]
    if not pending or not shop.is_installed:
        db.session.commit()
        return "nothing"
    ids = [s.id for s in pending]
    if not target:
        _mark(shop_id, ids, channel, "dropped")
        db.session.commit()
        return "dropped"
    send = _email_sender(shop, pending, target) if channel == "email" else _webhook_sender(shop, pending, target)
    db.session.commit()  # the read ends here: the attempt below may wait on the network
    try:
        send()
    except (outbound.DeliveryFailed, OSError) as exc:  # smtplib's errors are OSErrors
        db.session.rollback()
        reason = exc.reason if isinstance(exc, outbound.DeliveryFailed) else _describe(exc)
        return _record_failure(shop, channel, target, ids, reason, now)
    _mark(shop_id, ids, channel, "sent")
    record = _record(shop_id, channel, target)
    record.failures, record.first_failed_at, record.last_error, record.notified_at = 0, None, None, None
    db.session.commit()
    log("alert sent", shop_id=shop_id, channel=channel, answers=len(ids))
    return "sent"


def _targets(shop: Shop) -> dict[str, str | None]:
    settings = shop_settings.current(shop)["surveys"]
    return {"email": settings["alert_email"] or shop.email, "webhook": settings["alert_webhook_url"]}


def _mark(shop_id: int, ids: list[int], channel: str, value: str) -> None:
    db.session.execute(sa.update(Survey).where(Survey.shop_id == shop_id, Survey.id.in_(ids),
                                               _STATE[channel] == "pending")
                       .values(**{f"alert_{channel}_state": value}))


def _record(shop_id: int, channel: str, target: str) -> AlertChannel:
    """The channel's record for this address (a new address starts clean)."""
    digest = hashlib.sha256(target.encode()).hexdigest()
    record = db.session.scalars(sa.select(AlertChannel).where(AlertChannel.shop_id == shop_id,
                                                              AlertChannel.channel == channel)).one_or_none()
    if record is None:
        record = AlertChannel(shop_id=shop_id, channel=channel, failures=0)
        db.session.add(record)
    if record.target_hash != digest:
        record.target_hash, record.failures, record.first_failed_at = digest, 0, None
        record.last_error, record.notified_at = None, None
    return record


def _record_failure(shop: Shop, channel: str, target: str, ids: list[int], reason: str, now: datetime) -> str:
    record = _record(shop.id, channel, target)
    record.failures += 1
    record.first_failed_at = record.first_failed_at or now
    record.last_error = reason
    given_up = record.failures >= FAILURE_LIMIT
    tell = given_up and channel == "webhook" and record.notified_at is None
    if given_up:
        _mark(shop.id, ids, channel, "failed")
    db.session.flush()  # the record's id names the notice
    notice = _hook_failed_notice(shop, target, record) if tell else None
    db.session.commit()
    log("alert failed", logging.WARNING, shop_id=shop.id, channel=channel, answers=len(ids),
        failures=record.failures, given_up=given_up, error=reason)
    if notice is not None:
        _tell_merchant(shop.id, notice, now)
    return "given_up" if given_up else "failed"


def _tell_merchant(shop_id: int, notice: EmailMessage, now: datetime) -> None:
    """Send the notice; remember it went out, so that it goes once until the webhook works again."""
    try:
        mail.send(notice, shop_id)
    except OSError as exc:  # the next give-up tries again
        db.session.rollback()
        log("alert notice failed", logging.WARNING, shop_id=shop_id, error=_describe(exc))
        return
    record = db.session.scalars(sa.select(AlertChannel).where(AlertChannel.shop_id == shop_id,
                                                              AlertChannel.channel == "webhook")).one()
    record.notified_at = now
    db.session.commit()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _t(key: str, **values: Any) -> str:
    return i18n.phrase("en", "alert", key, **{k: str(v) for k, v in values.items()})


def _admin_url(shop: Shop) -> str:
    return admin_links.app_url(shop, current_app.config["SHOPIFY_API_KEY"])


def _message(shop: Shop, recipient: str, subject: str, message_id: str, template: str,
             **context: Any) -> EmailMessage:
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = subject
    message["From"] = formataddr(("cxplugin", current_app.config["CX_MAIL_FROM"]))
    message["To"] = recipient
    host = urlsplit(current_app.config["APP_URL"]).hostname or "cxplugin"
    message["Message-ID"] = f"<{message_id}@{host}>"
    context.update(t=_t, shop_name=shop.name or shop.domain, admin_url=_admin_url(shop))
    message.set_content(render_template(f"email/{template}.txt", **context))
    message.add_alternative(render_template(f"email/{template}.html", **context), subtype="html")
    return message


def _items(pending: list[Survey]) -> list[dict[str, Any]]:
    return [{"order_name": s.order.name, "csat": s.csat, "nps": s.nps, "comment": s.comment,
             "detractor": is_detractor(s.csat, s.nps)} for s in pending]


def _email_sender(shop: Shop, pending: list[Survey], recipient: str) -> Callable[[], None]:
    items = _items(pending)
    # The same batch keeps its Message-ID through retries, so a receiving server can tell a repeat.
    message = _message(shop, recipient, _t("subject", count=len(items)),
                       f"alert-{shop.id}-{pending[-1].id}-{len(items)}", "alert", items=items)
    shop_id = shop.id
    return lambda: mail.send(message, shop_id)


def slack_escaped(text: str) -> str:
    """Text shown as written in Slack-compatible chats: no mentions (<!channel>), links (<url|label>) or
    other control sequences from whoever wrote it (Slack's escaping: &, < and >)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _webhook_sender(shop: Shop, pending: list[Survey], url: str) -> Callable[[], None]:
    # Comments, order names and the shop's name are written by shoppers and the shop: escaped, all of them.
    items = _items(pending)
    lines = [f"{_t('subject', count=len(items))} ({slack_escaped(shop.name or shop.domain)})"]
    for item in items:
        scores = ", ".join(f"{k.upper()} {item[k]}" for k in ("csat", "nps") if item[k] is not None)
        comment = f" — “{slack_escaped(item['comment'])}”" if item["comment"] else ""
        lines.append(f"• {slack_escaped(item['order_name'] or 'Order')}: {scores}{comment}")
    payload = {"text": "\n".join(lines)}
    rules = outbound.policy()

    def send() -> None:
        outbound.post_json(url, payload, timeout=ALERT_TIMEOUT_SECONDS, rules=rules)

    return send


def _hook_failed_notice(shop: Shop, url: str, record: AlertChannel) -> EmailMessage | None:
    """The one e-mail that says the webhook stopped working, what it answered, and how to fix it."""
    recipient = _targets(shop)["email"]
    if not recipient:
        return None
    since = record.first_failed_at.strftime("%Y-%m-%d %H:%M UTC") if record.first_failed_at else "?"
    host = urlsplit(url).hostname or url  # the path of a chat webhook URL is a secret: only the host is named
    return _message(shop, recipient, _t("hook_failed_subject"),
                    f"alert-hook-failed-{shop.id}-{record.id}-{since.replace(' ', '-').replace(':', '')}",
                    "alert_hook_failed", host=host, tries=record.failures, since=since,
                    reason=record.last_error or "?")
