"""A job that crashes is retried with backoff, then kept as failed; nothing recorded is ever lost."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from cxplugin import orders
from cxplugin.extensions import db
from cxplugin.models import EventStatus, Order, WebhookEvent
from cxplugin.models.types import utcnow
from cxplugin.queue import huey
from cxplugin.tasks import process_webhook_event
from cxplugin.webhooks import processing
from cxplugin.webhooks.dispatch import claim_new_events, dispatch_stale_events
from tests.conftest import Send


def the_event(app: Flask) -> WebhookEvent:
    with app.app_context():
        return db.session.scalars(sa.select(WebhookEvent)).one()


def sweep(app: Flask) -> int:
    """What the dispatcher's sweep does every few seconds: hand out again the events whose job seems lost."""
    with app.app_context():
        return dispatch_stale_events(process_webhook_event,
                                     timedelta(seconds=app.config["CX_STUCK_AFTER_SECONDS"]))


def handed_out_minutes_ago(app: Flask, minutes: float) -> None:
    with app.app_context():
        db.session.execute(sa.update(WebhookEvent).values(dispatched_at=utcnow() - timedelta(minutes=minutes)))
        db.session.commit()


def order_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Order)) or 0


@pytest.fixture
def crashing_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*args: Any) -> Any:
        raise RuntimeError("carrier API said no")

    monkeypatch.setattr(orders, "apply_order", crash)


def test_a_crashing_job_is_retried_later_with_its_error_kept(app: Flask, shop: str, send_webhook: Send,
                                                             drain: Callable[[], int], crashing_handler: None) -> None:
    send_webhook("orders/create", "orders_create__basic")
    drain()
    event = the_event(app)
    assert event.status == EventStatus.PENDING
    assert event.attempts == 1
    assert event.last_error == "RuntimeError: carrier API said no"
    assert event.next_attempt_at is not None
    assert timedelta(seconds=25) < event.next_attempt_at - utcnow() <= timedelta(seconds=30)
    assert huey.scheduled_count() == 1  # the retry, 30 s out
    assert order_count(app) == 0


def test_backoff_doubles_and_is_capped(app: Flask) -> None:
    with app.app_context():
        assert [processing.backoff_seconds(n) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
        assert processing.backoff_seconds(20) == processing.MAX_BACKOFF_SECONDS


def test_after_the_last_attempt_the_event_is_failed_and_replay_recovers_it(
        config: dict[str, Any], request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    config["CX_WEBHOOK_MAX_ATTEMPTS"] = 3
    app: Flask = request.getfixturevalue("app")
    request.getfixturevalue("shop")
    runner: FlaskCliRunner = request.getfixturevalue("runner")
    send: Send = request.getfixturevalue("send_webhook")
    real_apply = orders.apply_order
    request.getfixturevalue("crashing_handler")

    send("orders/create", "orders_create__basic")
    event_id = the_event(app).id
    with app.app_context():
        outcomes = [processing.process_event(event_id) for _ in range(3)]
    assert [o.status for o in outcomes] == ["pending", "pending", "failed"]
    assert [o.retry_in for o in outcomes] == [30, 60, None]
    event = the_event(app)
    assert (event.status, event.attempts) == (EventStatus.FAILED, 3)

    monkeypatch.setattr(orders, "apply_order", real_apply)  # the cause is fixed
    result = runner.invoke(args=["cx", "webhooks", "replay", "--failed"])
    assert result.exit_code == 0, result.output
    assert "1 failed event(s) reset" in result.output
    assert "1 done" in result.output
    assert the_event(app).status == EventStatus.DONE
    assert order_count(app) == 1


def test_a_processed_event_is_not_applied_twice(app: Flask, shop: str, send_webhook: Send) -> None:
    send_webhook("orders/create", "orders_create__basic")
    event_id = the_event(app).id
    with app.app_context():
        first, second = processing.process_event(event_id), processing.process_event(event_id)
    assert (first.status, second.status) == ("done", "skipped")
    assert the_event(app).attempts == 1


def test_a_worker_killed_mid_job_leaves_the_event_for_the_sweeper(app: Flask, shop: str, send_webhook: Send,
                                                                  drain: Callable[[], int],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    real_apply = orders.apply_order

    def killed(*args: Any) -> Any:
        real_apply(*args)  # the writes are made...
        raise SystemExit("worker killed")  # ...and the process dies before the commit

    monkeypatch.setattr(orders, "apply_order", killed)
    send_webhook("orders/create", "orders_create__basic")
    with pytest.raises(SystemExit):
        drain()
    monkeypatch.setattr(orders, "apply_order", real_apply)
    event = the_event(app)
    assert (event.status, event.attempts) == (EventStatus.PENDING, 0)
    assert order_count(app) == 0

    handed_out_minutes_ago(app, 2)
    assert sweep(app) == 1
    drain()
    assert the_event(app).status == EventStatus.DONE
    assert order_count(app) == 1


def test_a_lost_enqueue_is_picked_up_by_the_sweeper_and_not_before(app: Flask, shop: str, send_webhook: Send,
                                                                   drain: Callable[[], int]) -> None:
    send_webhook("orders/create", "orders_create__basic")
    with app.app_context():
        assert len(claim_new_events()) == 1  # the dispatcher claimed it and died before enqueueing
    assert huey.pending_count() == 0
    assert sweep(app) == 0  # too young to be called lost
    handed_out_minutes_ago(app, 2)
    assert sweep(app) == 1
    assert sweep(app) == 0  # handed out again just now: not again before another minute
    drain()  # the event's job (and the product-tag fetch its order asks for)
    assert (the_event(app).status, the_event(app).attempts) == (EventStatus.DONE, 1)
