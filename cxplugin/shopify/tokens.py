"""A shop's offline access token: read, refreshed ahead of expiry, stored — the one place that does so.

An expiring offline token (from token exchange) lives an hour and comes with a refresh token that Shopify
rotates on every refresh. It is refreshed REFRESH_AHEAD before it runs out, or when Shopify refuses it, by one
process at a time per shop: the process claims a short lease (``shops.token_refresh_until``, a conditional
UPDATE committed at once), reads the token again (another process may have refreshed meanwhile), calls Shopify
with no transaction open, and stores the new pair in a second short transaction; the others wait for it. A
row or write lock held across the HTTP call would, on SQLite, stop every writer (webhook intake included)
while Shopify answers. A refresh token Shopify refuses marks the shop ``needs_reauth_at``: no more calls
until the next /admin load exchanges a new token.

These reads and writes use their own connection, never the caller's session: they neither commit the
caller's work nor count as a change to the data the storefront holds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

import sqlalchemy as sa
from shopify_app import TokenExchangeAccessToken

from cxplugin.extensions import db
from cxplugin.logs import log
from cxplugin.models import Shop
from cxplugin.models.types import utcnow
from cxplugin.shopify.client import AdminApiError, http_client, shopify_app

REFRESH_AHEAD = timedelta(minutes=5)
# Longer than a refresh takes (the client's timeouts are 10 s); a process that died holding it is outwaited.
LEASE = timedelta(seconds=30)
WAIT_FOR_OTHER_SECONDS = 12.0
_POLL_SECONDS = 0.05
# Shopify's answers that mean the refresh token will never work again.
_REFUSED = frozenset({"invalid_grant", "refresh_token_expired"})


@dataclass(frozen=True)
class Credentials:
    shop_id: int
    handle: str
    token: str


@dataclass(frozen=True)
class _Stored:
    handle: str
    installed: bool
    needs_reauth: bool
    token: str | None
    expires_at: datetime | None
    refresh_token: str | None
    refresh_expires_at: datetime | None
    scopes: str

    def runs_out_soon(self, now: datetime) -> bool:
        return self.refresh_token is not None and self.expires_at is not None and self.expires_at - now < REFRESH_AHEAD


def access_token(shop_id: int) -> Credentials:
    """A token to call the Admin API with, refreshed first when it runs out within REFRESH_AHEAD."""
    stored = _usable(shop_id)
    if stored.runs_out_soon(utcnow()):
        return refresh(shop_id, stale=stored.token)
    assert stored.token is not None
    return Credentials(shop_id, stored.handle, stored.token)


def refresh(shop_id: int, stale: str | None) -> Credentials:
    """A token newer than ``stale`` (the one that runs out or that Shopify refused): refreshed here, or by
    the process already refreshing it."""
    deadline = time.monotonic() + WAIT_FOR_OTHER_SECONDS
    while True:
        stored = _usable(shop_id)
        if stored.token != stale and not stored.runs_out_soon(utcnow()):
            assert stored.token is not None
            return Credentials(shop_id, stored.handle, stored.token)  # another process refreshed it
        if stored.refresh_token is None:
            # A non-expiring token that Shopify refuses has been revoked; only token exchange helps.
            _needs_reauth(shop_id, "unauthorized", "Shopify refused the shop's non-expiring access token")
        if _claim_lease(shop_id):
            break
        if time.monotonic() > deadline:
            raise AdminApiError("refresh_pending", "another process is refreshing the shop's token")
        time.sleep(_POLL_SECONDS)
    try:
        stored = _usable(shop_id)  # again, under the lease: the refresh token may have been rotated meanwhile
        if stored.token != stale and not stored.runs_out_soon(utcnow()):
            _release_lease(shop_id)
            assert stored.token is not None
            return Credentials(shop_id, stored.handle, stored.token)
        return _refresh_at_shopify(shop_id, stored)
    except BaseException:
        _release_lease(shop_id)
        raise


def _refresh_at_shopify(shop_id: int, stored: _Stored) -> Credentials:
    with http_client() as client:
        result = shopify_app().refresh_token_exchanged_access_token(
            {
                "shop": stored.handle,
                "access_mode": "offline",
                "token": stored.token,
                "refresh_token": stored.refresh_token,
                # No expiry given: the package then refreshes whatever it thinks of the token's age.
                "expires": None,
                "refresh_token_expires": _iso(stored.refresh_expires_at),
                "scope": stored.scopes,
            },
            http_client=client,
        )
    if not result.ok or result.access_token is None:
        if result.log.code in _REFUSED:
            _needs_reauth(shop_id, result.log.code, result.log.detail)
        raise AdminApiError(result.log.code, result.log.detail)
    token = result.access_token
    _store(shop_id, token)
    return Credentials(shop_id, stored.handle, token.token)


def _usable(shop_id: int) -> _Stored:
    stored = _read(shop_id)
    if stored is None or not stored.installed or stored.token is None:
        raise AdminApiError("not_installed", f"shop {shop_id} has no access token")
    if stored.needs_reauth:
        raise AdminApiError("needs_reauth", f"{stored.handle} must open the app again to grant a new token")
    return stored


def _read(shop_id: int) -> _Stored | None:
    with db.engine.connect() as conn:
        row = conn.execute(sa.select(
            Shop.domain, Shop.installed_at, Shop.uninstalled_at, Shop.needs_reauth_at, Shop.access_token,
            Shop.access_token_expires_at, Shop.refresh_token, Shop.refresh_token_expires_at, Shop.scopes,
        ).where(Shop.id == shop_id)).one_or_none()
    if row is None:
        return None
    return _Stored(handle=row.domain.removesuffix(".myshopify.com"),
                   installed=row.installed_at is not None and row.uninstalled_at is None,
                   needs_reauth=row.needs_reauth_at is not None, token=row.access_token,
                   expires_at=row.access_token_expires_at, refresh_token=row.refresh_token,
                   refresh_expires_at=row.refresh_token_expires_at, scopes=row.scopes or "")


def _claim_lease(shop_id: int) -> bool:
    now = utcnow()
    with db.engine.begin() as conn:
        claimed = conn.execute(
            sa.update(Shop)
            .where(Shop.id == shop_id, sa.or_(Shop.token_refresh_until.is_(None), Shop.token_refresh_until < now))
            .values(token_refresh_until=now + LEASE))
    return claimed.rowcount == 1


def _release_lease(shop_id: int) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.update(Shop).where(Shop.id == shop_id).values(token_refresh_until=None))


def _store(shop_id: int, token: TokenExchangeAccessToken) -> None:
    """The new token and the rotated refresh token (the old one no longer works)."""
    with db.engine.begin() as conn:
        conn.execute(sa.update(Shop).where(Shop.id == shop_id).values(
            access_token=token.token, access_token_expires_at=parse_iso(token.expires),
            refresh_token=token.refresh_token, refresh_token_expires_at=parse_iso(token.refresh_token_expires),
            token_refresh_until=None))


def _needs_reauth(shop_id: int, code: str, detail: str) -> NoReturn:
    """Stop calling Shopify for the shop until it grants a new token; logged once, when first marked."""
    with db.engine.begin() as conn:
        marked = conn.execute(
            sa.update(Shop).where(Shop.id == shop_id, Shop.needs_reauth_at.is_(None))
            .values(needs_reauth_at=utcnow(), token_refresh_until=None))
    if marked.rowcount == 1:
        log("shop must open the app again: Shopify refused its token", 30, shop_id=shop_id, code=code, detail=detail)
    raise AdminApiError("needs_reauth", detail)


def parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None
