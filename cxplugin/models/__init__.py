"""Typed SQLAlchemy models. Every shop-owned row carries shop_id."""

from cxplugin.models.alert_channel import AlertChannel
from cxplugin.models.change_stamp import ChangeStamp
from cxplugin.models.data_request import DataRequest
from cxplugin.models.delivery_history import HistoryBackfill, PastDelivery
from cxplugin.models.order import Order, Shipment, ShipmentStatusEvent
from cxplugin.models.product import Product
from cxplugin.models.promise_model import PromiseModel
from cxplugin.models.returns import Return, ReturnRequest
from cxplugin.models.risk import DelayNotice, FlowTrigger, OrderRisk, RiskChange
from cxplugin.models.score import ScoreDay
from cxplugin.models.settings_version import SettingsVersion
from cxplugin.models.shop import Shop
from cxplugin.models.survey import OutboxMessage, Suppression, Survey, SurveyStatus
from cxplugin.models.webhook_event import EventStatus, WebhookEvent

__all__ = [
    "AlertChannel",
    "ChangeStamp",
    "DataRequest",
    "DelayNotice",
    "EventStatus",
    "FlowTrigger",
    "HistoryBackfill",
    "Order",
    "OrderRisk",
    "OutboxMessage",
    "PastDelivery",
    "Product",
    "PromiseModel",
    "Return",
    "ReturnRequest",
    "RiskChange",
    "ScoreDay",
    "SettingsVersion",
    "Shipment",
    "ShipmentStatusEvent",
    "Shop",
    "Suppression",
    "Survey",
    "SurveyStatus",
    "WebhookEvent",
]
