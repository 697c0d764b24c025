"""The unsubscribe link of a shopper's delay notice: GET asks, POST unsubscribes (mail scanners fetch every link).
Unsubscribing puts the address on the shop's suppression list, the same list the surveys honour."""

from __future__ import annotations

from flask import Blueprint, request

from cxplugin import i18n
from cxplugin.extensions import db
from cxplugin.models import Order, Shop
from cxplugin.privacy import email_hash
from cxplugin.risk import notices
from cxplugin.surveys import answers
from cxplugin.surveys.pages import Page, render_page

bp = Blueprint("risk_pages", __name__)


@bp.route("/u/notice/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> Page:
    notice = notices.notice_from_token(token)
    if notice is None:
        return render_page(None, i18n.negotiate(request.accept_languages.best), "invalid", 400)
    shop = db.session.get_one(Shop, notice.shop_id)
    order = db.session.get_one(Order, notice.order_id)
    locale = i18n.negotiate(order.customer_locale, shop.primary_locale)
    if request.method != "POST":
        return render_page(shop, locale, "unsubscribe", form_action=f"/u/notice/{token}")
    if order.email:
        answers.suppress_address(shop.id, email_hash(shop.id, order.email), "unsubscribed")
    db.session.commit()
    return render_page(shop, locale, "unsubscribed")
