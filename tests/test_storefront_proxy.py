"""GET /proxy/promise as the storefront reaches it through Shopify's app proxy."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient

from tests.conftest import Send
from tests.fake_shopify import FakeShopify
from tests.shopify_signing import SHOP, fixture, proxy_query, session_token

PRE_ORDER_PRODUCT = fixture("products_update__basic")["id"]  # tagged "pre-order, summer"

EVERY_DAY = {"promise": {
    "cutoff": "23:59", "processing_days": {"min": 0, "max": 0}, "dispatch_weekdays": [0, 1, 2, 3, 4, 5, 6],
    "carrier_weekdays": [0, 1, 2, 3, 4, 5, 6], "observe_origin_holidays": False,
    "observe_destination_holidays": False,
    "zones": [{"name": "Domestic", "regions": ["US"], "transit_days": {"min": 1, "max": 3}}],
    "default_zone": None,
}}


def settings(client: FlaskClient, patch: dict[str, Any]) -> None:
    response = client.put("/api/admin/settings", json=patch, headers={"Authorization": f"Bearer {session_token()}"})
    assert response.status_code == 200, response.get_json()


def ask(client: FlaskClient, **params: Any) -> Any:
    return client.get("/proxy/promise?" + proxy_query({k: str(v) for k, v in params.items()}))


def test_promise_dates_follow_the_settings_in_the_shops_time_zone(client: FlaskClient, shop: str) -> None:
    settings(client, EVERY_DAY)
    response = ask(client, country="US", locale="en")
    assert response.status_code == 200
    answer = response.get_json()
    today = datetime.now(ZoneInfo("America/New_York")).date()
    assert answer["served"] is True
    assert answer["earliest"] == (today + timedelta(days=1)).isoformat()
    assert answer["latest"] == (today + timedelta(days=3)).isoformat()
    assert answer["rule"] == "zone:Domestic"
    assert 0 <= answer["seconds_to_cutoff"] <= 24 * 3600
    assert answer["text"]["arrival"].startswith("Arrives ")
    assert "{countdown}" in answer["text"]["countdown"]
    assert response.headers["Cache-Control"] == "private, max-age=60"


@pytest.mark.parametrize(("locale", "direction", "word"), [("he", "rtl", "יגיע"), ("ar", "rtl", "يصل"),
                                                          ("nl", "ltr", "Bezorgd"), ("pt-BR", "ltr", "Chega"),
                                                          ("de-CH", "ltr", "Lieferung"), ("xx", "ltr", "Arrives")])
def test_sentences_come_in_the_shoppers_language(client: FlaskClient, shop: str, locale: str, direction: str,
                                                 word: str) -> None:
    answer = ask(client, country="US", locale=locale).get_json()
    assert answer["dir"] == direction
    assert answer["text"]["arrival"].startswith(word)


def test_a_country_outside_every_zone_gets_an_explicit_no_promise(client: FlaskClient, shop: str) -> None:
    settings(client, EVERY_DAY)
    answer = ask(client, country="JP", locale="en").get_json()
    assert (answer["served"], answer["reason"], answer["earliest"]) == (False, "destination_not_served", None)
    assert answer["text"]["not_served"] == "No delivery estimate for Japan yet"


def test_pre_order_tag_from_the_products_webhook_pushes_the_dates_out(
        client: FlaskClient, shop: str, send_webhook: Send, drain: Callable[[], int]) -> None:
    settings(client, EVERY_DAY)
    plain = ask(client, country="US", product_id=1234).get_json()
    assert send_webhook("products/update", "products_update__basic").status_code == 200
    drain()
    pre_order = ask(client, country="US", product_id=PRE_ORDER_PRODUCT).get_json()
    assert pre_order["rule"] == "zone:Domestic+tag:pre-order"
    days_later = (datetime.fromisoformat(pre_order["latest"]) - datetime.fromisoformat(plain["latest"])).days
    assert days_later == 21  # the default pre-order rule: 14–21 processing days
    cart = ask(client, country="US", product_ids=f"1234,{PRE_ORDER_PRODUCT}").get_json()
    assert cart["latest"] == pre_order["latest"]  # the slowest item decides


def test_an_unknown_product_is_answered_untagged_and_its_tags_fetched_once_by_the_worker(
        client: FlaskClient, shop: str, fake_shopify: FakeShopify, drain: Callable[[], int]) -> None:
    fake_shopify.add_shop(SHOP, access_token="shpat_test")
    fake_shopify.add_product("gid://shopify/Product/777", ["made-to-order"])
    first = ask(client, country="US", product_id=777).get_json()
    again = ask(client, country="US", product_id=777).get_json()
    assert first["rule"] == again["rule"] == "zone:Domestic"  # not known yet: as if untagged
    assert fake_shopify.graphql_calls == []  # the storefront never waits on Shopify
    drain()
    fetched = ask(client, country="US", product_id=777).get_json()
    assert fetched["rule"].endswith("tag:made-to-order")
    assert [c.operation_name for c in fake_shopify.graphql_calls] == ["ProductTags"]


def test_unsigned_or_tampered_requests_get_401(client: FlaskClient, shop: str) -> None:
    assert client.get("/proxy/promise?country=US").status_code == 401
    signed = proxy_query({"country": "US"})
    assert client.get("/proxy/promise?" + signed.replace("country=US", "country=NL")).status_code == 401
    assert client.get("/proxy/promise?" + proxy_query({"country": "US"}, secret="x" * 40)).status_code == 401


def test_a_replayed_request_is_refused_after_its_window(client: FlaskClient, shop: str) -> None:
    stale = proxy_query({"country": "US"}, timestamp=int(datetime.now().timestamp()) - 3600)
    assert client.get("/proxy/promise?" + stale).status_code == 401


def test_another_shop_that_does_not_use_the_app_gets_404(client: FlaskClient, shop: str) -> None:
    query = proxy_query({"country": "US"}, shop="stranger.myshopify.com")
    assert client.get("/proxy/promise?" + query).status_code == 404


@pytest.mark.parametrize("params", [{"country": "USA"}, {"product_id": "abc"}, {"region": "<script>"},
                                    {"product_ids": ",".join(str(n) for n in range(1, 52))},
                                    {"product_id": "99999999999999999999"}, {"product_id": "0"},
                                    {"product_ids": f"1,{2**63}"}, {"variant_id": "-5"}])
def test_malformed_parameters_get_400(client: FlaskClient, shop: str, params: dict[str, str]) -> None:
    response = ask(client, **params)
    assert response.status_code == 400
    assert response.get_json()["errors"]


def test_a_warm_request_makes_no_database_query(app: Any, client: FlaskClient, shop: str, send_webhook: Send,
                                                drain: Callable[[], int]) -> None:
    import sqlalchemy as sa

    from cxplugin.extensions import db

    send_webhook("products/update", "products_update__basic")
    drain()
    ask(client, country="US", product_id=PRE_ORDER_PRODUCT)  # warms the held shop, settings and tags
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        assert ask(client, country="US", product_id=PRE_ORDER_PRODUCT).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert statements == []


def test_a_change_to_settings_or_tags_shows_at_once(client: FlaskClient, shop: str, send_webhook: Send,
                                                    drain: Callable[[], int]) -> None:
    settings(client, EVERY_DAY)
    before = ask(client, country="US", product_id=PRE_ORDER_PRODUCT).get_json()
    settings(client, {"promise": {"zones": [{"name": "Domestic", "regions": ["US"],
                                             "transit_days": {"min": 5, "max": 6}}]}})
    after = ask(client, country="US", product_id=PRE_ORDER_PRODUCT).get_json()
    assert (datetime.fromisoformat(after["latest"]) - datetime.fromisoformat(before["latest"])).days == 3
    send_webhook("products/update", "products_update__basic")  # now tagged pre-order
    drain()
    assert ask(client, country="US", product_id=PRE_ORDER_PRODUCT).get_json()["rule"].endswith("tag:pre-order")


CUTOFF_AT_14 = {"promise": {**EVERY_DAY["promise"], "cutoff": "14:00"}}


def at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    """Set the clock the promise view reads."""
    import cxplugin.storefront.proxy as proxy

    monkeypatch.setattr(proxy, "utcnow", lambda: moment)


def test_a_repeated_question_keeps_its_dates_while_the_countdown_moves(
        client: FlaskClient, shop: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings(client, CUTOFF_AT_14)
    new_york = ZoneInfo("America/New_York")
    at(monkeypatch, datetime(2026, 11, 25, 13, 0, tzinfo=new_york))
    first = ask(client, country="US", locale="en").get_json()
    at(monkeypatch, datetime(2026, 11, 25, 13, 20, 30, tzinfo=new_york))
    later = ask(client, country="US", locale="en").get_json()
    assert first["seconds_to_cutoff"] == 3600
    assert later["seconds_to_cutoff"] == 39 * 60 + 30
    assert (later["earliest"], later["latest"]) == (first["earliest"], first["latest"]) == ("2026-11-26", "2026-11-28")


def test_once_the_cutoff_passes_the_same_question_gets_the_next_days_dates(
        client: FlaskClient, shop: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings(client, CUTOFF_AT_14)
    new_york = ZoneInfo("America/New_York")
    at(monkeypatch, datetime(2026, 11, 25, 13, 59, 59, tzinfo=new_york))
    before = ask(client, country="US", locale="en").get_json()
    at(monkeypatch, datetime(2026, 11, 25, 14, 0, tzinfo=new_york))
    after = ask(client, country="US", locale="en").get_json()
    assert (before["earliest"], before["seconds_to_cutoff"]) == ("2026-11-26", 1)
    assert (after["earliest"], after["latest"]) == ("2026-11-27", "2026-11-29")
    assert after["seconds_to_cutoff"] == 24 * 3600


def test_the_answer_does_not_depend_on_shopifys_signing_parameters(
        client: FlaskClient, shop: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings(client, CUTOFF_AT_14)
    at(monkeypatch, datetime(2026, 11, 25, 12, 0, tzinfo=ZoneInfo("America/New_York")))
    import time

    now = int(time.time())
    first = client.get("/proxy/promise?" + proxy_query({"country": "US"}, timestamp=now))
    second = client.get("/proxy/promise?" + proxy_query({"country": "US"}, timestamp=now - 30))
    assert first.status_code == second.status_code == 200
    assert first.get_json() == second.get_json()
    tampered = "/proxy/promise?" + proxy_query({"country": "US"}, timestamp=now).replace("country=US", "country=CA")
    assert client.get(tampered).status_code == 401  # a held answer is never served to an unsigned request


def test_a_settings_change_made_in_another_web_process_shows_within_a_second(
        config: dict[str, Any], client: FlaskClient, shop: str) -> None:
    import time

    from cxplugin import create_app
    from cxplugin.extensions import db
    from cxplugin.shops.snapshot import STAMP_CHECK_SECONDS

    settings(client, EVERY_DAY)
    before = ask(client, country="US").get_json()
    other_app = create_app(config)  # another gunicorn worker: memory of its own
    slower = {"promise": {"zones": [{"name": "Domestic", "regions": ["US"], "transit_days": {"min": 5, "max": 6}}]}}
    try:
        settings(other_app.test_client(), slower)
    finally:
        with other_app.app_context():
            db.engine.dispose()
    time.sleep(STAMP_CHECK_SECONDS + 0.2)
    after = ask(client, country="US").get_json()
    days = (datetime.fromisoformat(after["latest"]) - datetime.fromisoformat(before["latest"])).days
    assert days == 3  # transit 1–3 became 5–6 days, though this process held the old answer
