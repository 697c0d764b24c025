"""The embedded admin pages through Flask's client: Shopify's session check on every page, what each page
says, bad parameters answered 400, and the charts and settings history they are built from."""

from __future__ import annotations

import email
from collections.abc import Callable
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from cxplugin.admin import figures_source
from cxplugin.admin.charts import Bar, Series, bar_chart, line_chart, scores_charts
from cxplugin.admin.figures_source import PUNCTUALITY_BUCKETS, empty_scores
from cxplugin.admin.history import changed_settings
from cxplugin.extensions import db
from cxplugin.models import OutboxMessage
from cxplugin.schemas.settings import defaults
from tests.conftest import Send
from tests.shopify_signing import SHOP, session_token
from tests.test_surveys import click_and_confirm, deliver, send_due

PAGES = ["/admin", "/admin/settings", "/admin/scores", "/admin/responses", "/admin/outbox", "/admin/at-risk"]
STATIC = Path(__file__).resolve().parent.parent / "cxplugin" / "static"


def embedded(path: str, token: str | None = None, **params: str) -> str:
    query = {"embedded": "1", "shop": SHOP, "host": "YWRtaW4=", **params}
    query["id_token"] = token if token is not None else session_token()
    return f"{path}?{urlencode(query)}"


def text(client: FlaskClient, path: str, **params: str) -> str:
    response = client.get(embedded(path, **params))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


@pytest.mark.parametrize("path", PAGES)
def seed_answers(send: Send, drain: Callable[[], int], runner: FlaskCliRunner, client: FlaskClient,
                 scores: list[int]) -> None:
    """Deliver one order per score and answer its survey through the link in the e-mail (outbox), confirmed by the
    survey page as a shopper's browser does."""
    for n in range(len(scores)):
        deliver(send, drain, order_id=820_000 + n * 10, email=f"shopper{n}@example.com")
    send_due(runner)
    with client.application.app_context():
        raws = [m.raw for m in db.session.query(OutboxMessage).order_by(OutboxMessage.id)]
    assert len(raws) == len(scores)
    for raw, score in zip(raws, scores, strict=True):
        message = email.message_from_string(raw)
        text = next(part.get_payload(decode=True).decode() for part in message.walk()
                    if part.get_content_type() == "text/plain")
        click_and_confirm(client, text, score)


@pytest.mark.parametrize("path", PAGES)
def test_each_page_opens_with_a_valid_session_token_inside_shopify_admin_only(
        client: FlaskClient, shop: str, path: str) -> None:
    response = client.get(embedded(path))
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"].startswith(
        f"frame-ancestors https://{SHOP} https://admin.shopify.com")
    html = response.get_data(as_text=True)
    assert '<meta name="shopify-api-key" content="test-api-key">' in html
    assert "<ui-nav-menu>" in html and 'class="fallback-nav"' in html
    assert "/static/vendor/polaris-tokens.css" in html and "/static/admin.js" in html


@pytest.mark.parametrize("path", PAGES)
def test_a_page_without_a_session_token_goes_to_shopifys_token_refresh(client: FlaskClient, shop: str,
                                                                      path: str) -> None:
    response = client.get(f"{path}?embedded=1&shop={SHOP}")
    assert response.status_code == 302
    # Built on APP_URL, never on the request's Host.
    assert response.headers["Location"].startswith("https://cx.example.test/auth/patch-id-token?")
    assert "shopify-reload=" + path.replace("/", "%2F") in response.headers["Location"]


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize(("case", "token"), [
    ("expired", lambda: session_token(issued_ago=600)),
    ("another app's", lambda: session_token(aud="someone-elses-app")),
    ("forged", lambda: session_token(secret="forged-secret-that-is-long-enough-000")),
])
def test_a_page_with_a_bad_session_token_shows_nothing_of_the_shop(
        client: FlaskClient, shop: str, path: str, case: str, token: Callable[[], str]) -> None:
    response = client.get(embedded(path, token()))
    assert response.status_code in (302, 401), case
    assert b"Settings" not in response.data and SHOP.encode() not in response.data


def test_outbox_is_in_the_menu_only_while_mail_is_kept(app: Flask, client: FlaskClient, shop: str) -> None:
    assert 'href="/admin/outbox"' in text(client, "/admin")
    app.config["MAIL_URL"] = "smtp://127.0.0.1:2525"
    assert 'href="/admin/outbox"' not in text(client, "/admin")
    assert client.get(embedded("/admin/outbox")).status_code == 404


def test_at_risk_is_in_the_menu_and_says_when_nothing_is_at_risk(client: FlaskClient, shop: str) -> None:
    html = text(client, "/admin/at-risk")
    assert "No order is at risk of missing its promise right now." in html
    assert 'href="/admin/at-risk"' in html


def test_settings_page_shows_the_saved_settings_and_what_each_save_changed(client: FlaskClient, shop: str) -> None:
    headers = {"Authorization": f"Bearer {session_token()}"}
    assert client.put("/api/admin/settings", json={"promise": {"cutoff": "16:30"}}, headers=headers).status_code == 200
    assert client.put("/api/admin/settings", json={"surveys": {"delay_days": 5, "alert_email": "ops@example.com"}},
                      headers=headers).status_code == 200
    html = text(client, "/admin/settings")
    assert 'data-field="promise.cutoff" data-kind="text"\n         value="16:30"' in html
    assert 'value="ops@example.com"' in html
    assert "<b>Version 2</b>" in html and "surveys.alert_email, surveys.delay_days" in html
    assert "<b>Version 1</b>" in html and "promise.cutoff</li>" in html


def test_scores_page_defaults_to_the_last_30_days_and_refuses_bad_dates(client: FlaskClient, shop: str) -> None:
    html = text(client, "/admin/scores", **{"from": "2026-01-01", "to": "2026-01-31"})
    assert 'name="from" type="date" value="2026-01-01"' in html
    assert "/api/admin/scores.csv?from=2026-01-01&amp;to=2026-01-31" in html
    for bad in ({"from": "yesterday"}, {"from": "2026-02-01", "to": "2026-01-01"},
                {"from": "2020-01-01", "to": "2026-01-01"}):
        response = client.get(embedded("/admin/scores", **bad))
        assert response.status_code == 400, bad
        assert b"YYYY-MM-DD" in response.data or b"on or before" in response.data


def test_responses_page_refuses_unknown_filters(client: FlaskClient, shop: str) -> None:
    for bad in ({"score": "11"}, {"score": "-1"}, {"question": "mood"}, {"locale": "xx"}, {"punctuality": "soon"},
                {"mark": "done"}, {"page": "0"}):
        assert client.get(embedded("/admin/responses", **bad)).status_code == 400, bad


def test_responses_page_pages_through_the_answers(
        client: FlaskClient, shop: str, runner: FlaskCliRunner, send_webhook: Send, drain: Callable[[], int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(figures_source, "RESPONSES_PER_PAGE", 2)
    seed_answers(send_webhook, drain, runner, client, [5, 3, 1])
    first = text(client, "/admin/responses")
    assert "3 answers" in first and "Page 1 of 2" in first and 'href="/admin/responses?page=2"' in first
    second = text(client, "/admin/responses", page="2")
    assert second.count("<tr data-response=") == 1
    assert "1 answer<" in text(client, "/admin/responses", question="csat", score="3")


def test_static_assets_are_local_and_small() -> None:
    sizes = {p.name: p.stat().st_size for p in STATIC.rglob("*") if p.is_file() and p.suffix in (".css", ".js")}
    assert set(sizes) == {"admin.css", "admin.js", "polaris-tokens.css"}
    assert sum(sizes.values()) < 60_000


def test_a_rate_under_five_answers_is_no_bar_and_reads_not_enough_answers() -> None:
    chart = bar_chart("c", "Satisfied", [Bar("On time", 0.9, "90 %"), Bar("Late", None, "not enough answers")],
                      "Satisfied")
    assert chart.count("<rect") == 1
    assert '<title id="c-t">Satisfied</title>' in chart
    assert "Satisfied: On time 90 %; Late not enough answers." in chart
    assert '<th scope="row">Late</th><td>not enough answers</td>' in chart


def test_a_line_chart_leaves_a_gap_for_weeks_with_too_few_answers() -> None:
    chart = line_chart("w", "Weekly", ["2026-11-02", "2026-11-09", "2026-11-16"],
                       [Series("On time", [0.8, None, 0.9])])
    assert chart.count("<circle") == 2
    assert "On time from 80 % in the week of 2026-11-02 to 90 % in the week of 2026-11-16" in chart


def test_the_empty_figures_have_the_contracts_shape_and_every_chart_renders() -> None:
    figures = empty_scores(date(2026, 11, 1), date(2026, 11, 30))
    assert [row["bucket"] for row in figures["by_punctuality"]] == list(PUNCTUALITY_BUCKETS)
    assert figures["csat"]["rate"] is None and figures["nps"]["score"] is None
    assert set(scores_charts(figures)) == {"csat_distribution", "by_punctuality", "repeat_purchase", "weekly"}


def test_history_names_each_changed_setting_and_a_list_as_one() -> None:
    before = defaults("US")
    after = {**before, "promise": {**before["promise"], "cutoff": "16:00", "closed_dates": ["2026-12-24"]}}
    assert list(changed_settings(before, after)) == ["promise.closed_dates", "promise.cutoff"]
    assert list(changed_settings(before, before)) == []
