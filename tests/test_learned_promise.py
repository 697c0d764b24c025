"""The promise learned from a shop's deliveries: the model, the walk-forward backtest, the history CSV and the CLI."""

from __future__ import annotations

import csv
import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from cxplugin.extensions import db
from cxplugin.models import PastDelivery
from cxplugin.promise import backtest, synthetic
from cxplugin.promise.calculator import Destination, PromiseSettings, Zone
from cxplugin.promise.model import Delivery, Model, arrival_probability, day_done, spans
from tests.shopify_signing import SHOP

SAO_PAULO = "America/Sao_Paulo"


def shop_settings(timezone: str = SAO_PAULO) -> PromiseSettings:
    return PromiseSettings(
        timezone=timezone, origin_country="BR", cutoff=time(14, 0), processing_min=1, processing_max=2,
        dispatch_weekdays=frozenset(range(5)), closed_dates=frozenset(), carrier_weekdays=frozenset(range(5)),
        zones=(Zone("Domestic", ("BR",), 2, 4),), default_zone=Zone("International", (), 5, 12))


def delivery(n: int, placed: datetime, processing_hours: float, transit_days: float, region: str = "SP",
             carrier: str = "correios") -> Delivery:
    shipped = placed + timedelta(hours=processing_hours)
    return Delivery(f"O{n}", placed, shipped, shipped + timedelta(days=transit_days), "BR", region, "01310-100",
                    "sao-paulo", carrier)


MONDAY_NOON = datetime(2026, 3, 2, 15, tzinfo=UTC)  # 12:00 in São Paulo


# ---- counting days with the calculator's calendars --------------------------------------------------------

def test_processing_counts_dispatch_days_from_the_start_day_and_transit_counts_carrier_days() -> None:
    # Ordered Friday 15:00 local (after the 14:00 cutoff): processing starts Monday; shipped Tuesday = 1 day.
    friday_late = datetime(2026, 3, 6, 18, tzinfo=UTC)
    shipped = datetime(2026, 3, 10, 13, tzinfo=UTC)  # Tuesday
    delivered = datetime(2026, 3, 16, 20, tzinfo=UTC)  # next Monday: Wed, Thu, Fri, Mon = 4 carrier days
    measured = spans(shop_settings(), Delivery("x", friday_late, shipped, delivered, "BR", "SP"))
    assert (measured.processing, measured.transit) == (1, 4)


def test_a_public_holiday_is_not_a_carrier_day() -> None:
    # Carnival is not a national holiday in the library, but Tiradentes (21 April 2026, a Tuesday) is.
    shipped = datetime(2026, 4, 20, 15, tzinfo=UTC)  # Monday
    delivered = datetime(2026, 4, 22, 15, tzinfo=UTC)  # Wednesday: Tuesday was a holiday → 1 carrier day
    measured = spans(shop_settings(), Delivery("x", shipped - timedelta(hours=2), shipped, delivered, "BR", "SP"))
    assert measured.transit == 1


def test_dates_are_shop_local_across_a_dst_change() -> None:
    amsterdam = shop_settings("Europe/Amsterdam")
    # Sunday 29 March 2026: clocks go forward. Ordered Saturday 23:30 local = 22:30 UTC; shipped Monday.
    placed = datetime(2026, 3, 28, 22, 30, tzinfo=UTC)
    shipped = datetime(2026, 3, 30, 9, tzinfo=UTC)
    delivered = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)  # 00:30 on Wednesday 1 April, local
    measured = spans(amsterdam, Delivery("x", placed, shipped, delivered, "NL", ""))
    assert (measured.processing, measured.transit) == (0, 2)


def test_contradictory_deliveries_are_dropped_and_counted_not_learned() -> None:
    model = Model(shop_settings())
    placed = MONDAY_NOON
    assert not model.add(Delivery("a", placed, placed + timedelta(days=2), placed + timedelta(days=1), "BR", "SP"))
    assert not model.add(Delivery("b", placed, placed - timedelta(days=1), placed + timedelta(days=3), "BR", "SP"))
    assert model.dropped == {"delivered_before_shipped": 1, "shipped_before_ordered": 1} and model.learned == 0


# ---- the model ---------------------------------------------------------------------------------------------

def test_with_nothing_learned_the_promise_is_the_settings() -> None:
    route = Model(shop_settings()).route(MONDAY_NOON, Destination("BR", "SP"))
    assert route is not None
    assert (route.processing, route.transit) == ((1, 2), (2, 4)) and route.deliveries == 0
    assert "settings" in route.explanation


def test_a_destination_the_settings_do_not_serve_is_not_served_by_the_learned_promise_either() -> None:
    only_brazil = dataclasses.replace(shop_settings(), default_zone=None)
    assert Model(only_brazil).route(MONDAY_NOON, Destination("PT")) is None


def test_a_route_with_one_delivery_leans_on_its_wider_routes() -> None:
    model = Model(shop_settings())
    for n in range(200):  # São Paulo: reliably 2-3 days
        model.add(delivery(n, MONDAY_NOON - timedelta(days=400 - n), 20, 2 + (n % 2)))
    model.add(delivery(999, MONDAY_NOON - timedelta(days=20), 20, 30, region="AM"))  # one slow parcel to Amazonas
    amazonas = model.route(MONDAY_NOON, Destination("BR", "AM"))
    sao_paulo = model.route(MONDAY_NOON, Destination("BR", "SP"))
    assert amazonas is not None and sao_paulo is not None
    # One parcel does not make a promise of 30 days, but it does lengthen the promise beyond São Paulo's.
    assert sao_paulo.transit[1] <= amazonas.transit[1] < 30
    assert amazonas.deliveries == 1 and "BR-AM" in amazonas.explanation


def test_the_explanation_names_the_route_and_its_deliveries() -> None:
    model = Model(shop_settings())
    for n in range(40):
        model.add(delivery(n, MONDAY_NOON - timedelta(days=60 - n), 20, 3))
    route = model.route(MONDAY_NOON, Destination("BR", "SP"), carrier="correios")
    assert route is not None and route.explanation == "learned from 40 deliveries to BR-SP by correios"


def test_the_model_learns_when_in_the_day_parcels_arrive_and_how_much_of_a_day_is_done() -> None:
    model = Model(shop_settings())
    assert model.route(MONDAY_NOON, Destination("BR", "SP")).delivery_hours == ()  # type: ignore[union-attr]
    for n in range(40):  # handed over at 13:00 São Paulo time; delivered at 13:00 or 19:00, two or three days on
        model.add(delivery(n, MONDAY_NOON - timedelta(days=60 - n), 1, 2 + (n % 2) * 1.25))
    route = model.route(MONDAY_NOON, Destination("BR", "SP"))
    assert route is not None
    hours = route.delivery_hours
    assert len(hours) == 24 and hours[13] > 0.3 and hours[19] > 0.3 and hours[13] + hours[19] > 0.999
    assert day_done(hours, time(8)) == 0.0
    assert 0.3 < day_done(hours, time(15)) < 0.7
    assert day_done(hours, time(21)) > 0.999
    assert day_done((), time(21)) == 0.0  # nothing learned: the whole day is still ahead


def test_a_parcel_not_delivered_by_the_evening_of_its_last_day_has_little_chance_left() -> None:
    transit = ((2, 0.5), (3, 0.4), (10, 0.1))
    # Two carrier days behind it, one to go: in the morning about 80 %; once 90 % of the day's deliveries are
    # made without it, under 30 %; with the day over, none.
    assert abs(arrival_probability(transit, 2, 1) - 0.8) < 0.01
    assert abs(arrival_probability(transit, 2, 1, today_done=0.9) - 0.04 / 0.14) < 0.01
    assert arrival_probability(transit, 2, 1, today_done=1.0) == 0.0


def test_a_parcel_slower_than_any_seen_is_not_written_off_while_it_has_days_left() -> None:
    transit = ((2, 0.5), (3, 0.4), (10, 0.1))
    assert arrival_probability(transit, 12, 10) > 0.9
    assert arrival_probability(transit, 12, 1) < arrival_probability(transit, 12, 3) < 1
    assert arrival_probability(transit, 12, 0) == 0.0


history_strategy = st.lists(st.tuples(st.integers(0, 96), st.floats(0, 25)), min_size=1, max_size=40)


@settings(max_examples=40, deadline=None)
@given(history_strategy, st.floats(0.5, 0.97), st.floats(0.005, 0.03))
def test_a_larger_target_never_shortens_the_promise(past: list[tuple[int, float]], target: float,
                                                     more: float) -> None:
    model = Model(shop_settings())
    for n, (hours, days) in enumerate(past):
        model.add(delivery(n, MONDAY_NOON - timedelta(days=100 - n), hours, days))
    low = model.route(MONDAY_NOON, Destination("BR", "SP"), target=target)
    high = model.route(MONDAY_NOON, Destination("BR", "SP"), target=target + more)
    assert low is not None and high is not None
    assert sum(high.processing[1:]) + high.transit[1] >= sum(low.processing[1:]) + low.transit[1]


@settings(max_examples=40, deadline=None)
@given(history_strategy, st.integers(1, 20))
def test_evidence_of_faster_deliveries_never_lengthens_the_promise(past: list[tuple[int, float]], fast: int) -> None:
    model = Model(shop_settings())
    for n, (hours, days) in enumerate(past):
        model.add(delivery(n, MONDAY_NOON - timedelta(days=100 - n), hours, days))
    before = model.route(MONDAY_NOON, Destination("BR", "SP"))
    for n in range(fast):  # shipped the same day, delivered the same day: as fast as a parcel can be
        model.add(delivery(1000 + n, MONDAY_NOON - timedelta(days=2), 1, 0.01))
    after = model.route(MONDAY_NOON, Destination("BR", "SP"))
    assert before is not None and after is not None
    assert after.processing[1] + after.transit[1] <= before.processing[1] + before.transit[1]


# ---- the walk-forward backtest -----------------------------------------------------------------------------

def test_walk_forward_never_uses_a_delivery_completed_after_the_order_it_judges() -> None:
    settings_ = shop_settings()
    history = list(synthetic.history(400, days=120))
    cut = history[200].placed_at
    # A delivery that completes after `cut` and is absurdly slow: if the walk looked ahead, orders placed before
    # `cut` would get longer promises.
    slow = Delivery("late", cut - timedelta(days=1), cut - timedelta(hours=12), cut + timedelta(hours=1), "BR", "SP",
                    "01310-100", "sao-paulo", "correios")
    slow_spans = spans(settings_, slow)
    assert slow_spans.transit is not None
    poisoned = [*history, dataclasses.replace(slow, delivered_at=cut + timedelta(days=60))]
    honest = backtest.walk_forward(settings_, history).learned
    with_poison = backtest.walk_forward(settings_, poisoned).learned
    before_cut = {j.order_id: j for j in honest if j.ordered_on < cut.date()}
    assert before_cut
    for judged in with_poison:
        if judged.order_id in before_cut:
            assert judged == before_cut[judged.order_id]


def test_on_a_synthetic_history_the_learned_promise_meets_its_target_with_a_shorter_promise_than_needed() -> None:
    settings_ = dataclasses.replace(shop_settings(), zones=(Zone("Domestic", ("BR",), 2, 4),))
    result = backtest.walk_forward(settings_, synthetic.history(3000, days=360), target=0.93,
                                   judge_from=date(2025, 3, 6))
    learned = backtest.summarise(result.learned)
    fixed = backtest.summarise(result.fixed)
    assert learned.on_time_rate is not None and fixed.on_time_rate is not None
    assert learned.orders > 2000
    assert 0.905 <= learned.on_time_rate <= 0.96
    assert fixed.on_time_rate < 0.8  # the typed-in ranges were too optimistic for this shop


# ---- history CSV and the CLI ------------------------------------------------------------------------------

HEADER = "order_id,created_at,shipped_at,delivered_at,origin,country,region,zip,carrier,method\n"


def write_history(path: Path, deliveries: list[Delivery]) -> None:
    with path.open("w") as f:
        f.write(HEADER)
        for d in deliveries:
            f.write(f"{d.order_id},{d.placed_at.isoformat()},{d.shipped_at.isoformat()},{d.delivered_at.isoformat()},"
                    f"{d.origin},{d.country},{d.region},{d.zip},{d.carrier},\n")


def past_rows(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(PastDelivery)) or 0


def test_a_csv_with_bad_rows_is_reported_by_line_and_imports_nothing(app: Flask, shop: str, runner: FlaskCliRunner,
                                                                      tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text(HEADER
                    + "1,2026-01-05T10:00:00-03:00,2026-01-06T10:00:00-03:00,2026-01-09T10:00:00-03:00,,BR,SP,,,\n"
                    + "2,2026-01-05T10:00:00-03:00,2026-01-06T10:00:00-03:00,yesterday,,BR,SP,,,\n"
                    + "1,2026-01-05T10:00:00-03:00,2026-01-06T10:00:00-03:00,2026-01-09T10:00:00-03:00,,BR,SP,,,\n"
                    + "3,2026-01-05T10:00:00-03:00,2026-01-06T10:00:00-03:00,2026-01-04T10:00:00-03:00,,BR,SP,,,\n"
                    + "4,2026-01-05T10:00:00,2026-01-06T10:00:00-03:00,2026-01-09T10:00:00-03:00,,BR,SP,,,\n")
    result = runner.invoke(args=["cx", "history", "import", str(path), "--shop", SHOP])
    assert result.exit_code == 1
    assert "line 3: delivered_at 'yesterday' is not an ISO 8601 time" in result.output
    assert "line 4: order 1 is already on line 2" in result.output
    assert "line 5: delivered_at is before shipped_at" in result.output
    assert "line 6: created_at" in result.output and "no UTC offset" in result.output
    assert "Nothing was imported" in result.output
    assert past_rows(app) == 0


def test_a_csv_with_the_wrong_header_imports_nothing(app: Flask, shop: str, runner: FlaskCliRunner,
                                                     tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text("id,ordered,shipped,delivered\n1,2026-01-05T10:00:00Z,2026-01-06T10:00:00Z,2026-01-09T10:00:00Z\n")
    result = runner.invoke(args=["cx", "history", "import", str(path), "--shop", SHOP])
    assert result.exit_code == 1 and "line 1: the header must be order_id,created_at" in result.output
    assert past_rows(app) == 0


def test_imported_history_is_backtested_from_the_cli_with_a_csv_per_order(app: Flask, shop: str,
                                                                          runner: FlaskCliRunner,
                                                                          tmp_path: Path) -> None:
    history = list(synthetic.history(600, days=150))
    path = tmp_path / "history.csv"
    write_history(path, history)
    imported = runner.invoke(args=["cx", "history", "import", str(path), "--shop", SHOP])
    assert imported.exit_code == 0 and "Imported 600 deliveries." in imported.output
    again = runner.invoke(args=["cx", "history", "import", str(path), "--shop", SHOP])
    assert again.exit_code == 0 and past_rows(app) == 600  # importing the same file twice keeps one row per order

    out = tmp_path / "backtest.csv"
    result = runner.invoke(args=["cx", "promise", "backtest", "--shop", SHOP, "--from", "2025-02-15",
                                 "--target", "0.9", "--csv", str(out)])
    assert result.exit_code == 0, result.output
    assert "all routes" in result.output and "learned:" in result.output and "fixed:" in result.output
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["order_id", "created_at", "promised_earliest", "promised_latest", "delivered_on",
                             "on_time"]
    assert all(r["created_at"] >= "2025-02-15" for r in rows)
    # The CSV's verdicts are its own dates compared: recomputable by anyone.
    assert all((r["delivered_on"] <= r["promised_latest"]) == (r["on_time"] == "true") for r in rows)
    on_time = sum(r["on_time"] == "true" for r in rows) / len(rows)
    assert f"{on_time * 100:.1f}%" in result.output.splitlines()[2]


def test_backtest_of_an_unknown_shop_says_so(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["cx", "promise", "backtest", "--shop", "nobody.myshopify.com"])
    assert result.exit_code == 2 and "no shop 'nobody.myshopify.com'" in result.output

