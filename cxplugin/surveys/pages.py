"""/s/<token> records a score at once, then offers a comment and the second question; /u/<token> unsubscribes."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from cxplugin import i18n
from cxplugin.extensions import db
from cxplugin.models import Shop, Survey
from cxplugin.models.types import utcnow
from cxplugin.shops import settings as shop_settings
from cxplugin.surveys import answers, links, sending
from cxplugin.surveys.rules import valid_score

bp = Blueprint("survey_pages", __name__)

Page = tuple[str, int]


def _render(survey: Survey | None, state: str, status: int = 200, **extra: Any) -> Page:
    shop = db.session.get(Shop, survey.shop_id) if survey else None
    locale = sending.survey_locale(shop, survey.order) if shop and survey else i18n.negotiate(
        request.accept_languages.best)
    settings = shop_settings.current(shop)["surveys"] if shop else {"brand_color": "#1a73e8"}
    shop_name = (shop.name or shop.domain) if shop else ""

    def t(key: str, **values: Any) -> str:
        return i18n.phrase(locale, "survey_page", key, **{k: str(v) for k, v in values.items()})

    def ts(key: str, **values: Any) -> str:
        return i18n.phrase(locale, "survey", key, **{k: str(v) for k, v in values.items()})

    html = render_template("survey/page.html", t=t, ts=ts, locale=locale, dir=i18n.direction(locale),
                           shop_name=shop_name, brand_color=settings["brand_color"], state=state, **extra)
    return html, status


def _broken_link(error: links.TokenError) -> Page:
    return _render(None, "expired" if error.expired else "invalid", 410 if error.expired else 400)


def _answered_page(survey: Survey, question: str, token: str) -> Page:
    second: list[tuple[int, str]] = []
    if survey.question == "csat_nps" and question == "csat" and survey.nps is None:
        second = links.score_links(survey, "nps")
    return _render(survey, "answered", question=question, score=getattr(survey, question),
                   change_links=links.score_links(survey, question), second_links=second,
                   form_action=f"/s/{token}", comment=survey.comment or "")


@bp.get("/s/<token>")
def answer(token: str) -> Page:
    try:
        survey, data = links.survey_from_token(token, "survey")
    except links.TokenError as error:
        return _broken_link(error)
    question = data.get("q", "csat")
    raw = request.args.get("score")
    if raw is not None:
        if not raw.isdigit() or not valid_score(question, int(raw)):
            return _answered_page(survey, question, token)[0], 400
        answers.record_score(survey, question, int(raw), utcnow())
        db.session.commit()
    return _answered_page(survey, question, token)


@bp.post("/s/<token>")
def comment(token: str) -> Page:
    try:
        survey, data = links.survey_from_token(token, "survey")
    except links.TokenError as error:
        return _broken_link(error)
    text = request.form.get("comment", "")
    if len(text) > 2000:
        return _answered_page(survey, data.get("q", "csat"), token)[0], 413
    answers.record_comment(survey, text, utcnow())
    db.session.commit()
    return _render(survey, "thanks")


@bp.route("/u/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> Page:
    try:
        survey, _ = links.survey_from_token(token, "unsubscribe")
    except links.TokenError as error:
        return _broken_link(error)
    if request.method == "GET":  # a link scanner's GET must not unsubscribe anyone: ask first
        return _render(survey, "unsubscribe", form_action=f"/u/{token}")
    answers.unsubscribe(survey)
    db.session.commit()
    return _render(survey, "unsubscribed")
