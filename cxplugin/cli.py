"""The `cx` command group: flask --app wsgi cx …"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from types import FrameType
from typing import TextIO

import click
from flask import Flask
from flask.cli import AppGroup
from huey.consumer import Consumer

from cxplugin import logs
from cxplugin.models import Shop
from cxplugin.queue import huey
from cxplugin.shops import lifecycle as shops
from cxplugin.webhooks import processing

cx = AppGroup("cx", help="cxplugin operations.")
shops_cli = AppGroup("shops", help="Shops.")
webhooks_cli = AppGroup("webhooks", help="Recorded webhooks.")
surveys_cli = AppGroup("surveys", help="Post-delivery surveys.")
scores_cli = AppGroup("scores", help="The figures of the scores page.")
cx.add_command(scores_cli)
cx.add_command(shops_cli)
cx.add_command(surveys_cli)
cx.add_command(webhooks_cli)
history_cli = AppGroup("history", help="Deliveries from before the app, to learn the promise from.")
promise_cli = AppGroup("promise", help="The delivery promise.")
cx.add_command(history_cli)
cx.add_command(promise_cli)
risk_cli = AppGroup("risk", help="Orders at risk of missing their delivery promise.")
cx.add_command(risk_cli)


@shops_cli.command("add")
@click.argument("domain")
@click.option("--token", required=True, help="Offline Admin API access token (custom app).")
@click.option("--timezone", help="IANA time zone, e.g. Europe/Amsterdam.")
@click.option("--country", help="ISO country code of the shop, e.g. NL.")
@click.option("--locale", help="Primary locale, e.g. nl.")
def shops_add(domain: str, token: str, timezone: str | None, country: str | None, locale: str | None) -> None:
    """Install DOMAIN with a custom-app access token."""
    if timezone:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise click.BadParameter(f"unknown time zone {timezone!r}", param_hint="--timezone") from exc
    if country and (len(country) != 2 or not country.isalpha()):
        raise click.BadParameter("use a two-letter ISO country code", param_hint="--country")
    shop = shops.add_shop(domain, token, timezone=timezone, country=country, locale=locale)
    click.echo(f"Installed {shop.domain} (time zone {shop.timezone}).")


@webhooks_cli.command("replay")
@click.option("--failed", is_flag=True, help="Also give failed events a fresh set of attempts.")
def webhooks_replay(failed: bool) -> None:
    """Process recorded events that are still pending (and, with --failed, those that failed)."""
    if failed:
        reset = processing.reset_failed()
        click.echo(f"{len(reset)} failed event(s) reset.")
    ids = processing.stuck_event_ids(older_than=timedelta(0))
    outcomes = [processing.process_event(event_id) for event_id in ids]
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing to do"
    click.echo(f"Replayed {len(outcomes)} event(s): {summary}.")


@surveys_cli.command("send-due")
def surveys_send_due() -> None:
    """Send the surveys (and reminders) that are due now, in this process."""
    from cxplugin.models.types import utcnow
    from cxplugin.surveys import sending

    outcomes = [sending.send(survey_id, utcnow()) for survey_id in sending.due_survey_ids(utcnow())]
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.result] = counts.get(outcome.result, 0) + 1
    summary = ", ".join(f"{n} {result}" for result, n in sorted(counts.items())) or "nothing due"
    click.echo(f"{len(outcomes)} survey(s): {summary}.")


@cx.command("worker")
@click.option("--workers", default=2, show_default=True, help="Worker threads.")
def worker(workers: int) -> None:
    """Run the queue consumer (jobs and the periodic schedule) and the webhook dispatcher."""
    from flask import current_app

    from cxplugin.tasks import process_webhook_event
    from cxplugin.webhooks import dispatch

    stop_dispatch = dispatch.start(current_app._get_current_object(), process_webhook_event)  # type: ignore[attr-defined]
    try:
        GracefulConsumer(huey, workers=workers, worker_type="thread", periodic=True, check_worker_health=True).run()
    finally:
        stop_dispatch.set()


class GracefulConsumer(Consumer):  # type: ignore[misc]  # huey ships no types
    """huey's consumer, but SIGTERM stops it as SIGINT does: take no new job, finish the running ones.

    Platforms stop a process with SIGTERM (Heroku, Docker, Kubernetes, systemd) and follow with SIGKILL
    after a grace period; huey's own SIGTERM stops at once and abandons the running jobs to the
    dispatcher's sweep, a minute later. A job still running when SIGKILL comes is handed out again by
    that sweep all the same.
    """

    def _handle_stop_signal(self, sig_num: int, frame: FrameType | None) -> None:
        self._logger.info("Received SIGTERM: finishing the running jobs, taking no new ones")
        self._received_signal = True
        self._restart = False
        self._graceful = True


@cx.command("demo")
@click.option("--orders", default=280, show_default=True, help="How many orders the ninety days hold.")
def demo(orders: int) -> None:
    """Seed the demo shop with ninety days of activity, played through the app's own paths (idempotent)."""
    import time

    from cxplugin.demo.seeding import seed

    started = time.monotonic()
    click.echo("Seeding the demo shop: ninety days of orders, deliveries, surveys and returns…")
    # The seed's own webhooks and survey clicks are not traffic: their request lines (over a thousand) would
    # bury the progress lines. Warnings and errors still show.
    level = logs.logger.level
    logs.logger.setLevel(max(level, logging.WARNING))
    try:
        shop = seed(progress=click.echo, orders=orders)
    finally:
        logs.logger.setLevel(level)
    click.echo(f"Demo shop {shop.domain} is ready ({time.monotonic() - started:.0f} s).")


def _installed_shop(domain: str) -> Shop:
    shop = shops.find_shop(domain)
    if shop is None:
        raise click.BadParameter(f"no shop {domain!r} here (install it first: cx shops add)", param_hint="--shop")
    return shop


@history_cli.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--shop", "domain", required=True, help="The shop's myshopify domain.")
def history_import(file: TextIO, domain: str) -> None:
    """Import delivered shipments from FILE (CSV; columns in the README). A file with a bad row imports nothing."""
    from cxplugin.promise import history

    parsed = history.import_csv(_installed_shop(domain), file)
    if parsed.errors:
        for error in parsed.errors[:50]:
            click.echo(f"line {error.line}: {error.message}", err=True)
        more = len(parsed.errors) - 50
        click.echo((f"… and {more} more. " if more > 0 else "") + "Nothing was imported; fix the file and run again.",
                   err=True)
        raise SystemExit(1)
    click.echo(f"Imported {len(parsed.rows)} deliveries.")


@history_cli.command("backfill")
@click.option("--shop", "domain", required=True, help="The shop's myshopify domain.")
@click.option("--status", "status_only", is_flag=True, help="Only say what became of the last one.")
def history_backfill(domain: str, status_only: bool) -> None:
    """Read the shop's last 12 months of fulfilled orders from Shopify (a bulk operation) and learn from them.

    Shopify tells the app when the operation is done and the worker imports it; run this again to see how it
    went (a finished operation whose notice never came is imported then)."""
    from cxplugin.models.types import utcnow
    from cxplugin.promise import backfill

    shop = _installed_shop(domain)
    if not shop.is_installed:
        raise click.BadParameter(f"{shop.domain} is not installed", param_hint="--shop")
    row = backfill.resume_or_start(shop, utcnow(), start_new=not status_only)
    click.echo(backfill.describe(row, shop.domain))
    if row is not None and row.status == "failed":
        raise SystemExit(1)


@promise_cli.command("backtest")
@click.option("--shop", "domain", required=True, help="The shop's myshopify domain.")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="Judge orders placed on or after.")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Judge orders placed on or before.")
@click.option("--target", type=click.FloatRange(0.5, 0.999), help="Target on-time rate (default: the setting).")
@click.option("--csv", "csv_file", type=click.File("w"), help="Write one row per order (learned promise).")
def promise_backtest(domain: str, date_from: datetime | None, date_to: datetime | None, target: float | None,
                     csv_file: TextIO | None) -> None:
    """Walk forward through the shop's deliveries: learned promise beside the fixed settings."""
    import csv

    from cxplugin.promise import backtest, history
    from cxplugin.promise.model import DEFAULT_TARGET
    from cxplugin.shops import settings as shop_settings

    shop = _installed_shop(domain)
    data = shop_settings.current(shop)
    goal = target if target is not None else data["promise"].get("target_on_time", DEFAULT_TARGET)
    result = backtest.walk_forward(shop_settings.promise_settings(data, shop.timezone, shop.country_code),
                                   history.shop_deliveries(shop), target=goal,
                                   judge_from=date_from.date() if date_from else None,
                                   judge_to=date_to.date() if date_to else None)
    for line in backtest.report_lines(result, target=goal):
        click.echo(line)
    if csv_file is not None:
        writer = csv.writer(csv_file)
        writer.writerow(backtest.CSV_COLUMNS)
        writer.writerows(backtest.csv_rows(result.learned))


@promise_cli.command("learn")
@click.option("--shop", "domain", required=True, help="The shop's myshopify domain.")
def promise_learn(domain: str) -> None:
    """Rebuild the shop's learned promise now (the worker does it every night)."""
    from cxplugin.models.types import utcnow
    from cxplugin.promise import learning

    row = learning.rebuild(_installed_shop(domain), utcnow())
    click.echo(f"Learned promise version {row.version}: {row.deliveries} deliveries, {len(row.routes)} routes.")


@risk_cli.command("backtest")
@click.option("--shop", "domain", required=True, help="The shop's myshopify domain.")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="Replay orders placed on or after.")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Replay orders placed on or before.")
@click.option("--csv", "csv_file", type=click.File("w"), help="Write one row per order.")
def risk_backtest(domain: str, date_from: datetime | None, date_to: datetime | None, csv_file: TextIO | None) -> None:
    """Replay the shop's delivered history day by day: how many late deliveries the risk check flagged before
    their promised latest day ended, how early, and how many flags were false alarms."""
    import csv

    from cxplugin.promise import history
    from cxplugin.promise.model import DEFAULT_TARGET
    from cxplugin.risk import backtest
    from cxplugin.risk.checking import thresholds
    from cxplugin.shops import settings as shop_settings

    shop = _installed_shop(domain)
    data = shop_settings.current(shop)
    settings = shop_settings.promise_settings(data, shop.timezone, shop.country_code)
    replayed = list(backtest.replay(settings, history.shop_deliveries(shop), thresholds=thresholds(data),
                                    target=data["promise"].get("target_on_time", DEFAULT_TARGET),
                                    judge_from=date_from.date() if date_from else None,
                                    judge_to=date_to.date() if date_to else None))
    for line in backtest.report_lines(backtest.figures(settings, replayed)):
        click.echo(line)
    if csv_file is not None:
        writer = csv.writer(csv_file)
        writer.writerow(backtest.CSV_COLUMNS)
        writer.writerows(backtest.csv_rows(sorted(replayed, key=lambda r: r.order_id)))


def init_app(app: Flask) -> None:
    app.cli.add_command(cx)


@scores_cli.command("rebuild")
@click.option("--shop", "domain", help="Only this shop (default: every shop).")
def scores_rebuild(domain: str | None) -> None:
    """Set every order's delivery facts from its shipments and recount the daily rollups (after an upgrade to
    migration 0009, or as a repair)."""
    import sqlalchemy as sa

    from cxplugin.extensions import db
    from cxplugin.models import Order, Shop
    from cxplugin.scores import facts, rollup

    query = sa.select(Shop)
    if domain:
        query = query.where(Shop.domain == shops.shop_domain(domain))
    for shop in db.session.scalars(query).all():
        ids = db.session.scalars(sa.select(Order.id).where(Order.shop_id == shop.id).order_by(Order.id)).all()
        for start in range(0, len(ids), 500):
            for order in db.session.scalars(sa.select(Order).where(Order.id.in_(ids[start:start + 500]))):
                facts.refresh(shop, order)
            db.session.commit()
        rows = rollup.rebuild(shop)
        db.session.commit()
        click.echo(f"{shop.domain}: {len(ids)} orders, {rows} rollup rows.")
