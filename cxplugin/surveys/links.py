"""The signed links in a survey e-mail: answer a question, unsubscribe. They carry no personal data."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from cxplugin.extensions import db
from cxplugin.models import Shop, Survey
from cxplugin.models.types import utcnow
from cxplugin.shops import settings as shop_settings

UNSUBSCRIBE_TOKEN_DAYS = 365


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


