"""/s/<token> shows the survey with the e-mail's clicked score chosen and saves what the page posts;
/u/<token> unsubscribes. A GET (or HEAD) never records anything: mail scanners fetch every link."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, render_template, request

from cxplugin import i18n
from cxplugin.extensions import db
from cxplugin.models import Shop, Survey
from cxplugin.models.types import utcnow
from cxplugin.returns import requests as return_deadline
from cxplugin.shops import settings as shop_settings
from cxplugin.surveys import answers, links, sending
from cxplugin.surveys.rules import parse_score, questions, scores

bp = Blueprint("survey_pages", __name__)

Page = tuple[str, int, dict[str, str]]

COMMENT_MAX = 2000


def _render(survey: Survey | None, state: str, status: int = 200, **extra: Any) -> Page:
    shop = db.session.get(Shop, survey.shop_id) if survey else None
    locale = sending.survey_locale(shop, survey.order) if shop and survey else i18n.negotiate(
        request.accept_languages.best)
    # The survey and thank-you pages tell the order's return deadline (or that it is final sale).
    returns_line = return_deadline.deadline_line(shop, survey.order, utcnow(), locale) \
        if shop and survey and state in ("answer", "thanks") else ""
    return render_page(shop, locale, state, status, returns_line=returns_line, **extra)


def render_page(shop: Shop | None, locale: str, state: str, status: int = 200, *, returns_line: str = "",
                **extra: Any) -> Page:
    """The standalone shopper page (survey, unsubscribe, delay-notice unsubscribe) in ``locale`` for ``shop``."""
    settings = shop_settings.current(shop)["surveys"] if shop else {"brand_color": "#1a73e8"}
    shop_name = (shop.name or shop.domain) if shop else ""

    def t(key: str, **values: Any) -> str:
        return i18n.phrase(locale, "survey_page", key, **{k: str(v) for k, v in values.items()})

    def ts(key: str, **values: Any) -> str:
        return i18n.phrase(locale, "survey", key, **{k: str(v) for k, v in values.items()})

    # The page's one style block and one script run by this nonce; nothing else on it may run or load.
    nonce = secrets.token_urlsafe(16)
    html = render_template("survey/page.html", t=t, ts=ts, locale=locale, dir=i18n.direction(locale),
                           shop_name=shop_name, brand_color=settings["brand_color"], state=state, nonce=nonce,
                           returns_line=returns_line, **extra)
    headers = {
        "Content-Security-Policy": (f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
                                    "connect-src 'self'; form-action 'self'; base-uri 'none'; "
                                    "frame-ancestors 'none'"),
        "Cache-Control": "no-store",  # the page shows the shopper's answers
    }
    return html, status, headers


def _broken_link(error: links.TokenError) -> Page:
    return _render(None, "expired" if error.expired else "invalid", 410 if error.expired else 400)


def _survey_page(survey: Survey, token: str, clicked: tuple[str, int] | None = None, status: int = 200) -> Page:
    """The survey's questions as one form. A score clicked in the e-mail is chosen but not yet saved: the page's
    script posts it (and without JavaScript the shopper's Send does); a confirmed score is never replaced by a
    click, only by another post."""
    to_confirm = clicked if clicked and getattr(survey, clicked[0]) is None else None
    scales = [{"question": q, "scores": list(scores(q)),
               "chosen": to_confirm[1] if to_confirm and to_confirm[0] == q else getattr(survey, q)}
              for q in questions(survey.question)]
    answered = any(getattr(survey, q) is not None for q in questions(survey.question))
    return _render(survey, "answer", status, scales=scales, answered=answered, confirm=to_confirm,
                   form_action=f"/s/{token}", comment=survey.comment or "")


@bp.get("/s/<token>")
def answer(token: str) -> Page:
    try:
        survey, data = links.survey_from_token(token, "survey")
    except links.TokenError as error:
        return _broken_link(error)
    question = data.get("q", "csat")
    raw = request.args.get("score")
    if raw is None:
        return _survey_page(survey, token)
    score = parse_score(question, raw)
    if score is None:
        return _survey_page(survey, token, status=400)
    return _survey_page(survey, token, clicked=(question, score))


@bp.post("/s/<token>")
def submit(token: str) -> Page:
    """The page's form (scores and comment) or its script confirming the clicked score."""
    try:
        survey, _ = links.survey_from_token(token, "survey")
    except links.TokenError as error:
        return _broken_link(error)
    posted: dict[str, int] = {}
    for question in questions(survey.question):
        raw = request.form.get(question, "")
        if raw:
            score = parse_score(question, raw)
            if score is None:
                return _survey_page(survey, token, status=400)
            posted[question] = score
    text = request.form.get("comment", "")
    if len(text) > COMMENT_MAX:
        return _survey_page(survey, token, status=413)
    now = utcnow()
    for question, score in posted.items():
        answers.record_score(survey, question, score, now)
    answers.record_comment(survey, text, now)
    db.session.commit()
    return _render(survey, "thanks")


@bp.route("/u/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> Page:
    try:
        survey, _ = links.survey_from_token(token, "unsubscribe")
    except links.TokenError as error:
        return _broken_link(error)
    if request.method != "POST":  # a link scanner's GET (or HEAD) must not unsubscribe anyone: ask first
        return _render(survey, "unsubscribe", form_action=f"/u/{token}")
    answers.unsubscribe(survey)
    db.session.commit()
    return _render(survey, "unsubscribed")
