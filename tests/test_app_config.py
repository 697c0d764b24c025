"""shopify.app.toml, the migrations, the models and gunicorn.conf.py agree with each other and with the code."""

from __future__ import annotations

import gc
import runpy
import tomllib
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from cxplugin.config import SHOPIFY_API_VERSION, SHOPIFY_SCOPES
from cxplugin.extensions import db
from cxplugin.webhooks.topics import SUBSCRIBABLE, TOPICS, Kind


def test_migrations_build_exactly_the_schema_the_models_describe(app: Flask) -> None:
    with app.app_context(), db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), db.metadata) == []


def test_toml_subscribes_to_every_topic_we_handle(repo_root: Path) -> None:
    toml = tomllib.loads((repo_root / "shopify.app.toml").read_text())
    subscriptions = toml["webhooks"]["subscriptions"]
    topics = {t for s in subscriptions for t in s.get("topics", [])}
    compliance = {t for s in subscriptions for t in s.get("compliance_topics", [])}
    assert topics == set(SUBSCRIBABLE)
    assert compliance == {name for name, t in TOPICS.items() if t.kind is Kind.COMPLIANCE}
    assert toml["webhooks"]["api_version"] == SHOPIFY_API_VERSION
    assert toml["access_scopes"]["scopes"] == SHOPIFY_SCOPES
    assert toml["app_proxy"]["subpath"]


def test_a_gunicorn_worker_leaves_what_it_loaded_out_of_full_garbage_collections(repo_root: Path) -> None:
    post_worker_init = runpy.run_path(str(repo_root / "gunicorn.conf.py"))["post_worker_init"]
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        post_worker_init(None)  # gunicorn calls it once the worker has loaded the app
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
