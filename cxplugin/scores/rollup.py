"""Keeps ``score_days`` exact: every flush that changes an order's delivery facts or a survey's counted columns
adds the difference between the row's old and new contribution, in the same transaction.

The counts are additive (``+=`` in an upsert), so concurrent workers never lose one another's changes. Columns
must change through the ORM (a bulk UPDATE of a counted column would bypass this); ``rebuild`` recounts a shop
from its rows.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql, sqlite

from cxplugin.extensions import db
from cxplugin.models import Order, ScoreDay, Shop, Survey
from cxplugin.models.score import COUNTERS, KEY
from cxplugin.scores import rules
from cxplugin.scores.answered import COUNTED, is_answered

# The order columns a contribution reads.
ORDER_FACTS = ("shop_id", "delivered_on", "punctuality", "days_late", "delivered_early", "lead_days", "carrier",
               "promise_zone", "destination_country", "first_of_kind", "came_back")
# (kind, grain, day, bucket, country, zone, carrier)
Key = tuple[str, str, date, str, str, str, str]
Deltas = dict[tuple[int, Key], Counter[str]]


def _keys(kind: str, day: date, facts: Mapping[str, Any]) -> Iterator[Key]:
    yield kind, "punctuality", day, facts["punctuality"] or "", "", "", ""
    yield kind, "destination", day, "", facts["destination_country"] or "", facts["promise_zone"] or "", ""
    yield kind, "carrier", day, "", "", "", facts["carrier"] or ""


def delivery_counts(facts: Mapping[str, Any]) -> tuple[date, Counter[str]] | None:
    """What a delivered order adds to its delivery day."""
    if facts["delivered_on"] is None:
        return None
    bucket, late = facts["punctuality"], facts["punctuality"] not in (None, "on_time")
    counts = Counter({
        "orders": 1, "with_promise": bucket is not None, "on_time": bucket == "on_time",
        "early": bool(facts["delivered_early"]) and bucket is not None, "late": late,
        "late_days": facts["days_late"] if late else 0,
        "lead_days": facts["lead_days"] or 0, "lead_orders": facts["lead_days"] is not None,
        "first_customers": bool(facts["first_of_kind"]), "first_returned": bool(facts["first_of_kind"] and
                                                                               facts["came_back"]),
    })
    return facts["delivered_on"], counts


def survey_counts(survey: Mapping[str, Any], timezone: str) -> tuple[date, Counter[str]] | None:
    """What a sent survey adds to its sent day (shop-local)."""
    sent_at: datetime | None = survey["sent_at"]
    if sent_at is None:
        return None
    counts: Counter[str] = Counter({"sent": 1})
    if is_answered(survey):
        counts["answered"] += 1
        if survey["csat"] is not None:
            counts[f"csat_{survey['csat']}"] += 1
        if survey["nps"] is not None:
            counts["nps_answers"] += 1
            counts["nps_sum"] += survey["nps"]
            counts[f"nps_{rules.nps_group(survey['nps'])}s"] += 1
    return sent_at.astimezone(ZoneInfo(timezone)).date(), counts


def _add(deltas: Deltas, shop_id: int, kind: str, found: tuple[date, Counter[str]] | None,
         facts: Mapping[str, Any], sign: int) -> None:
    if found is None:
        return
    day, counts = found
    for key in _keys(kind, day, facts):
        target = deltas[(shop_id, key)]
        for name, n in counts.items():
            target[name] += sign * int(n)


def _values(obj: Any, names: Iterable[str], old: bool) -> dict[str, Any]:
    """The object's column values now, or as they were before this flush (``old``)."""
    if not old:
        return {name: getattr(obj, name) for name in names}
    attrs = sa.inspect(obj).attrs
    result = {}
    for name in names:
        history = attrs[name].history
        result[name] = history.deleted[0] if history.deleted else (history.unchanged or [getattr(obj, name)])[0]
    return result


def _changed(obj: Any, names: Iterable[str]) -> bool:
    attrs = sa.inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in names)


def _flush_deltas(session: so.Session) -> Deltas:
    deltas: Deltas = defaultdict(Counter)
    orders: dict[int, tuple[Order, bool, bool]] = {}  # id(obj) -> (order, existed before, exists after)
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Order) and (obj in session.new or obj in session.deleted or _changed(obj, ORDER_FACTS)):
            orders[id(obj)] = (obj, obj not in session.new, obj not in session.deleted)
    surveys: dict[int, Survey] = {id(obj): obj for obj in (*session.new, *session.dirty, *session.deleted)
                                  if isinstance(obj, Survey) and (obj in session.new or obj in session.deleted
                                                                  or _changed(obj, COUNTED))}
    changed_orders = {order.id: existed for order, existed, _ in orders.values() if order.id is not None}
    with session.no_autoflush:
        for changed, existed, exists in orders.values():
            if existed:
                old = _values(changed, ORDER_FACTS, old=True)
                _add(deltas, old["shop_id"], "delivery", delivery_counts(old), old, -1)
            if exists:
                new = _values(changed, ORDER_FACTS, old=False)
                _add(deltas, new["shop_id"], "delivery", delivery_counts(new), new, +1)
        if changed_orders:
            for survey in session.scalars(sa.select(Survey).where(Survey.order_id.in_(changed_orders))):
                surveys.setdefault(id(survey), survey)
        for survey in surveys.values():
            order: Order | None = session.get(Order, survey.order_id)
            shop = session.get(Shop, survey.shop_id)
            if shop is None:
                continue  # the shop is being erased; its rollups go with it
            order_changed = order is not None and changed_orders.get(order.id) is not None
            if survey not in session.new:
                old_facts = _values(order, ORDER_FACTS, old=order_changed) if order is not None else None
                if old_facts is not None:
                    _add(deltas, survey.shop_id, "survey",
                         survey_counts(_values(survey, COUNTED, old=True), shop.timezone), old_facts, -1)
            if survey not in session.deleted and order is not None:
                _add(deltas, survey.shop_id, "survey", survey_counts(_values(survey, COUNTED, old=False),
                                                                     shop.timezone),
                     _values(order, ORDER_FACTS, old=False), +1)
    return deltas


def apply(connection: sa.Connection, deltas: Deltas) -> None:
    """Add ``deltas`` to the rollups (in key order, so two transactions take row locks in the same order)."""
    rows = []
    for (shop_id, key), counts in sorted(deltas.items()):
        counts = Counter({name: n for name, n in counts.items() if n})
        if counts:
            rows.append({**dict(zip(KEY, (shop_id, *key), strict=True)),
                         **{name: counts.get(name, 0) for name in COUNTERS}})
    if rows:
        connection.execute(_upsert(connection.dialect.name), rows)  # one statement, executed for each row in order


@functools.cache
def _upsert(dialect: str) -> sa.Insert:
    """The additive upsert of one rollup row, built once: building it costs more than running it."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = ScoreDay.__table__
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(KEY), set_={name: table.c[name] + statement.excluded[name] for name in COUNTERS})


def _after_flush(session: so.Session, _context: Any) -> None:
    deltas = _flush_deltas(session)
    if deltas:
        apply(session.connection(), deltas)


def install() -> None:
    """Follow every flush of the app's session; the counted attributes keep their old value when set."""
    if not sa.event.contains(so.Session, "after_flush", _after_flush):
        sa.event.listen(so.Session, "after_flush", _after_flush)
        for cls, names in ((Order, ORDER_FACTS), (Survey, COUNTED)):
            for name in names:
                sa.event.listen(getattr(cls, name), "set", _keep_old, active_history=True)


def _keep_old(target: Any, value: Any, oldvalue: Any, initiator: Any) -> Any:
    return value  # registered with active_history=True so the old value is loaded before a change


def rebuild(shop: Shop) -> int:
    """Recount the shop's rollups from its orders and surveys (a backfill, or a repair); returns the rows written."""
    deltas: Deltas = defaultdict(Counter)
    columns = [getattr(Order, name) for name in ORDER_FACTS]
    delivered = db.session.execute(sa.select(*columns).where(Order.shop_id == shop.id,
                                                             Order.delivered_on.is_not(None))
                                   .execution_options(yield_per=5000))
    for row in delivered.mappings():
        facts = dict(row)
        _add(deltas, shop.id, "delivery", delivery_counts(facts), facts, +1)
    sent = db.session.execute(
        sa.select(*columns, *[getattr(Survey, name) for name in COUNTED])
        .join(Order, Order.id == Survey.order_id)
        .where(Survey.shop_id == shop.id, Survey.sent_at.is_not(None)).execution_options(yield_per=5000))
    for row in sent.mappings():
        both = dict(row)
        _add(deltas, shop.id, "survey", survey_counts(both, shop.timezone), both, +1)
    db.session.execute(sa.delete(ScoreDay).where(ScoreDay.shop_id == shop.id))
    rows = [{**dict(zip(KEY, (shop_id, *key), strict=True)), **{name: counts.get(name, 0) for name in COUNTERS}}
            for (shop_id, key), counts in deltas.items()]
    for start in range(0, len(rows), 5000):
        db.session.execute(sa.insert(ScoreDay), rows[start:start + 5000])
    return len(rows)
