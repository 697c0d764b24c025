"""Huey tasks: thin wrappers that load by id and call a service. The periodic schedule lives here.

(Webhook jobs that were lost are handed out again by the dispatcher's loop, webhooks/dispatch.py:
it looks every few seconds, which a periodic task, at most once a minute, cannot.)
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from huey import crontab

from cxplugin import privacy
from cxplugin.models.types import utcnow
from cxplugin.promise import backfill, learning, product_tags
from cxplugin.queue import huey, in_app_context
from cxplugin.risk import checking as risk_checking
from cxplugin.risk import flow, notices
from cxplugin.shops import lifecycle as shops
from cxplugin.surveys import alerts, sending
from cxplugin.webhooks import processing
from cxplugin.webhooks.topics import SUBSCRIBABLE


@huey.task()
@in_app_context
def process_webhook_event(event_id: int) -> dict[str, Any]:
    outcome = processing.process_event(event_id)
    if outcome.retry_in is not None:
        process_webhook_event.schedule((event_id,), delay=outcome.retry_in)
    return outcome.log_fields()


@huey.task(retries=5, retry_delay=60)
@in_app_context
def sync_shop_with_shopify(shop_id: int) -> dict[str, Any]:
    synced = shops.sync_with_shopify(shop_id, SUBSCRIBABLE)
    if not synced.get("skipped"):
        # After the webhooks are subscribed, so that the bulk operation's finish reaches the app.
        start_history_backfill(shop_id)
    return synced


@huey.task()
@in_app_context
def start_history_backfill(shop_id: int) -> dict[str, Any]:
    """A new install learns from the shop's past orders (see promise/backfill.py)."""
    return backfill.log_fields(backfill.start(shop_id, utcnow()))


@huey.task(retries=2, retry_delay=300)
@in_app_context
def import_history_backfill(backfill_id: int) -> dict[str, Any]:
    return backfill.log_fields(backfill.import_finished(backfill_id, utcnow()))


@huey.task()
@in_app_context
def fetch_product_tags(shop_id: int, product_ids: list[int]) -> dict[str, Any]:
    fetched = product_tags.fetch(shop_id, product_ids, utcnow())
    if fetched.later:
        fetch_product_tags.schedule((shop_id, fetched.later), delay=fetched.retry_in or 0)
    return {"shop_id": shop_id, **fetched.log_fields()}


@huey.periodic_task(crontab(minute="*"))
@in_app_context
def send_due_surveys() -> dict[str, Any]:
    ids = sending.take_due_for_queue(utcnow())
    for survey_id in ids:
        send_survey(survey_id)
    return {"enqueued": len(ids)}


@huey.task()
@in_app_context
def send_survey(survey_id: int) -> dict[str, Any]:
    outcome = sending.send(survey_id, utcnow())
    return {"survey_id": survey_id, "outcome": outcome.result, "retry_in": outcome.retry_in}


@huey.periodic_task(crontab(minute="*/15"))
@in_app_context
def send_alert_batches() -> dict[str, Any]:
    """At most one alert per shop and channel every 15 minutes, carrying every answer that needs attention;
    a shop or channel that fails is logged and tried again next run, the others go on."""
    return alerts.send_all(utcnow())


@huey.periodic_task(crontab(hour="3", minute="17"))
@in_app_context
def purge_old_webhook_payloads() -> dict[str, Any]:
    """Raw webhook payloads carry personal data: kept for CX_PAYLOAD_RETENTION_DAYS after processing, then purged."""
    days: int = current_app.config["CX_PAYLOAD_RETENTION_DAYS"]
    return {"purged": privacy.purge_payloads(utcnow(), days), "retention_days": days}


@huey.periodic_task(crontab(hour="3", minute="37"))
@in_app_context
def rebuild_learned_promises() -> dict[str, Any]:
    """Every night, a fresh learned promise for each shop that uses or considers it."""
    ids = learning.shops_to_rebuild()
    for shop_id in ids:
        rebuild_learned_promise(shop_id)
    return {"enqueued": len(ids)}


@huey.task(retries=2, retry_delay=300)
@in_app_context
def rebuild_learned_promise(shop_id: int) -> dict[str, Any]:
    row = learning.rebuild_shop(shop_id, utcnow())
    return {"shop_id": shop_id, "version": row.version if row else None, "deliveries": row.deliveries if row else 0}


@huey.periodic_task(crontab(minute="*/15"))
@in_app_context
def check_orders_at_risk() -> dict[str, Any]:
    """Re-judge every open order's promise (webhooks re-judge an order at once when it changes)."""
    return risk_checking.check_all(utcnow())


@huey.periodic_task(crontab(minute="*/5"))
@in_app_context
def send_delay_notices_and_flow_triggers() -> dict[str, Any]:
    """Shopper delay notices due in their shop's daytime, and Flow triggers not sent yet; each is claimed, so two
    runs at once send each once."""
    return {"notices": notices.send_due(utcnow()), "flow": flow.send_due(utcnow())}
