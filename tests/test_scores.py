"""GET /api/admin/scores (and .csv), /responses, the follow-up mark and the preview, against a small history whose
every figure is computed again, separately, in tests/scores_history.py."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from cxplugin.extensions import db
from cxplugin.models import ScoreDay, Shop, Survey
from cxplugin.scores import rollup, rules
from cxplugin.shops import lifecycle
from tests import scores_history as h
from tests.conftest import Send
from tests.shopify_signing import fixture, session_token

OTHER_SHOP = "other-shop.myshopify.com"
RANGE = {"from": "2026-01-01", "to": "2026-07-31"}


def get(client: FlaskClient, path: str, token: str | None = None, **params: Any) -> TestResponse:
    headers = {"Authorization": f"Bearer {token or session_token()}"}
    return client.get(path, headers=headers, query_string=params)


@pytest.fixture
def history(app: Flask, shop: str, send_webhook: Send, drain: Callable[[], int]) -> None:
    h.allow_the_shown_promises(app)
    h.send_history(send_webhook, drain)
    h.write_answers(app)


def today() -> Any:
    return datetime.now(UTC).astimezone(h.TZ).date()


def test_scores_equal_an_independent_count_of_the_same_history(client: FlaskClient, history: None) -> None:
    got = get(client, "/api/admin/scores", **RANGE).get_json()
    want = h.expected(today())
    assert (got["from"], got["to"]) == ("2026-01-01", "2026-07-31")
    for key in ("delivered", "with_promise", "on_time", "early", "rate", "mean_days_late"):
        assert got["on_time"][key] == want["on_time"][key], key
    for section in ("csat", "nps"):
        assert {k: got[section][k] for k in want[section]} == want[section]
    assert got["response_rate"] == want["response_rate"]
    assert [{"bucket": b["bucket"], "orders": b["orders"],
             "csat": {k: b["csat"][k] for k in ("answers", "satisfied", "rate", "distribution")},
             "nps": {k: b["nps"][k] for k in ("answers", "promoters", "passives", "detractors", "score")}}
            for b in got["by_punctuality"]] == want["by_punctuality"]
    assert {k: got["repeat_purchase"][k] for k in ("on_time", "late")} == want["repeat_purchase"]
    destinations = {(r["country"], r["zone"]): {k: r[k] for k in ("deliveries", "with_promise", "on_time_rate")}
                    | {"csat": {k: r["csat"][k] for k in ("answers", "satisfied", "rate", "distribution")}}
                    for r in got["by_destination"]}
    assert destinations == want["by_destination"]
    carriers = {r["carrier"]: {k: r[k] for k in ("deliveries", "with_promise", "on_time_rate")}
                | {"csat": {k: r["csat"][k] for k in ("answers", "satisfied", "rate", "distribution")}}
                for r in got["by_carrier"]}
    assert carriers == want["by_carrier"]
    weekly = {w["week"]: {"on_time_rate": w["on_time"]["rate"], "with_promise": w["on_time"]["with_promise"],
                          "csat": {k: w["csat"][k] for k in ("answers", "satisfied", "rate", "distribution")},
                          "nps": {k: w["nps"][k] for k in ("answers", "promoters", "passives", "detractors", "score")}}
              for w in got["weekly"]}
    assert weekly == want["weekly"]
    assert [c["comment"] for c in got["comments"]] == want["comments"]


def test_the_history_by_hand(client: FlaskClient, history: None) -> None:
    got = get(client, "/api/admin/scores", **RANGE).get_json()
    # 12 delivered, 11 with a promise; on time: #1 #3 #5 #6 #7 (23:30 shop time) #9; early: #3.
    assert got["on_time"]["rate"] == round(6 / 11, 4)
    assert (got["on_time"]["delivered"], got["on_time"]["early"], got["on_time"]["late"]) == (12, 1, 5)
    assert got["on_time"]["mean_days_late"] == 2.4  # late by 2, 1, 4, 4, 1
    assert got["csat"]["distribution"] == {"1": 1, "2": 2, "3": 1, "4": 2, "5": 3}
    assert got["csat"]["rate"] == round(5 / 9, 4)
    assert (got["nps"]["promoters"], got["nps"]["passives"], got["nps"]["detractors"], got["nps"]["score"]) == \
        (3, 2, 3, 0.0)
    assert got["response_rate"] == {"sent": 11, "answered": 9, "rate": round(9 / 11, 4)}
    # Customer 3: late in January and not back within 90 days; on time in May and back in June.
    # On time: c1 back, c4 not, c3 back, eve not (4 customers: too few for a rate). Late: c3 not, c4 back,
    # eve back, c7 not, c8 not.
    assert got["repeat_purchase"]["on_time"] == {"customers": 4, "returned": 2, "rate": None}
    assert got["repeat_purchase"]["late"] == {"customers": 5, "returned": 2, "rate": 0.4}
    assert [b["orders"] for b in got["by_punctuality"]] == [6, 2, 1, 2]
    assert [c["comment"] for c in got["comments"]] == ["ok", "Better", "Four days late", "Late again", "Fast!"]
    assert (got["comments"][0]["csat"], got["comments"][0]["order_name"]) == (5, "#1010")


def test_a_customer_who_came_back_only_after_an_on_time_delivery(app: Flask, client: FlaskClient, shop: str,
                                                                 send_webhook: Send,
                                                                 drain: Callable[[], int]) -> None:
    h.allow_the_shown_promises(app)
    h.send_history(send_webhook, drain, [r for r in h.HISTORY if r.customer == 3])
    got = get(client, "/api/admin/scores", **RANGE).get_json()["repeat_purchase"]
    assert (got["on_time"]["customers"], got["on_time"]["returned"]) == (1, 1)
    assert (got["late"]["customers"], got["late"]["returned"]) == (1, 0)


@pytest.mark.parametrize(("days_late", "bucket"), [
    (0, "on_time"), (1, "1_day_late"), (2, "2_3_days_late"), (3, "2_3_days_late"), (4, "4_plus_days_late"),
])
def test_a_delivery_falls_in_the_bucket_of_its_days_late(days_late: int, bucket: str) -> None:
    assert rules.bucket(days_late) == bucket


def test_the_default_range_is_the_last_30_days_in_the_shops_time_zone(client: FlaskClient, shop: str) -> None:
    got = get(client, "/api/admin/scores").get_json()
    assert got["to"] == today().isoformat()
    assert (today() - datetime.fromisoformat(got["from"]).date()).days == 29
    assert got["on_time"]["rate"] is None and got["nps"]["score"] is None


def test_the_csv_holds_the_same_figures_and_says_when_answers_are_too_few(client: FlaskClient,
                                                                          history: None) -> None:
    response = get(client, "/api/admin/scores.csv", **RANGE)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = {(r["section"], r["group"], r["figure"]): r["value"] for r in csv.DictReader(io.StringIO(response.text))}
    assert rows[("on_time", "all", "rate")] == str(round(6 / 11, 4))
    assert rows[("repeat_purchase", "all", "on_time.rate")] == "not enough answers"
    assert rows[("by_carrier", "DHL", "csat.rate")] == "not enough answers"
    assert rows[("csat", "all", "distribution.5")] == "3"


def test_figures_stay_exact_when_webhooks_come_out_of_order_and_a_customer_is_redacted(
        app: Flask, client: FlaskClient, shop: str, send_webhook: Send, drain: Callable[[], int]) -> None:
    h.allow_the_shown_promises(app)
    h.send_history(send_webhook, drain, fulfillment_first=True)  # every fulfilment before its order
    h.write_answers(app)
    assert get(client, "/api/admin/scores", **RANGE).get_json()["on_time"]["rate"] == round(6 / 11, 4)
    before = get(client, "/api/admin/scores", **RANGE).get_json()
    redact = fixture("customers_redact__basic") | {"shop_domain": shop, "orders_to_redact": [h.order_id(8)]}
    redact["customer"] = {"id": None, "email": "eve@example.com", "phone": None}
    assert send_webhook("customers/redact", redact).status_code == 200
    drain()
    # A retried order payload after the redaction brings no e-mail back; Eve stays one customer.
    replay = fixture("orders_create__basic") | {"id": h.order_id(9), "updated_at": "2026-04-02T09:00:00-04:00",
                                                "created_at": "2026-04-01T09:00:00-04:00", "customer": None,
                                                "email": None, "contact_email": None, "name": "#1009"}
    replay["shipping_address"] = {**replay["shipping_address"], "country_code": "NL", "province_code": None}
    replay["note_attributes"] = [{"name": "_cx_promise", "value": '{"earliest":"2026-04-05","latest":"2026-04-08"}'}]
    assert send_webhook("orders/updated", replay).status_code == 200
    drain()
    after = get(client, "/api/admin/scores", **RANGE).get_json()
    assert [c["comment"] for c in after["comments"]] == ["ok", "Late again", "Fast!"]  # both of Eve's erased
    assert {k: v for k, v in after.items() if k != "comments"} == {k: v for k, v in before.items() if k != "comments"}
    assert_rollups_match_a_recount(app)


def assert_rollups_match_a_recount(app: Flask) -> None:
    with app.app_context():
        kept = _rollup_rows()
        for shop in db.session.scalars(sa.select(Shop)):
            rollup.rebuild(shop)
        assert _rollup_rows() == kept
        db.session.rollback()


def _rollup_rows() -> dict[tuple[Any, ...], tuple[int, ...]]:
    from cxplugin.models.score import COUNTERS, KEY

    rows = db.session.execute(sa.select(*[getattr(ScoreDay, k) for k in (*KEY, *COUNTERS)]))
    return {tuple(r[:len(KEY)]): tuple(r[len(KEY):]) for r in rows if any(r[len(KEY):])}


# -- responses --------------------------------------------------------------------------------------------------

def test_responses_filter_by_score_question_language_punctuality_and_mark(client: FlaskClient,
                                                                          history: None) -> None:
    def names(**params: Any) -> list[str]:
        response = get(client, "/api/admin/responses", **params)
        assert response.status_code == 200, response.get_json()
        return [r["order_name"] for r in response.get_json()["responses"]]

    assert len(names()) == 10  # answered, any date
    assert names(score=5, question="csat") == ["#1007", "#1010", "#1005", "#1001"]
    assert names(score=9, question="nps") == ["#1009", "#1003"]
    assert names(locale="en") == names()  # every order speaks "en"
    assert names(locale="nl") == []
    assert names(punctuality="4_plus_days_late") == ["#1012", "#1008"]
    first = get(client, "/api/admin/responses", per_page=3, page=2).get_json()
    assert (first["total"], first["pages"], len(first["responses"])) == (10, 4, 3)
    row = first["responses"][0]
    assert set(row) >= {"id", "order_id", "order_name", "csat", "nps", "comment", "locale", "answered_at",
                        "punctuality", "days_late", "mark", "order_url"}
    assert row["order_url"] == f"https://admin.shopify.com/store/cx-test-shop/orders/{row['order_id']}"

    marked = client.put(f"/api/admin/responses/{row['id']}/mark", json={"mark": "contacted"},
                        headers={"Authorization": f"Bearer {session_token()}"})
    assert marked.status_code == 200 and marked.get_json()["mark"] == "contacted"
    assert names(mark="contacted") == [row["order_name"]]
    assert len(names(mark="open")) == 9


def test_a_page_of_responses_is_two_queries_whatever_its_size(app: Flask, client: FlaskClient,
                                                              history: None) -> None:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        get(client, "/api/admin/responses", per_page=3)
        few = len(statements)
        statements.clear()
        get(client, "/api/admin/responses", per_page=10)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == few


# -- bad input --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("token", [
    session_token(lifetime=60, issued_ago=3600),  # expired
    session_token(aud="someone-elses-app"),
    session_token(secret="x" * 40),
    "",
])
@pytest.mark.parametrize("path", ["/api/admin/scores", "/api/admin/scores.csv", "/api/admin/responses",
                                  "/api/admin/preview"])
def test_admin_api_refuses_a_bad_or_missing_session_token(client: FlaskClient, shop: str, token: str,
                                                          path: str) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.get(path, headers=headers)
    assert response.status_code == 401
    assert b"on_time" not in response.data


def test_a_token_for_another_shop_sees_none_of_this_shops_answers_nor_marks_them(
        app: Flask, client: FlaskClient, history: None) -> None:
    with app.app_context():
        lifecycle.add_shop(OTHER_SHOP, "shpat_other", timezone="UTC", country="US")
        db.session.commit()
        ours = db.session.scalar(sa.select(Survey.id).where(Survey.status == "answered").limit(1))
    other = session_token(OTHER_SHOP)
    assert get(client, "/api/admin/scores", other, **RANGE).get_json()["csat"]["answers"] == 0
    assert get(client, "/api/admin/responses", other).get_json()["responses"] == []
    response = client.put(f"/api/admin/responses/{ours}/mark", json={"mark": "resolved"},
                          headers={"Authorization": f"Bearer {other}"})
    assert response.status_code == 404
    with app.app_context():
        assert db.session.get_one(Survey, ours).follow_up == "open"
    unknown = session_token("never-installed.myshopify.com")
    assert get(client, "/api/admin/scores", unknown).status_code == 403


@pytest.mark.parametrize(("params", "message"), [
    ({"from": "2026-02-01", "to": "2026-01-01"}, "after"),
    ({"from": "2026-13-01"}, "YYYY-MM-DD"),
    ({"to": "yesterday"}, "YYYY-MM-DD"),
    ({"from": "2020-01-01", "to": "2026-01-01"}, "5 years"),
])
def test_a_bad_range_is_400_with_the_reason(client: FlaskClient, shop: str, params: dict[str, str],
                                            message: str) -> None:
    for path in ("/api/admin/scores", "/api/admin/scores.csv"):
        response = get(client, path, **params)
        assert response.status_code == 400
        assert message in response.get_json()["message"]


def test_five_years_to_the_day_before_is_the_longest_range(client: FlaskClient, shop: str) -> None:
    assert get(client, "/api/admin/scores", **{"from": "2021-01-02", "to": "2026-01-01"}).status_code == 200


@pytest.mark.parametrize("params", [{"score": "11"}, {"score": "6", "question": "csat"}, {"score": "-1"},
                                    {"question": "ces"}, {"punctuality": "late"}, {"mark": "done"},
                                    {"page": "0"}, {"per_page": "1000"}, {"locale": "<script>"}])
def test_bad_response_filters_are_400(client: FlaskClient, shop: str, params: dict[str, str]) -> None:
    assert get(client, "/api/admin/responses", **params).status_code == 400


def test_an_unknown_mark_is_422_and_changes_nothing(app: Flask, client: FlaskClient, history: None) -> None:
    with app.app_context():
        ours = db.session.scalar(sa.select(Survey.id).where(Survey.status == "answered").limit(1))
    auth = {"Authorization": f"Bearer {session_token()}"}
    assert client.put(f"/api/admin/responses/{ours}/mark", json={"mark": "done"}, headers=auth).status_code == 422
    assert client.put(f"/api/admin/responses/{ours}/mark", data=b"{", headers=auth,
                      content_type="application/json").status_code == 400
    assert client.put("/api/admin/responses/999999/mark", json={"mark": "open"}, headers=auth).status_code == 404
    with app.app_context():
        assert db.session.get_one(Survey, ours).follow_up == "open"


# -- preview ----------------------------------------------------------------------------------------------------

def test_preview_answers_as_the_storefront_would(client: FlaskClient, shop: str) -> None:
    got = get(client, "/api/admin/preview", country="US", locale="nl").get_json()
    assert got["served"] is True and got["locale"] == "nl" and got["earliest"] <= got["latest"]
    assert got["text"]["arrival"]
    assert get(client, "/api/admin/preview", country="USA").status_code == 400



def test_cx_scores_rebuild_recounts_to_the_same_figures(app: Flask, client: FlaskClient, runner: Any,
                                                        history: None) -> None:
    before = get(client, "/api/admin/scores", **RANGE).get_json()
    with app.app_context():
        db.session.execute(sa.delete(ScoreDay))
        db.session.commit()
    assert get(client, "/api/admin/scores", **RANGE).get_json()["on_time"]["delivered"] == 0
    result = runner.invoke(args=["cx", "scores", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "13 orders" in result.output
    assert get(client, "/api/admin/scores", **RANGE).get_json() == before
