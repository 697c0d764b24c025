"""Outgoing mail: SMTP (``MAIL_URL=smtp://user:pass@host:port?starttls=1``) or the outbox (``MAIL_URL=outbox``)."""

from __future__ import annotations

import functools
import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app

from cxplugin.extensions import db
from cxplugin.models import OutboxMessage

SMTP_TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    username: str | None
    password: str | None
    starttls: bool
    tls: bool  # smtps:// — TLS from the first byte


def parse_mail_url(url: str) -> SmtpTarget | None:
    """None for the outbox; an SMTP target otherwise. Raises ValueError for anything else."""
    if url.strip() == "outbox":
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("MAIL_URL must be smtp://user:pass@host:port (?starttls=1), smtps://… or outbox")
    query = parse_qs(parts.query)
    tls = parts.scheme == "smtps"
    return SmtpTarget(
        host=parts.hostname,
        port=parts.port or (465 if tls else 587),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        starttls=query.get("starttls", ["0"])[0] in ("1", "true", "yes"),
        tls=tls,
    )


def send(message: EmailMessage, shop_id: int | None = None) -> None:
    """Hand the message to the SMTP server (or keep it in the outbox). Raises on failure."""
    target = parse_mail_url(current_app.config["MAIL_URL"])
    if target is None:
        _keep_in_outbox(message, shop_id)
        return
    smtp: smtplib.SMTP
    if target.tls:
        smtp = smtplib.SMTP_SSL(target.host, target.port, timeout=SMTP_TIMEOUT_SECONDS, context=_tls_context())
    else:
        smtp = smtplib.SMTP(target.host, target.port, timeout=SMTP_TIMEOUT_SECONDS)
    with smtp:
        if target.starttls:
            smtp.starttls(context=_tls_context())
        if target.username:
            smtp.login(target.username, target.password or "")
        smtp.send_message(message)


def _tls_context() -> ssl.SSLContext:
    return _verifying_context(os.environ.get("SSL_CERT_FILE"))


@functools.lru_cache(maxsize=4)
def _verifying_context(ca_file: str | None) -> ssl.SSLContext:
    # Loading the system's CA bundle takes tens of milliseconds: once per process, not per message.
    return ssl.create_default_context(cafile=ca_file)


def _keep_in_outbox(message: EmailMessage, shop_id: int | None) -> None:
    message_id = str(message["Message-ID"])
    held = db.session.query(OutboxMessage).filter_by(message_id=message_id).one_or_none()
    if held is None:  # the same Message-ID twice is the same message
        db.session.add(OutboxMessage(shop_id=shop_id, recipient=str(message["To"]), subject=str(message["Subject"]),
                                     message_id=message_id, raw=message.as_string()))
    db.session.flush()
