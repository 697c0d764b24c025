"""Orders and their shipments as Shopify's webhooks told us, newest state only."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from cxplugin.extensions import db
from cxplugin.models.types import UTCDateTime, utcnow


class Order(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "orders"
    __table_args__ = (sa.UniqueConstraint("shop_id", "shopify_id"),
                      sa.Index("ix_orders_shop_delivered_on", "shop_id", "delivered_on"),
                      sa.Index("ix_orders_shop_customer_key", "shop_id", "customer_key"))

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    shop_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    shopify_id: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    name: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    placed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    customer_id: so.Mapped[int | None] = so.mapped_column(sa.BigInteger, index=True)
    email: so.Mapped[str | None] = so.mapped_column(sa.String(320))
    first_name: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    last_name: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    customer_locale: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    destination_country: so.Mapped[str | None] = so.mapped_column(sa.String(2))
    destination_province: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    destination_zip: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    note: so.Mapped[str | None] = so.mapped_column(sa.Text)
    note_attributes: so.Mapped[dict[str, str]] = so.mapped_column(sa.JSON, default=dict)
    line_items: so.Mapped[list[dict[str, Any]]] = so.mapped_column(sa.JSON, default=list)
    financial_status: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    fulfillment_status: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    cancelled_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    cancel_reason: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    # Version of the order we hold: (updated_at, X-Shopify-Triggered-At) of the payload applied.
    source_updated_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    source_triggered_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    redacted_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # The delivery promise this order was made under (shop-local dates) and where it came from:
    # "storefront" (what the shopper was shown), "computed" (settings in force at creation), "none".
    promise_earliest: so.Mapped[date | None]
    promise_latest: so.Mapped[date | None]
    promise_source: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    promise_rule: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    # How the promise was made: "fixed" settings or the "learned" model (with its version).
    promise_mode: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    promise_model_version: so.Mapped[int | None]
    promise_zone: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    # Delivery facts for the scores (cxplugin/scores/facts.py keeps them; shop-local dates).
    delivered_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    delivered_on: so.Mapped[date | None]
    lead_days: so.Mapped[int | None]  # days from the order's date to its delivery date
    days_late: so.Mapped[int | None]  # None without a promise; 0 when kept
    punctuality: so.Mapped[str | None] = so.mapped_column(sa.String(24))  # the bucket, None without a promise
    delivered_early: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    carrier: so.Mapped[str | None] = so.mapped_column(sa.String(255))  # of the shipment that arrived last
    # The Shopify customer id, else a hash of the e-mail: who bought again (repeat purchase).
    customer_key: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    # The customer's first on-time (or first late) delivery, and whether they ordered again within 90 days after it.
    first_of_kind: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    came_back: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    shipments: so.Mapped[list[Shipment]] = so.relationship(
        back_populates="order", cascade="all, delete-orphan", passive_deletes=True, order_by="Shipment.id"
    )


class Shipment(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "shipments"
    __table_args__ = (sa.UniqueConstraint("shop_id", "fulfillment_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    shop_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    order_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    fulfillment_id: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    name: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    fulfillment_status: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    carrier: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    tracking_number: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    tracking_url: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # Current shipment status and the moment it was observed (the newest observation wins).
    status: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    status_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    status_triggered_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # Milestones: the earliest time each was observed, whatever order the webhooks came in.
    shipped_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    in_transit_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    out_for_delivery_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    delivered_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    estimated_delivery_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    estimate_observed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    # updated_at of the newest fulfilment payload applied to the tracking fields.
    source_updated_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    source_triggered_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    order: so.Mapped[Order] = so.relationship(back_populates="shipments")
    history: so.Mapped[list[ShipmentStatusEvent]] = so.relationship(
        back_populates="shipment",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="(ShipmentStatusEvent.happened_at, ShipmentStatusEvent.id)",
    )


class ShipmentStatusEvent(db.Model):  # type: ignore[name-defined,misc]
    """One step of a shipment's status history (a carrier scan or a fulfilment status change)."""

    __tablename__ = "shipment_status_events"
    __table_args__ = (sa.UniqueConstraint("shipment_id", "source_key"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    shop_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    shipment_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("shipments.id", ondelete="CASCADE"), index=True)
    # "event:<fulfillment event id>" for carrier events, "fulfillment:<status>" for fulfilment updates.
    source_key: so.Mapped[str] = so.mapped_column(sa.String(64))
    status: so.Mapped[str] = so.mapped_column(sa.String(32))
    happened_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    message: so.Mapped[str | None] = so.mapped_column(sa.Text)
    city: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    province: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    country: so.Mapped[str | None] = so.mapped_column(sa.String(255))

    shipment: so.Mapped[Shipment] = so.relationship(back_populates="history")
