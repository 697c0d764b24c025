"""The real worker process: a webhook answered by the web app is applied by `cx worker`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from cxplugin.extensions import db
from cxplugin.models import EventStatus, Order, WebhookEvent
from tests.conftest import Send


def worker_env(config: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        SHOPIFY_API_KEY=config["SHOPIFY_API_KEY"], SHOPIFY_API_SECRET=config["SHOPIFY_API_SECRET"],
        DATABASE_URL=config["SQLALCHEMY_DATABASE_URI"], CX_QUEUE_NAME=config["CX_QUEUE_NAME"],
        CX_QUEUE_PATH=config["CX_QUEUE_PATH"], CX_ENCRYPTION_KEY=config["CX_ENCRYPTION_KEY"],
    )
    if config["REDIS_URL"]:
        env["REDIS_URL"] = config["REDIS_URL"]
    return env


def test_worker_process_applies_the_webhook(app: Flask, config: dict[str, Any], shop: str, send_webhook: Send,
                                            repo_root: Path) -> None:
    assert send_webhook("orders/create", "orders_create__basic").status_code == 200
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "cx", "worker", "--workers", "1"],
                              cwd=repo_root, env=worker_env(config), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline:
            with app.app_context():
                status = db.session.scalar(sa.select(WebhookEvent.status))
                db.session.rollback()
            if status == EventStatus.DONE:
                break
            time.sleep(0.2)
        assert status == EventStatus.DONE
        with app.app_context():
            assert db.session.scalar(sa.select(Order.name)) == "#1001"
    finally:
        worker.send_signal(signal.SIGINT)
        try:
            output, _ = worker.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
    jobs = [json.loads(line).get("job") for line in output.decode().splitlines() if line.startswith("{")]
    assert "process_webhook_event" in jobs, output.decode()[-2000:]
