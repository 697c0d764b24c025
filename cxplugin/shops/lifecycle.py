"""Shop lifecycle: install (token exchange or CLI), details from Shopify, uninstall."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from shopify_app import TokenExchangeAccessToken

from cxplugin.extensions import db
from cxplugin.logs import log
from cxplugin.models import Shop
from cxplugin.models.types import utcnow
from cxplugin.shopify.admin_api import ShopDetails, fetch_shop_details, register_webhooks
from cxplugin.shopify.tokens import parse_iso


def shop_domain(handle: str) -> str:
    """``x`` or ``x.myshopify.com`` → ``x.myshopify.com`` (lower case)."""
    handle = handle.strip().lower()
    return handle if handle.endswith(".myshopify.com") else f"{handle}.myshopify.com"


def find_shop(domain: str) -> Shop | None:
    return db.session.scalar(sa.select(Shop).where(Shop.domain == shop_domain(domain)))


def store_exchanged_token(domain: str, token: TokenExchangeAccessToken, *, refreshed: bool = False) -> Shop:
    """Record an offline token from token exchange: an install or re-install (the moment is kept as
    ``installed_at``), or with ``refreshed`` the renewal of an installed shop's token (no new install)."""
    shop = find_shop(domain) or Shop(domain=shop_domain(domain))
    shop.access_token = token.token
    shop.access_token_expires_at = parse_iso(token.expires)
    shop.refresh_token = token.refresh_token
    shop.refresh_token_expires_at = parse_iso(token.refresh_token_expires)
    shop.needs_reauth_at = shop.token_refresh_until = None
    shop.scopes = token.scope or ""
    if not refreshed or shop.installed_at is None:
        _mark_installed(shop)
    db.session.add(shop)
    db.session.commit()
    return shop


def add_shop(domain: str, token: str, timezone: str | None = None, country: str | None = None,
             locale: str | None = None, scopes: str = "") -> Shop:
    """Install a shop from a custom-app (non-expiring) token, as `cx shops add` does."""
    shop = find_shop(domain) or Shop(domain=shop_domain(domain))
    shop.access_token = token
    shop.access_token_expires_at = None
    shop.refresh_token = None
    shop.refresh_token_expires_at = None
    shop.needs_reauth_at = shop.token_refresh_until = None
    shop.scopes = scopes or shop.scopes or ""
    if timezone:
        shop.timezone = timezone
    if country:
        shop.country_code = country.upper()
    if locale:
        shop.primary_locale = locale
    _mark_installed(shop)
    db.session.add(shop)
    db.session.commit()
    return shop


def _mark_installed(shop: Shop) -> None:
    # Every install moves installed_at, even when the uninstall before it is still in the queue:
    # that app/uninstalled is then older than the install and is ignored (see mark_uninstalled).
    shop.installed_at = utcnow()
    shop.uninstalled_at = None


def apply_details(shop: Shop, details: ShopDetails) -> None:
    shop.name = details.name
    shop.email = details.email
    shop.timezone = details.timezone
    shop.country_code = details.country_code
    shop.currency = details.currency
    shop.primary_locale = details.primary_locale


def mark_uninstalled(shop: Shop, at: datetime) -> bool:
    """The app was removed at ``at``: forget the credentials and stop all work for the shop.

    An uninstall from before the shop's last install (the merchant installed again before the event
    was processed) changes nothing: the token we hold is the new install's. Returns whether it applied.
    """
    if shop.installed_at is not None and at < shop.installed_at:
        log("uninstall older than the last install ignored", shop=shop.domain, uninstalled_at=at.isoformat(),
            installed_at=shop.installed_at.isoformat())
        return False
    shop.uninstalled_at = at
    shop.access_token = None
    shop.access_token_expires_at = None
    shop.refresh_token = None
    shop.refresh_token_expires_at = None
    return True


def apply_shop_update(shop: Shop, payload: dict[str, Any]) -> None:
    """shop/update: take the shop's new facts unless we already hold a newer version."""
    updated_at = payload["updated_at"]
    if updated_at is not None and shop.details_updated_at is not None and updated_at < shop.details_updated_at:
        return
    shop.name = payload["name"] or shop.name
    shop.email = payload["email"] or shop.email
    shop.timezone = payload["iana_timezone"] or shop.timezone
    shop.country_code = payload["country_code"] or shop.country_code
    shop.currency = payload["currency"] or shop.currency
    shop.primary_locale = payload["primary_locale"] or shop.primary_locale
    shop.details_updated_at = updated_at or shop.details_updated_at


def sync_with_shopify(shop_id: int, topics: list[str]) -> dict[str, Any]:
    """After install: read the shop's facts and (unless the toml does it) subscribe to webhooks."""
    shop = db.session.get(Shop, shop_id)
    if shop is None or not shop.is_installed:
        return {"skipped": True}
    db.session.rollback()  # nothing written yet: no transaction stays open while Shopify answers
    details = fetch_shop_details(shop_id)
    shop = db.session.get_one(Shop, shop_id)
    apply_details(shop, details)
    db.session.commit()
    registered: list[str] = []
    if current_app.config["CX_REGISTER_WEBHOOKS"]:
        callback = f"{current_app.config['APP_URL']}/webhooks"
        registered = register_webhooks(shop_id, topics, callback)
    return {"shop": shop.domain, "timezone": shop.timezone, "webhooks": len(registered)}
