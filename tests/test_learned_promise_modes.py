"""Promise modes: the storefront and each order use the learned promise only in `learned` mode, and say so."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from cxplugin.extensions import db
from cxplugin.models import Order, PromiseModel
from cxplugin.promise.model import Delivery
from cxplugin.tasks import rebuild_learned_promises
from tests.conftest import Send
from tests.shopify_signing import SHOP, fixture, proxy_query, session_token
from tests.test_learned_promise import write_history


def auth() -> dict[str, str]:
    """A fresh session token per request, as App Bridge gives one (they live a minute)."""
    return {"Authorization": f"Bearer {session_token()}"}


def slow_new_york_history(now: datetime, orders: int = 120) -> list[Delivery]:
    """Parcels to New York that always take 8–9 days in transit, shipped the day after the order."""
    rng = random.Random(3)
    out = []
    for n in range(orders):
        placed = now - timedelta(days=150) + timedelta(hours=n * 24)
        shipped = placed + timedelta(hours=20)
        delivered = shipped + timedelta(days=11 + rng.random())  # 11–12 calendar days ≈ 8–9 carrier days
        out.append(Delivery(f"H{n}", placed, shipped, delivered, "US", "NY", "10001", "", "ups"))
    return out


def learn(runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    write_history(path, slow_new_york_history(datetime.now(UTC)))
    assert runner.invoke(args=["cx", "history", "import", str(path), "--shop", SHOP]).exit_code == 0
    result = runner.invoke(args=["cx", "promise", "learn", "--shop", SHOP])
    assert result.exit_code == 0 and "Learned promise version 1: 120 deliveries" in result.output


def ask(client: FlaskClient) -> Any:
    response = client.get("/proxy/promise?" + proxy_query({"country": "US", "region": "NY"}))
    assert response.status_code == 200
    return response.get_json()


def set_mode(client: FlaskClient, mode: str) -> None:
    assert client.put("/api/admin/settings", json={"promise": {"mode": mode}}, headers=auth()).status_code == 200


def test_the_storefront_promises_what_the_deliveries_taught_only_in_learned_mode(
        shop: str, client: FlaskClient, runner: FlaskCliRunner, tmp_path: Path) -> None:
    learn(runner, tmp_path)
    fixed = ask(client)
    assert fixed["mode"] == "fixed"
    set_mode(client, "suggest")
    assert ask(client)["latest"] == fixed["latest"]  # suggest shows, it does not promise
    set_mode(client, "learned")
    learned = ask(client)
    assert learned["mode"] == "learned"
    # The fixed domestic zone says 2–4 transit days; New York takes 8–9: the learned promise is later.
    assert date.fromisoformat(learned["latest"]) > date.fromisoformat(fixed["latest"])
    assert learned["text"]["arrival"]


def test_a_destination_the_model_never_saw_gets_the_fixed_promise_in_learned_mode(
        shop: str, client: FlaskClient, runner: FlaskCliRunner, tmp_path: Path) -> None:
    learn(runner, tmp_path)
    before = client.get("/proxy/promise?" + proxy_query({"country": "DE"})).get_json()
    set_mode(client, "learned")
    after = client.get("/proxy/promise?" + proxy_query({"country": "DE"})).get_json()
    assert (after["mode"], after["latest"]) == ("fixed", before["latest"])


def test_an_order_records_which_mode_and_model_version_made_its_promise(
        app: Flask, shop: str, client: FlaskClient, runner: FlaskCliRunner, send_webhook: Send,
        drain: Callable[[], int], tmp_path: Path) -> None:
    learn(runner, tmp_path)
    set_mode(client, "learned")
    order = fixture("orders_create__basic")
    order["note_attributes"] = []
    order["created_at"] = order["updated_at"] = datetime.now(UTC).isoformat()
    order["shipping_address"] = {**order["shipping_address"], "province_code": "NY", "country_code": "US"}
    assert send_webhook("orders/create", order).status_code == 200
    drain()
    with app.app_context():
        held = db.session.scalars(sa.select(Order)).one()
        assert (held.promise_source, held.promise_mode, held.promise_model_version) == ("computed", "learned", 1)


def test_the_admin_sees_the_learned_routes_and_how_they_would_have_done(
        shop: str, client: FlaskClient, runner: FlaskCliRunner, tmp_path: Path) -> None:
    learn(runner, tmp_path)
    answer = client.get("/api/admin/promise/learned", headers=auth()).get_json()
    assert answer["mode"] == "fixed" and answer["target"] == 0.95
    assert answer["model"]["version"] == 1 and answer["model"]["deliveries"] == 120
    ny = next(r for r in answer["model"]["routes"] if r["route"] == "US|NY|ups")
    assert ny["transit_days"][1] >= 8 and "learned from 120 deliveries to US-NY by ups" == ny["explanation"]
    recent = answer["last_90_days"]
    assert recent["learned"]["orders"] == recent["fixed"]["orders"] > 50
    assert recent["learned"]["on_time_rate"] > recent["fixed"]["on_time_rate"]


def test_a_rebuild_on_demand_runs_in_the_background_and_makes_a_new_version(
        app: Flask, shop: str, client: FlaskClient, runner: FlaskCliRunner, drain: Callable[[], int],
        tmp_path: Path) -> None:
    learn(runner, tmp_path)
    response = client.post("/api/admin/promise/learn", headers=auth())
    assert response.status_code == 202
    drain()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.max(PromiseModel.version))) == 2


def test_the_nightly_rebuild_covers_only_shops_that_use_or_consider_the_learned_promise(
        app: Flask, shop: str, client: FlaskClient, runner: FlaskCliRunner, drain: Callable[[], int],
        tmp_path: Path) -> None:
    learn(runner, tmp_path)
    assert rebuild_learned_promises.call_local() == {"enqueued": 0}
    set_mode(client, "suggest")
    assert rebuild_learned_promises.call_local() == {"enqueued": 1}
    drain()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.max(PromiseModel.version))) == 2


def test_a_target_outside_the_range_is_refused_with_the_field_named(shop: str, client: FlaskClient) -> None:
    response = client.put("/api/admin/settings", json={"promise": {"target_on_time": 1.0, "mode": "clever"}},
                          headers=auth())
    assert response.status_code == 422
    errors = response.get_json()["errors"]["promise"]
    assert set(errors) == {"target_on_time", "mode"}
