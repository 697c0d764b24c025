"""The topics the app handles: the schema each payload must satisfy and the service it feeds."""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema

from cxplugin import orders, privacy
from cxplugin.extensions import db
from cxplugin.models import Order, Shop, WebhookEvent
from cxplugin.models.types import utcnow
from cxplugin.promise import backfill
from cxplugin.promise import on_orders as order_promise
from cxplugin.promise import product_tags as products
from cxplugin.returns import records as returns
from cxplugin.risk import checking as risk_checking
from cxplugin.schemas import webhooks as s
from cxplugin.scores import facts as delivery_facts
from cxplugin.shops import lifecycle as shops
from cxplugin.surveys import scheduling
from cxplugin.webhooks import shape


class Kind(enum.Enum):
    BUSINESS = "business"  # needs an installed shop
    LIFECYCLE = "lifecycle"  # needs a shop we know, installed or not
    COMPLIANCE = "compliance"  # must be honoured even for a shop we no longer hold


@dataclass(frozen=True)
class Topic:
    name: str
    schema_class: type[Schema]
    kind: Kind
    handle: Callable[[Shop | None, dict[str, Any], WebhookEvent], None]

    @functools.cached_property
    def schema(self) -> Schema:
        """One schema instance per topic: building one (and its nested schemas) costs more than a load."""
        return self.schema_class()

    @functools.cached_property
    def problems(self) -> Callable[[Any], shape.Problems]:
        """The quick intake check derived from the schema (see webhooks/shape.py)."""
        return shape.checker(self.schema)

    def load(self, payload: Any) -> dict[str, Any]:
        loaded: dict[str, Any] = self.schema.load(payload)
        return loaded


def _order_changed(shop: Shop, order: Order, event: WebhookEvent) -> None:
    """What follows from any change to an order: its promise, its delivery facts, its waiting returns, its survey,
    its risk state, and the event's subject."""
    db.session.flush()
    order_promise.attach(shop, order)
    delivery_facts.refresh(shop, order)
    returns.link_waiting_returns(shop, order)
    scheduling.plan(shop, order, utcnow())
    risk_checking.check(shop, order, utcnow())
    event.order_id, event.customer_id = order.shopify_id, order.customer_id


def _order(shop: Shop | None, p: dict[str, Any], event: WebhookEvent) -> None:
    assert shop is not None
    _order_changed(shop, orders.apply_order(shop, p, event.triggered_at), event)


def _fulfillment(shop: Shop | None, p: dict[str, Any], event: WebhookEvent) -> None:
    assert shop is not None
    _order_changed(shop, orders.apply_fulfillment(shop, p, event.triggered_at).order, event)


def _fulfillment_event(shop: Shop | None, p: dict[str, Any], event: WebhookEvent) -> None:
    assert shop is not None
    _order_changed(shop, orders.apply_fulfillment_event(shop, p, event.triggered_at).order, event)


def _return(shop: Shop | None, p: dict[str, Any], event: WebhookEvent) -> None:
    assert shop is not None
    held = returns.apply_return(shop, event.topic, p, event.triggered_at or event.received_at)
    event.order_id = held.order_shopify_id


def _product(shop: Shop | None, p: dict[str, Any], event: WebhookEvent) -> None:
    assert shop is not None
    products.apply_product(shop, p)


def _product_delete(shop: Shop | None, p: dict[str, Any], event: WebhookEvent) -> None:
    assert shop is not None
    products.delete_product(shop, p)


def _shop_update(shop: Shop | None, p: dict[str, Any], event: WebhookEvent) -> None:
    assert shop is not None
    shops.apply_shop_update(shop, p)


def _bulk_operation_finished(shop: Shop | None, p: dict[str, Any], event: WebhookEvent) -> None:
    assert shop is not None
    backfill.record_finish(shop, p)


def _uninstalled(shop: Shop | None, p: dict[str, Any], event: WebhookEvent) -> None:
    assert shop is not None
    shops.mark_uninstalled(shop, event.triggered_at or event.received_at)


def _customers_redact(shop: Shop | None, p: dict[str, Any], event: WebhookEvent) -> None:
    customer = p["customer"]
    event.customer_id = customer["id"]
    if shop is not None:
        privacy.redact_customer(shop, customer["id"], customer["email"], p["orders_to_redact"],
                                keep_event_id=event.id)
    # Its own payload names the customer too: only the ids stay, as the record of what was erased.
    event.payload = privacy.redaction_record(event.payload, customer["id"], p["orders_to_redact"])


def _shop_redact(shop: Shop | None, p: dict[str, Any], event: WebhookEvent) -> None:
    privacy.erase_shop(event.shop_domain, keep_event_id=event.id)


def _data_request(shop: Shop | None, p: dict[str, Any], event: WebhookEvent) -> None:
    customer = p["customer"]
    event.customer_id = customer["id"]
    if shop is not None:
        privacy.export_customer(shop, p["data_request"].get("id"), customer["id"], customer["email"],
                                p["orders_requested"])


_ALL = [
    Topic("orders/create", s.OrderPayload, Kind.BUSINESS, _order),
    Topic("orders/updated", s.OrderPayload, Kind.BUSINESS, _order),
    Topic("orders/cancelled", s.OrderPayload, Kind.BUSINESS, _order),
    Topic("fulfillments/create", s.FulfillmentPayload, Kind.BUSINESS, _fulfillment),
    Topic("fulfillments/update", s.FulfillmentPayload, Kind.BUSINESS, _fulfillment),
    Topic("fulfillment_events/create", s.FulfillmentEventPayload, Kind.BUSINESS, _fulfillment_event),
    Topic("products/create", s.ProductPayload, Kind.BUSINESS, _product),
    Topic("products/update", s.ProductPayload, Kind.BUSINESS, _product),
    Topic("products/delete", s.ProductDeletePayload, Kind.BUSINESS, _product_delete),
    *(Topic(name, s.ReturnPayload, Kind.BUSINESS, _return) for name in returns.STATUS_BY_TOPIC),
    Topic("shop/update", s.ShopPayload, Kind.BUSINESS, _shop_update),
    Topic("bulk_operations/finish", s.BulkOperationFinishPayload, Kind.BUSINESS, _bulk_operation_finished),
    Topic("app/uninstalled", s.ShopPayload, Kind.LIFECYCLE, _uninstalled),
    Topic("customers/redact", s.CustomersRedactPayload, Kind.COMPLIANCE, _customers_redact),
    Topic("shop/redact", s.ShopRedactPayload, Kind.COMPLIANCE, _shop_redact),
    Topic("customers/data_request", s.CustomersDataRequestPayload, Kind.COMPLIANCE, _data_request),
]

TOPICS: dict[str, Topic] = {t.name: t for t in _ALL}

# Topics registered over the Admin API; compliance topics can only be declared in shopify.app.toml.
SUBSCRIBABLE = [t.name for t in _ALL if t.kind is not Kind.COMPLIANCE]
