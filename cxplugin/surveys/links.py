"""The signed links in a survey e-mail: answer a question, unsubscribe. They carry no personal data."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from cxplugin.extensions import db
from cxplugin.models import Shop, Survey
from cxplugin.models.types import utcnow
from cxplugin.shopify.client import signing_secrets
from cxplugin.shops import settings as shop_settings

UNSUBSCRIBE_TOKEN_DAYS = 365


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    # Signed with the app's secret; while it is rotated (SHOPIFY_OLD_API_SECRET) links signed with the old
    # one still verify: itsdangerous signs with the last key of the list and accepts any of them.
    return URLSafeTimedSerializer(list(reversed(signing_secrets())), salt=f"cx-{purpose}")


def answer_token(survey: Survey, question: str) -> str:
    """Signed, holds no personal data: the survey's random public id and which question the link answers."""
    return _serializer("survey").dumps({"p": survey.public_id, "q": question})


def unsubscribe_token(survey: Survey) -> str:
    return _serializer("unsubscribe").dumps({"p": survey.public_id})


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
    if not isinstance(data, dict):
        raise TokenError(expired=False)
    if isinstance(data.get("p"), str):
        survey = db.session.scalar(sa.select(Survey).where(Survey.public_id == data["p"]))
    elif isinstance(data.get("s"), int):  # links mailed before surveys had a public id: valid until they expire
        survey = db.session.get(Survey, data["s"])
    else:
        raise TokenError(expired=False)
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


