"""Deployment: the Procfile's commands are the container's and compose's, the release command migrates
a fresh database, the web command serves /healthz, and a SIGTERM (how platforms stop a process) loses
no webhook in flight and no running job."""

from __future__ import annotations

import contextlib
import json
import shlex
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from cxplugin.extensions import db
from cxplugin.models import EventStatus, Order, WebhookEvent
from tests import processes
from tests.conftest import Send
from tests.shopify_signing import fixture, webhook_headers


def test_the_procfile_names_web_worker_and_release_and_the_container_runs_the_same_commands() -> None:
    commands = processes.procfile()
    assert commands == {"web": "gunicorn -c gunicorn.conf.py wsgi:app", "worker": "flask --app wsgi cx worker",
                        "release": "flask --app wsgi db upgrade"}
    compose = (processes.ROOT / "compose.yaml").read_text()
    dockerfile = (processes.ROOT / "Dockerfile").read_text()
    for command in commands.values():
        assert f"command: {json.dumps(shlex.split(command))}" in compose, command
    assert f"CMD {json.dumps(shlex.split(commands['web']))}" in dockerfile


def test_the_release_command_migrates_a_fresh_database_and_a_second_run_changes_nothing(
        base_config: dict[str, Any], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    env = processes.process_env(dict(base_config, SQLALCHEMY_DATABASE_URI=url))
    for _ in range(2):
        done = subprocess.run(shlex.split(processes.procfile()["release"]), cwd=processes.ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
    with contextlib.closing(sqlite3.connect(tmp_path / "fresh.db")) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        (head,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert {"shops", "webhook_events", "orders", "shipments", "surveys"} <= tables
    migrations = processes.ROOT / "migrations" / "versions"
    assert any(path.name.startswith(head) for path in migrations.glob("*.py")), head


@contextlib.contextmanager
def writes_held(app: Flask) -> Iterator[None]:
    """Hold the events table, so that intake's insert waits (as under a slow database) until released."""
    with app.app_context():
        url = db.engine.url
    if url.get_backend_name() == "postgresql":
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("LOCK TABLE webhook_events IN EXCLUSIVE MODE"))
                yield
                conn.rollback()
        finally:
            engine.dispose()
    else:
        conn = sqlite3.connect(str(url.database), isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield
            conn.execute("ROLLBACK")
        finally:
            conn.close()


def test_sigterm_to_the_web_process_answers_the_webhooks_in_flight_and_each_answered_one_is_a_row(
        app: Flask, config: dict[str, Any], shop: str, tmp_path: Path) -> None:
    port, log = processes.free_port(), tmp_path / "web.log"
    env = processes.process_env(config, PORT=str(port), WEB_CONCURRENCY="1", GUNICORN_THREADS="4")
    web = processes.start("web", env, log)
    statuses: dict[int, int | str] = {}

    def deliver(n: int) -> None:
        body = json.dumps(dict(fixture("orders_create__basic"), id=9_000_000 + n)).encode()
        try:
            headers = webhook_headers("orders/create", body, event_id=f"term-{n}")
            statuses[n] = requests.post(f"http://127.0.0.1:{port}/webhooks", data=body, headers=headers,
                                        timeout=30).status_code
        except requests.RequestException as exc:
            statuses[n] = repr(exc)

    try:
        processes.wait_healthy(port, web, log)
        with writes_held(app):
            senders = [threading.Thread(target=deliver, args=(n,)) for n in range(4)]
            for sender in senders:
                sender.start()
            time.sleep(1.0)  # all four are inside the app now, waiting for the database
            web.terminate()
            time.sleep(0.5)
            assert web.poll() is None, "gunicorn left before its requests were answered"
        for sender in senders:
            sender.join(30)
        assert web.wait(timeout=30) == 0
    finally:
        processes.stop(web)
    assert statuses == {n: 200 for n in range(4)}, log.read_text()[-3000:]
    with app.app_context():
        recorded = set(db.session.scalars(sa.select(WebhookEvent.event_id)))
    assert recorded == {f"term-{n}" for n in range(4)}


def job_waiting_for_orders(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(sa.text(
            "SELECT count(*) FROM pg_locks WHERE relation = 'orders'::regclass AND NOT granted")).scalar())


def test_sigterm_to_a_worker_lets_its_running_job_finish_before_it_exits(
        app: Flask, config: dict[str, Any], shop: str, send_webhook: Send, tmp_path: Path) -> None:
    if not config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("stops a job midway with a table lock, which needs PostgreSQL: set DATABASE_URL (CI does)")
    log = tmp_path / "worker.log"
    assert send_webhook("orders/create", "orders_create__basic", event_id="term-job").status_code == 200
    engine = sa.create_engine(config["SQLALCHEMY_DATABASE_URI"])
    worker = processes.start("worker", processes.process_env(config, CX_STUCK_AFTER_SECONDS="3600"), log)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("LOCK TABLE orders IN SHARE ROW EXCLUSIVE MODE"))
            deadline = time.monotonic() + 30
            while not job_waiting_for_orders(engine):
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.1)
            worker.terminate()  # the job is midway, waiting for the orders table
            time.sleep(1.0)
            assert worker.poll() is None, "the worker left with a job running"
            conn.rollback()
        assert worker.wait(timeout=30) == 0
    finally:
        processes.stop(worker)
        engine.dispose()
    with app.app_context():
        event = db.session.scalars(sa.select(WebhookEvent)).one()
        assert (event.status, event.attempts) == (EventStatus.DONE, 1)  # done by this worker, not a later sweep
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 1
