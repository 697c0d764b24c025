"""Record a shopper's scores and comment; unsubscribe an address."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from cxplugin.extensions import db
from cxplugin.models import Suppression, Survey, SurveyStatus
from cxplugin.surveys.rules import (
    is_detractor,
)


def record_score(survey: Survey, question: str, score: int, now: datetime) -> None:
    """Record (or change) a confirmed score: one the shopper's page posted, never a bare GET of an e-mail link
    (mail scanners fetch those). Posting the same score again changes nothing."""
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
    if survey.email_hash is not None:
        suppress_address(survey.shop_id, survey.email_hash, "unsubscribed")


def suppress_address(shop_id: int, email_hash: str, reason: str) -> None:
    """No more surveys from this shop to this address (unsubscribed, or bounced): scheduled ones are skipped
    with ``reason`` and reminders not yet sent are dropped."""
    exists = db.session.scalar(sa.select(Suppression.id).where(Suppression.shop_id == shop_id,
                                                              Suppression.email_hash == email_hash))
    if exists is None:
        db.session.add(Suppression(shop_id=shop_id, email_hash=email_hash))
    db.session.execute(sa.update(Survey).where(
        Survey.shop_id == shop_id, Survey.email_hash == email_hash,
        Survey.status == SurveyStatus.SCHEDULED).values(status=SurveyStatus.SKIPPED, skip_reason=reason))
    db.session.execute(sa.update(Survey).where(
        Survey.shop_id == shop_id, Survey.email_hash == email_hash,
        Survey.reminder_sent_at.is_(None)).values(reminder_due_at=None))
