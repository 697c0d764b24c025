"""GET /api/admin/responses reads a page of answers with their orders in one query (and counts them in one more),
however many there are."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from cxplugin.extensions import db
from cxplugin.models import Order, Shop, Survey, SurveyStatus
from tests.shopify_signing import session_token


def answered(app: Flask, count: int) -> None:
    now = datetime.now(UTC)
    with app.app_context():
        shop_id = db.session.scalars(sa.select(Shop.id)).one()
        for n in range(count):
            order = Order(shop_id=shop_id, shopify_id=9_000_000 + n, name=f"#{1000 + n}")
            db.session.add(order)
            db.session.flush()
            db.session.add(Survey(shop_id=shop_id, order_id=order.id, status=SurveyStatus.ANSWERED, question="csat",
                                  basis="delivered", due_at=now, csat=1 + n % 5, comment=f"answer {n}",
                                  answered_at=now - timedelta(minutes=n)))
        db.session.commit()


@pytest.fixture
def statements(app: Flask) -> Iterator[list[str]]:
    """The SQL statements the app sends while the test runs."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", record)


def test_fifty_answers_are_listed_newest_first_with_a_bounded_number_of_queries(
        app: Flask, client: FlaskClient, shop: str, statements: list[str]) -> None:
    answered(app, 50)
    statements.clear()
    response = client.get("/api/admin/responses?per_page=50",
                          headers={"Authorization": f"Bearer {session_token()}"})
    assert response.status_code == 200
    listed = response.get_json()["responses"]
    assert [r["order_name"] for r in listed[:3]] == ["#1000", "#1001", "#1002"]
    assert len(listed) == 50 and listed[49]["order_id"] == 9_000_049 and listed[0]["comment"] == "answer 0"
    on_surveys = [s for s in statements if "surveys" in s]
    assert len(on_surveys) == 2, on_surveys  # how many match, and the page with its orders
    assert len(statements) <= 4  # and the session token's shop, and no more
