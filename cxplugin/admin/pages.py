"""Embedded admin pages (App Home): each load verified with verify_app_home_req; the first load installs the shop."""

from __future__ import annotations

import email
import email.policy
import html
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, make_response, render_template, request, url_for

from cxplugin import i18n
from cxplugin.admin import figures_source
from cxplugin.admin.charts import BUCKET_LABELS, scores_charts
from cxplugin.admin.history import recent_versions
from cxplugin.admin.overview import overview
from cxplugin.extensions import db
from cxplugin.logs import log
from cxplugin.models import OutboxMessage, Shop
from cxplugin.promise import learning
from cxplugin.risk import listing as risk_listing
from cxplugin.shopify.auth import PATCH_ID_TOKEN_PATH, app_home_input, is_own_path, is_shop_domain, to_response
from cxplugin.shopify.client import http_client, shopify_app
from cxplugin.shops import settings as shop_settings
from cxplugin.shops.lifecycle import find_shop, store_exchanged_token

bp = Blueprint("admin_pages", __name__)

DEFAULT_DAYS = 30
MAX_DAYS = 731


@bp.get(PATCH_ID_TOKEN_PATH)
def patch_id_token() -> Response:
    """Shopify's page that fetches a fresh session token and reloads the requested page.

    The page's Content-Security-Policy names the shop from the query, so only a shop's myshopify.com
    domain is taken; the reload target must be a page of this app.
    """
    if not is_shop_domain(request.args.get("shop")):
        return Response("This page needs the shop's myshopify.com domain (shop=name.myshopify.com). "
                        "Open the app from Shopify admin.", status=400, mimetype="text/plain")
    if not is_own_path(request.args.get("shopify-reload", "")):
        return Response("This page reloads pages of this app only (shopify-reload=/admin…). "
                        "Open the app from Shopify admin.", status=400, mimetype="text/plain")
    return to_response(shopify_app().app_home_patch_id_token(app_home_input()).response)


def embedded_page(template: str, context: Callable[[Shop], dict[str, Any]]) -> Response:
    """Verify the request as Shopify's App Home, install the shop on its first load, then render ``template``."""
    result = shopify_app().verify_app_home_req(app_home_input(), app_home_patch_id_token_path=PATCH_ID_TOKEN_PATH)
    if not result.ok or not result.shop:
        return to_response(result.response)
    shop = find_shop(result.shop)
    # Shopify refusing the shop's refresh token marks it needs_reauth_at: this load exchanges a new token.
    if shop is None or not shop.is_installed or shop.access_token is None or shop.needs_reauth_at is not None:
        with http_client() as client:
            exchange = shopify_app().exchange_using_token_exchange(
                access_mode="offline",
                id_token=result.id_token,
                invalid_token_response=result.invalid_token_response,
                http_client=client,
            )
        if not exchange.ok or exchange.access_token is None:
            log("token exchange failed", shop=result.shop, code=exchange.log.code)
            return to_response(exchange.response)
        shop = store_exchanged_token(result.shop, exchange.access_token)
        log("shop installed", shop=shop.domain)
        from cxplugin.tasks import sync_shop_with_shopify

        sync_shop_with_shopify(shop.id)
    config = current_app.config
    html = render_template(template, shop=shop, api_key=config["SHOPIFY_API_KEY"],
                           outbox=config["MAIL_URL"] == "outbox", demo=_is_demo(shop), **context(shop))
    response = make_response(html)
    for name, value in result.response.headers.items():
        response.headers[name] = value
    return response


def _is_demo(shop: Shop) -> bool:
    from cxplugin.demo import DEMO_SHOP

    return bool(current_app.config["CX_DEMO"]) and shop.domain == DEMO_SHOP


@bp.get("/admin")
def home() -> Response:
    return embedded_page("admin/home.html", lambda shop: {"figures": overview(shop)})


@bp.get("/admin/settings")
def settings() -> Response:
    return embedded_page("admin/settings.html", lambda shop: {
        "settings": shop_settings.current(shop), "history": recent_versions(shop), "locales": i18n.LOCALES,
        "learned": learning.latest(shop.id),
        "weekdays": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    })


@bp.get("/admin/scores")
def scores() -> Response:
    def context(shop: Shop) -> dict[str, Any]:
        date_from, date_to = _date_range(shop)
        figures = figures_source.scores_for(shop, date_from, date_to)
        return {"figures": figures, "charts": scores_charts(figures), "buckets": BUCKET_LABELS,
                "date_from": date_from, "date_to": date_to}

    return embedded_page("admin/scores.html", context)


def _date_range(shop: Shop) -> tuple[date, date]:
    """``from``/``to`` from the query (YYYY-MM-DD), by default the last 30 days in the shop's time zone."""
    today = datetime.now(ZoneInfo(shop.timezone)).date()
    try:
        date_to = date.fromisoformat(request.args["to"]) if request.args.get("to") else today
        date_from = (date.fromisoformat(request.args["from"]) if request.args.get("from")
                     else date_to - timedelta(days=DEFAULT_DAYS - 1))
    except ValueError:
        abort(400, description="Dates must be written YYYY-MM-DD.")
    if date_from > date_to or (date_to - date_from).days >= MAX_DAYS:
        abort(400, description="Choose a start date on or before the end date, at most two years apart.")
    return date_from, date_to


@bp.get("/admin/responses")
def responses() -> Response:
    def context(shop: Shop) -> dict[str, Any]:
        filters = _response_filters()
        page = request.args.get("page", "1")
        if not page.isdigit() or int(page) < 1:
            abort(400, description="The page number must be 1 or more.")
        return {"listing": figures_source.responses_for(shop, filters, int(page)), "filters": asdict(filters),
                "buckets": BUCKET_LABELS, "choices": _FILTER_CHOICES, "page_url": _page_url}

    return embedded_page("admin/responses.html", context)


_FILTER_CHOICES = {
    "question": [("csat", "CSAT (1–5)"), ("nps", "NPS (0–10)")],
    "score": [(str(n), str(n)) for n in range(11)],
    "locale": [(code, code) for code in i18n.LOCALES],
    "punctuality": list(BUCKET_LABELS.items()),
    "mark": [(mark, mark.capitalize()) for mark in figures_source.MARKS],
}


def _page_url(page: int) -> str:
    """This listing's URL at another page, filters kept (the session parameters are added in the browser)."""
    kept: dict[str, Any] = {k: v for k, v in request.args.items() if k in _FILTER_CHOICES and v}
    return url_for("admin_pages.responses", **kept, page=page)


def _response_filters() -> figures_source.ResponseFilters:
    args = request.args
    score = args.get("score") or None
    question = args.get("question") or None
    locale = args.get("locale") or None
    punctuality = args.get("punctuality") or None
    mark = args.get("mark") or None
    if score is not None and not (score.isdigit() and int(score) <= 10):
        abort(400, description="The score must be a number from 0 to 10.")
    if question not in (None, "csat", "nps"):
        abort(400, description="The question must be csat or nps.")
    if locale is not None and locale not in i18n.LOCALES:
        abort(400, description="Unknown language.")
    if punctuality is not None and punctuality not in BUCKET_LABELS:
        abort(400, description="Unknown punctuality.")
    if mark is not None and mark not in figures_source.MARKS:
        abort(400, description="The follow-up mark must be open, contacted or resolved.")
    return figures_source.ResponseFilters(score=int(score) if score is not None else None, question=question,
                                          locale=locale, punctuality=punctuality, mark=mark)


@bp.get("/admin/outbox")
def outbox() -> Response:
    if current_app.config["MAIL_URL"] != "outbox":
        abort(404)
    return embedded_page("admin/outbox.html", lambda shop: {"messages": db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.shop_id == shop.id)
        .order_by(OutboxMessage.id.desc()).limit(100)).all()})


@bp.get("/admin/outbox/<int:message_id>")
def outbox_message(message_id: int) -> Response:
    """One kept message as the recipient would see it; its links open in a new tab and work."""
    if current_app.config["MAIL_URL"] != "outbox":
        abort(404)

    def context(shop: Shop) -> dict[str, Any]:
        message = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.shop_id == shop.id,
                                                                   OutboxMessage.id == message_id))
        if message is None:
            abort(404)
        return {"message": message, "html": mail_html(message.raw)}

    return embedded_page("admin/outbox_message.html", context)


def mail_html(raw: str) -> str:
    """The HTML part of a kept message (its text part, escaped, when it has none), with links opening a new tab."""
    parsed = email.message_from_string(raw, policy=email.policy.default)
    body = parsed.get_body(preferencelist=("html", "plain"))
    content = body.get_content() if body is not None else ""
    if body is None or body.get_content_type() != "text/html":
        content = f"<pre>{html.escape(content)}</pre>"
    return '<base target="_blank">' + content


@bp.get("/admin/at-risk")
def at_risk() -> Response:
    return embedded_page("admin/at_risk.html", lambda shop: {"orders": risk_listing.at_risk(shop),
                                                             "detractors": risk_listing.detractors(shop),
                                                             "marks": risk_listing.MARKS})
