"""Daily rollups of the scores page: one row per shop, kind, grain, day and key; counters only."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
import sqlalchemy.orm as so

from cxplugin.extensions import db

# Deliveries by delivery date ("delivery") and surveys by sent date ("survey").
COUNTERS = ("orders", "with_promise", "on_time", "early", "late", "late_days", "lead_days", "lead_orders",
            "first_customers", "first_returned", "sent", "answered", "csat_1", "csat_2", "csat_3", "csat_4",
            "csat_5", "nps_answers", "nps_promoters", "nps_passives", "nps_detractors", "nps_sum")
KEY = ("shop_id", "kind", "grain", "day", "bucket", "country", "zone", "carrier")


def _counter() -> so.MappedColumn[int]:
    # integer, not bigint: a day never counts 2^31 of anything, and sum(integer) is a bigint, not a numeric
    return so.mapped_column(sa.Integer, default=0, server_default="0")


class ScoreDay(db.Model):  # type: ignore[name-defined,misc]
    """Counters of one day. ``grain`` says which key columns are set (the others are ""): "punctuality" (bucket),
    "destination" (country and zone) or "carrier" (carrier); every order or survey counts once in each grain."""

    __tablename__ = "score_days"
    __table_args__ = (sa.UniqueConstraint(*KEY, name="uq_score_days_key"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    shop_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    kind: so.Mapped[str] = so.mapped_column(sa.String(8))
    grain: so.Mapped[str] = so.mapped_column(sa.String(12))
    day: so.Mapped[date]
    bucket: so.Mapped[str] = so.mapped_column(sa.String(24))
    country: so.Mapped[str] = so.mapped_column(sa.String(2))
    zone: so.Mapped[str] = so.mapped_column(sa.String(255))
    carrier: so.Mapped[str] = so.mapped_column(sa.String(255))
    orders: so.Mapped[int] = _counter()
    with_promise: so.Mapped[int] = _counter()
    on_time: so.Mapped[int] = _counter()
    early: so.Mapped[int] = _counter()
    late: so.Mapped[int] = _counter()
    late_days: so.Mapped[int] = _counter()
    lead_days: so.Mapped[int] = _counter()
    lead_orders: so.Mapped[int] = _counter()
    first_customers: so.Mapped[int] = _counter()
    first_returned: so.Mapped[int] = _counter()
    sent: so.Mapped[int] = _counter()
    answered: so.Mapped[int] = _counter()
    csat_1: so.Mapped[int] = _counter()
    csat_2: so.Mapped[int] = _counter()
    csat_3: so.Mapped[int] = _counter()
    csat_4: so.Mapped[int] = _counter()
    csat_5: so.Mapped[int] = _counter()
    nps_answers: so.Mapped[int] = _counter()
    nps_promoters: so.Mapped[int] = _counter()
    nps_passives: so.Mapped[int] = _counter()
    nps_detractors: so.Mapped[int] = _counter()
    nps_sum: so.Mapped[int] = _counter()
