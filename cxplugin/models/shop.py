"""A merchant's shop: identity, credentials (encrypted) and locale facts."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from cxplugin.extensions import db
from cxplugin.models.types import EncryptedText, UTCDateTime, utcnow


class Shop(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "shops"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    domain: so.Mapped[str] = so.mapped_column(sa.String(255), unique=True)
    name: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    email: so.Mapped[str | None] = so.mapped_column(sa.String(320))
    # Deferred: decrypted only when read (a Shopify call), not on every storefront request.
    access_token: so.Mapped[str | None] = so.mapped_column(EncryptedText, deferred=True)
    access_token_expires_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    refresh_token: so.Mapped[str | None] = so.mapped_column(EncryptedText, deferred=True)
    refresh_token_expires_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # Shopify refused the refresh token (or the token): no Admin API call until /admin exchanges a new one.
    needs_reauth_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # The lease of the process refreshing the token; others wait for its result (shopify/tokens.py).
    token_refresh_until: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    scopes: so.Mapped[str] = so.mapped_column(sa.String(1000), default="")
    timezone: so.Mapped[str] = so.mapped_column(sa.String(64), default="UTC")
    country_code: so.Mapped[str | None] = so.mapped_column(sa.String(2))
    currency: so.Mapped[str | None] = so.mapped_column(sa.String(3))
    primary_locale: so.Mapped[str] = so.mapped_column(sa.String(16), default="en")
    installed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    uninstalled_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # updated_at of the newest shop/update payload applied (older ones are ignored).
    details_updated_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_installed(self) -> bool:
        return self.installed_at is not None and self.uninstalled_at is None

    @property
    def handle(self) -> str:
        """The subdomain Shopify's package calls "shop" (``x`` for ``x.myshopify.com``)."""
        return self.domain.removesuffix(".myshopify.com")

    def __repr__(self) -> str:
        return f"<Shop {self.domain}>"
