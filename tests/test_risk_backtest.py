"""cx risk backtest: a delivered history replayed day by day through the risk rules."""

from __future__ import annotations

import csv
import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner

from cxplugin.promise import synthetic
from cxplugin.promise.calculator import PromiseSettings, Zone
from cxplugin.promise.model import Delivery
from cxplugin.risk import backtest, rules
from tests.shopify_signing import SHOP
from tests.test_learned_promise import write_history

SAO_PAULO = PromiseSettings(
    timezone="America/Sao_Paulo", origin_country="BR", cutoff=time(14, 0), processing_min=1, processing_max=2,
    dispatch_weekdays=frozenset(range(5)), closed_dates=frozenset(), carrier_weekdays=frozenset(range(6)),
    zones=(Zone("Domestic", ("BR",), 2, 4),), default_zone=None)


def test_a_parcel_that_outstays_the_routes_transit_is_flagged_before_its_promised_day_ends() -> None:
    # Weekday orders at 10:00 in São Paulo, shipped that day or the next, 2 or 3 days in transit; then one is
    # shipped at once and lost for two weeks. The shop's own zone says 1-3 transit days.
    settings = dataclasses.replace(SAO_PAULO, zones=(Zone("Domestic", ("BR",), 1, 3),))
    monday = datetime(2026, 3, 2, 13, tzinfo=UTC)
    days = [monday + timedelta(days=d) for d in range(84) if (monday + timedelta(days=d)).weekday() < 5]
    history = [Delivery(f"N{n}", at, at + timedelta(hours=2 + 24 * (n % 2)),
                        at + timedelta(hours=2 + 24 * (n % 2), days=2 + (n % 3 == 0)), "BR", "SP", "01310-100", "sp",
                        "correios") for n, at in enumerate(days[:-1])]
    lost_at = days[-1]
    history.append(Delivery("LOST", lost_at, lost_at + timedelta(hours=2), lost_at + timedelta(days=16), "BR", "SP",
                            "01310-100", "sp", "correios"))
    replayed = {r.order_id: r for r in backtest.replay(settings, history)}
    lost = replayed["LOST"]
    assert lost.late and lost.flagged_in_time and lost.first_flag_kind == "likely_late"
    assert lost.first_flag_at is not None and lost.first_flag_at < rules.day_end(settings, lost.promised_latest)
    later = [r for r in replayed.values() if r.order_id != "LOST" and int(r.order_id[1:]) >= 20]
    assert later and not any(r.late for r in later)
    assert all(r.first_flag_at is None for r in later)  # once the route is learned, no false alarms


def test_on_the_synthetic_history_late_deliveries_are_flagged_in_time_and_few_flags_are_false() -> None:
    # The goal (at least 80 % of late deliveries flagged before their promised day ends, at most 10 % of
    # flags false alarms), on a history whose delays are known, with the default threshold.
    result = backtest.figures(SAO_PAULO, backtest.replay(SAO_PAULO, synthetic.history(3000),
                                                         judge_from=date(2025, 3, 6)))
    assert result.late > 100
    assert result.caught_rate is not None and result.caught_rate >= 0.8
    assert result.false_alarm_rate is not None and result.false_alarm_rate <= 0.1
    # A merchant who asks to hear sooner (a higher threshold) is warned earlier, at the price of more false alarms.
    history = list(synthetic.history(1500, days=270))
    result = backtest.figures(SAO_PAULO, backtest.replay(SAO_PAULO, history, judge_from=date(2025, 3, 6)))
    eager = backtest.figures(SAO_PAULO, backtest.replay(SAO_PAULO, history, judge_from=date(2025, 3, 6),
                                                        thresholds=rules.Thresholds(likely_late_below=0.4)))
    assert eager.median_lead_days is not None and result.median_lead_days is not None
    assert eager.median_lead_days > result.median_lead_days
    assert eager.false_alarm_rate is not None and eager.false_alarm_rate > result.false_alarm_rate


def test_the_cli_prints_both_figures_and_writes_one_row_per_order(app: Flask, shop: str, runner: FlaskCliRunner,
                                                                  tmp_path: Path) -> None:
    history = [dataclasses.replace(d, country="US", region="NY") for d in synthetic.history(300, days=90)]
    path = tmp_path / "history.csv"
    write_history(path, history)
    assert runner.invoke(args=["cx", "history", "import", str(path), "--shop", SHOP]).exit_code == 0
    out = tmp_path / "risk.csv"
    result = runner.invoke(args=["cx", "risk", "backtest", "--shop", SHOP, "--from", "2025-02-01", "--csv", str(out)])
    assert result.exit_code == 0, result.output
    assert "late deliveries flagged before their promised latest day ended" in result.output
    assert "false alarms" in result.output
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["order_id", "promised_latest", "delivered_on", "late", "first_flag_at", "first_flag_kind"]
    assert len(rows) == len({r["order_id"] for r in rows}) > 100
    for row in rows:
        assert row["late"] == ("true" if row["delivered_on"] > row["promised_latest"] else "false")
        assert (row["first_flag_at"] == "") == (row["first_flag_kind"] == "")
        if row["first_flag_at"]:
            datetime.fromisoformat(row["first_flag_at"])
    assert runner.invoke(args=["cx", "risk", "backtest", "--shop", "nobody.myshopify.com"]).exit_code != 0
