"""Huey tasks: thin wrappers that load by id and call a service. The periodic schedule lives here."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from huey import crontab

from cxplugin.models.types import utcnow
from cxplugin.promise import product_tags
from cxplugin.queue import huey, in_app_context
from cxplugin.shops import lifecycle as shops
from cxplugin.surveys import alerts, sending
from cxplugin.webhooks import processing
from cxplugin.webhooks.topics import SUBSCRIBABLE

# A PENDING event older than this without a run is taken as lost and enqueued again.
STUCK_AFTER = timedelta(minutes=5)


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
    return shops.sync_with_shopify(shop_id, SUBSCRIBABLE)


@huey.task()
@in_app_context
def fetch_product_tags(shop_id: int, product_ids: list[int]) -> dict[str, Any]:
    fetched = product_tags.fetch(shop_id, product_ids, utcnow())
    if fetched.later:
        fetch_product_tags.schedule((shop_id, fetched.later), delay=fetched.retry_in or 0)
    return {"shop_id": shop_id, **fetched.log_fields()}


@huey.periodic_task(crontab(minute="*/5"))
@in_app_context
def requeue_stuck_webhooks() -> dict[str, Any]:
    ids = processing.stuck_event_ids(STUCK_AFTER)
    for event_id in ids:
        process_webhook_event(event_id)
    return {"requeued": len(ids)}


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
    """At most one alert per shop every 15 minutes, carrying every answer that needs attention."""
    sent = {shop_id: alerts.send_alerts(shop_id) for shop_id in alerts.shops_with_pending_alerts()}
    return {"shops": len(sent), "answers": sum(sent.values())}
