"""Scores API at scale: one shop with 1,000,000 delivered orders (one shipment each) and 200,000 answers on
PostgreSQL, built with COPY; prints p50/p95 of GET /api/admin/scores for a 30-day, a 1-year and an all-time range.

The database is emptied and migrated first. Run from the repository root:

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/cx_scores \\
        .venv/bin/python benchmarks/scores_api.py [--orders 1000000] [--answers 200000] [--runs 40]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHOP = "cx-test-shop.myshopify.com"  # the domain tests/shopify_signing.py signs session tokens for
TZ = ZoneInfo("Europe/Amsterdam")
COUNTRIES = [("NL", "Domestic"), ("BE", "Benelux"), ("DE", "EU"), ("FR", "EU"), ("US", "International")]
CARRIERS = ["PostNL", "DHL", "DPD", "UPS"]
BUCKETS = ["on_time"] * 8 + ["1_day_late", "2_3_days_late", "4_plus_days_late"]


def _bucket(days_late: int) -> str:
    return "on_time" if days_late <= 0 else "1_day_late" if days_late == 1 else \
        "2_3_days_late" if days_late <= 3 else "4_plus_days_late"


def _copy(conn: Any, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        copy.write(buffer.getvalue())


def build(app: Any, orders: int, answers: int, seed: int = 7) -> int:
    """The shop and its history; returns the shop id."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from cxplugin.extensions import db
    from cxplugin.models import Shop
    from cxplugin.scores import facts, rollup
    from cxplugin.shops import lifecycle

    rng = random.Random(seed)
    with app.app_context():
        db.reflect()
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        upgrade()
        lifecycle.add_shop(SHOP, "shpat_bench", timezone=str(TZ), country="NL", locale="nl")
        db.session.commit()
        shop = db.session.scalar(sa.select(Shop))
        assert shop is not None
        shop_id = shop.id

        started = time.perf_counter()
        today = datetime.now(UTC).astimezone(TZ).date()
        first_day = today - timedelta(days=3 * 365)
        customers = max(orders // 3, 1)
        order_rows, shipment_rows, delivered = [], [], []
        for n in range(1, orders + 1):
            day = first_day + timedelta(days=int((n / orders) * 3 * 365 - 1))
            placed = datetime(day.year, day.month, day.day, rng.randint(7, 22), rng.randint(0, 59), tzinfo=TZ)
            latest = day + timedelta(days=rng.randint(2, 5))
            days_late = {"on_time": -rng.randint(0, 2), "1_day_late": 1, "2_3_days_late": rng.randint(2, 3),
                         "4_plus_days_late": rng.randint(4, 9)}[rng.choice(BUCKETS)]
            delivered_on = latest + timedelta(days=days_late)
            delivered_at = datetime(delivered_on.year, delivered_on.month, delivered_on.day, 14, 0, tzinfo=TZ)
            country, zone = rng.choice(COUNTRIES)
            carrier = rng.choice(CARRIERS)
            key = facts.customer_key(shop_id, rng.randint(1, customers), None)
            order_rows.append((n, shop_id, 10_000_000 + n, f"#{n}", placed.isoformat(), country, "nl",
                               (latest - timedelta(days=1)).isoformat(), latest.isoformat(), "storefront", zone,
                               delivered_at.isoformat(), delivered_on.isoformat(), (delivered_on - day).days,
                               max(days_late, 0), _bucket(days_late), delivered_on < latest - timedelta(days=1),
                               carrier, key, "{}", "[]", placed.isoformat()))
            shipment_rows.append((n, shop_id, n, 20_000_000 + n, "success", carrier, "delivered",
                                  delivered_at.isoformat(), delivered_at.isoformat(), placed.isoformat()))
            delivered.append((n, delivered_at))
        raw = db.engine.raw_connection()
        try:
            driver = raw.driver_connection
            _copy(driver, "orders", ["id", "shop_id", "shopify_id", "name", "placed_at", "destination_country",
                                     "customer_locale", "promise_earliest", "promise_latest", "promise_source",
                                     "promise_zone", "delivered_at", "delivered_on", "lead_days", "days_late",
                                     "punctuality", "delivered_early", "carrier", "customer_key", "note_attributes",
                                     "line_items", "created_at"], order_rows)
            _copy(driver, "shipments", ["id", "shop_id", "order_id", "fulfillment_id", "fulfillment_status",
                                        "carrier", "status", "delivered_at", "status_at", "created_at"], shipment_rows)
            sent = rng.sample(delivered, min(len(delivered), answers * 2))
            survey_rows = []
            for i, (order_id, delivered_at) in enumerate(sent):
                sent_at = delivered_at + timedelta(days=2)
                answered = i < answers
                survey_rows.append((order_id, shop_id, "answered" if answered else "sent", "csat_nps", "delivered",
                                    sent_at.isoformat(), sent_at.isoformat(),
                                    rng.choice([1, 2, 3, 4, 4, 5, 5, 5]) if answered else None,
                                    rng.randint(0, 10) if answered else None,
                                    "Thanks" if answered and rng.random() < 0.2 else None,
                                    (sent_at + timedelta(hours=3)).isoformat() if answered else None, "open",
                                    sent_at.isoformat(), 1))
            _copy(driver, "surveys", ["order_id", "shop_id", "status", "question", "basis", "due_at", "sent_at", "csat",
                                      "nps", "comment", "answered_at", "follow_up", "created_at", "send_attempts"],
                  survey_rows)
            with driver.cursor() as cursor:
                cursor.execute("SELECT setval('orders_id_seq', %s)", (orders,))
                cursor.execute("SELECT setval('shipments_id_seq', %s)", (orders,))
            driver.commit()
        finally:
            raw.close()
        copied = time.perf_counter()
        # Customers' first on-time / late deliveries and returns, set-based (refresh_customer per customer would
        # take minutes here); the rollups are then counted by the app's own rebuild.
        db.session.execute(sa.text("""
            WITH firsts AS (
                SELECT DISTINCT ON (customer_key, punctuality = 'on_time') id, customer_key, delivered_at
                FROM orders WHERE shop_id = :shop AND punctuality IS NOT NULL
                ORDER BY customer_key, punctuality = 'on_time', delivered_at, id)
            UPDATE orders o SET first_of_kind = true,
                came_back = EXISTS (SELECT 1 FROM orders later WHERE later.shop_id = :shop
                                    AND later.customer_key = f.customer_key AND later.placed_at > f.delivered_at
                                    AND later.placed_at <= f.delivered_at + interval '90 days')
            FROM firsts f WHERE o.id = f.id"""), {"shop": shop_id})
        rows = rollup.rebuild(db.session.get_one(Shop, shop_id))
        db.session.commit()
        with db.engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
        print(f"built {orders:,} orders, {len(survey_rows):,} surveys ({answers:,} answered): "
              f"COPY {copied - started:.1f} s, customers and {rows:,} rollup rows {time.perf_counter() - copied:.1f} s")
        return shop_id


def measure(app: Any, runs: int) -> None:
    from tests.shopify_signing import session_token

    client = app.test_client()
    today = datetime.now(UTC).astimezone(TZ).date()
    ranges = {"30 days": (today - timedelta(days=29), today), "1 year": (today - timedelta(days=364), today),
              "all time": (today - timedelta(days=3 * 365 + 5), today)}
    for name, (start, end) in ranges.items():
        timings = []
        for run in range(runs + 3):
            token = session_token(SHOP)
            began = time.perf_counter()
            response = client.get("/api/admin/scores", query_string={"from": start.isoformat(), "to": end.isoformat()},
                                  headers={"Authorization": f"Bearer {token}"})
            elapsed = (time.perf_counter() - began) * 1000
            assert response.status_code == 200, response.get_data(as_text=True)
            if run >= 3:  # warm-up
                timings.append(elapsed)
        body = response.get_json()
        timings.sort()
        p95 = timings[max(0, int(round(0.95 * len(timings))) - 1)]
        print(f"{name:>8}: p50 {statistics.median(timings):6.1f} ms  p95 {p95:6.1f} ms  "
              f"({body['on_time']['delivered']:,} deliveries, {body['csat']['answers']:,} CSAT answers)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--answers", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--reuse", action="store_true", help="measure the shop already built")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database you can empty.")

    from cryptography.fernet import Fernet

    from cxplugin import create_app
    from cxplugin.config import database_url
    from tests.shopify_signing import API_KEY, SECRET

    app = create_app({"SHOPIFY_API_KEY": API_KEY, "SHOPIFY_API_SECRET": SECRET, "CX_LOG_LEVEL": "WARNING",
                      "SQLALCHEMY_DATABASE_URI": database_url(url, ""), "REDIS_URL": None,
                      "CX_ENCRYPTION_KEY": Fernet.generate_key().decode(), "MAIL_URL": "outbox"})
    if not args.reuse:
        build(app, args.orders, args.answers)
    measure(app, args.runs)


if __name__ == "__main__":
    main()
