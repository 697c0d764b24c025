"""Figures for the app home: what we track for the shop and whether webhooks are flowing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from cxplugin.extensions import db
from cxplugin.models import EventStatus, Order, Shipment, Shop, WebhookEvent
from cxplugin.models.types import utcnow


@dataclass(frozen=True)
class Overview:
    orders: int
    shipments: int
    delivered: int
    webhooks_last_day: int
    webhooks_failed: int


def overview(shop: Shop) -> Overview:
    def count(stmt: sa.Select[tuple[int]]) -> int:
        return db.session.scalar(stmt) or 0

    day_ago = utcnow() - timedelta(days=1)
    events = sa.select(sa.func.count()).select_from(WebhookEvent).where(WebhookEvent.shop_domain == shop.domain)
    return Overview(
        orders=count(sa.select(sa.func.count()).select_from(Order).where(Order.shop_id == shop.id)),
        shipments=count(sa.select(sa.func.count()).select_from(Shipment).where(Shipment.shop_id == shop.id)),
        delivered=count(sa.select(sa.func.count()).select_from(Shipment)
                        .where(Shipment.shop_id == shop.id, Shipment.delivered_at.is_not(None))),
        webhooks_last_day=count(events.where(WebhookEvent.received_at >= day_ago)),
        webhooks_failed=count(events.where(WebhookEvent.status == EventStatus.FAILED)),
    )
