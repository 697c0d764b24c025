"""Tell the merchant about answers that need attention: one batched alert per shop."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, render_template

from cxplugin import i18n, mail, outbound
from cxplugin.extensions import db
from cxplugin.models import Shop, Survey
from cxplugin.shops import settings as shop_settings
from cxplugin.surveys.rules import (
    is_detractor,
)
from cxplugin.surveys.sending import MAIL_POLICY

ALERT_TIMEOUT_SECONDS = 5


def shops_with_pending_alerts() -> list[int]:
    return list(db.session.scalars(sa.select(Survey.shop_id).where(Survey.alert_state == "pending").distinct()))


def send_alerts(shop_id: int) -> int:
    """One batched alert (e-mail, and the webhook if set) with every answer that needs attention."""
    shop = db.session.get_one(Shop, shop_id)
    pending = list(db.session.scalars(sa.select(Survey).where(Survey.shop_id == shop_id,
                                                              Survey.alert_state == "pending")
                                      .order_by(Survey.answered_at)))
    if not pending or not shop.is_installed:
        return 0
    settings = shop_settings.current(shop)["surveys"]
    items = [{"order_name": s.order.name, "csat": s.csat, "nps": s.nps, "comment": s.comment,
              "detractor": is_detractor(s.csat, s.nps)} for s in pending]
    admin_url = f"https://admin.shopify.com/store/{shop.handle}/apps/{current_app.config['SHOPIFY_API_KEY']}"

    def t(key: str, **values: Any) -> str:
        return i18n.phrase("en", "alert", key, **{k: str(v) for k, v in values.items()})

    context = {"t": t, "shop_name": shop.name or shop.domain, "admin_url": admin_url, "items": items}
    recipient = settings["alert_email"] or shop.email
    if recipient:
        message = EmailMessage(policy=MAIL_POLICY)
        message["Subject"] = t("subject", count=len(items))
        message["From"] = formataddr(("cxplugin", current_app.config["CX_MAIL_FROM"]))
        message["To"] = recipient
        host = urlsplit(current_app.config["APP_URL"]).hostname or "cxplugin"
        message["Message-ID"] = f"<alert-{shop.id}-{pending[-1].id}-{len(items)}@{host}>"
        message.set_content(render_template("email/alert.txt", **context))
        message.add_alternative(render_template("email/alert.html", **context), subtype="html")
        mail.send(message, shop.id)
    if settings["alert_webhook_url"]:
        lines = [f"{t('subject', count=len(items))} ({shop.name or shop.domain})"]
        for item in items:
            scores = ", ".join(f"{k.upper()} {item[k]}" for k in ("csat", "nps") if item[k] is not None)
            comment = f" — “{item['comment']}”" if item["comment"] else ""
            lines.append(f"• {item['order_name'] or 'Order'}: {scores}{comment}")
        outbound.post_json(settings["alert_webhook_url"], {"text": "\n".join(lines)},
                           timeout=ALERT_TIMEOUT_SECONDS, rules=outbound.policy())
    for survey in pending:
        survey.alert_state = "sent"
    db.session.commit()
    return len(items)
