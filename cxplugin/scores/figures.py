"""The figures of the scores page, each defined once, summed in SQL from the daily rollups (scores/rollup.py).

Periods: delivery figures by the shop-local delivery date, survey figures by the shop-local sent date. Nothing
here loads an order or a survey into Python except the few latest comments.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from cxplugin.extensions import db
from cxplugin.models import ScoreDay, Shop, Survey
from cxplugin.models.score import COUNTERS
from cxplugin.scores import rules
from cxplugin.scores.responses import response_rows, sent_between

Counts = Mapping[str, int]
LATEST_COMMENTS = 20
NOT_ENOUGH = "not enough answers"


# -- the figures, each from the summed counters under it --------------------------------------------------------

def on_time(c: Counts) -> dict[str, Any]:
    """Delivered on or before the promised latest date ÷ delivered orders that had a promise; early = before the
    promised earliest date; the mean days late of late orders."""
    return {"delivered": c["orders"], "with_promise": c["with_promise"], "on_time": c["on_time"],
            "early": c["early"], "late": c["late"], "rate": rules.rate(c["on_time"], c["with_promise"]),
            "early_rate": rules.rate(c["early"], c["with_promise"]),
            "mean_days_late": rules.mean(c["late_days"], c["late"])}


def csat(c: Counts) -> dict[str, Any]:
    """Share of CSAT answers that are 4 or 5, with the 1–5 distribution and the mean score."""
    distribution = {str(k): c[f"csat_{k}"] for k in range(1, 6)}
    answers = sum(distribution.values())
    happy = sum(n for k, n in distribution.items() if rules.satisfied(int(k)))
    return {"answers": answers, "satisfied": happy, "rate": rules.rate(happy, answers),
            "mean": rules.mean(sum(int(k) * n for k, n in distribution.items()), answers),
            "distribution": distribution}


def nps(c: Counts) -> dict[str, Any]:
    """% promoters (9–10) − % detractors (0–6), with the counts and the mean score."""
    return {"answers": c["nps_answers"], "promoters": c["nps_promoters"], "passives": c["nps_passives"],
            "detractors": c["nps_detractors"],
            "score": rules.nps_score(c["nps_promoters"], c["nps_detractors"], c["nps_answers"]),
            "mean": rules.mean(c["nps_sum"], c["nps_answers"])}


def response_rate(c: Counts) -> dict[str, Any]:
    """Answered ÷ sent surveys."""
    return {"sent": c["sent"], "answered": c["answered"], "rate": rules.rate(c["answered"], c["sent"])}


def repeat_purchase(c: Counts) -> dict[str, Any]:
    """Customers whose first on-time (or first late) delivery fell in the period, at least RETURN_DAYS ago, and
    how many of them ordered again within RETURN_DAYS after it."""
    return {"customers": c["first_customers"], "returned": c["first_returned"],
            "rate": rules.rate(c["first_returned"], c["first_customers"])}


def breakdown(deliveries: Counts, surveys: Counts) -> dict[str, Any]:
    """One row of a destination or carrier breakdown."""
    return {"deliveries": deliveries["orders"], "on_time_rate": rules.rate(deliveries["on_time"],
                                                                           deliveries["with_promise"]),
            "with_promise": deliveries["with_promise"],
            "mean_days_to_delivery": rules.mean(deliveries["lead_days"], deliveries["lead_orders"]),
            "csat": csat(surveys)}


# -- summing the rollups ----------------------------------------------------------------------------------------

class _Zero(dict[str, int]):
    def __missing__(self, key: str) -> int:
        return 0


_ZERO: Counts = _Zero()


_GROUP = (ScoreDay.kind, ScoreDay.grain, ScoreDay.bucket, ScoreDay.country, ScoreDay.zone, ScoreDay.carrier)
Sums = dict[tuple[Any, ...], Counts]


def _sums(shop: Shop, first: date, last: date, group: tuple[Any, ...], matured: date | None = None,
          grain: str | None = None) -> Sums:
    """The counters summed over the days [first, last], per value of ``group``; with ``matured``, also the repeat
    purchase counters of the days up to it (as ``matured_customers`` and ``matured_returned``)."""
    columns = [sa.func.coalesce(sa.func.sum(getattr(ScoreDay, n)), 0) for n in COUNTERS]
    names = list(COUNTERS)
    if matured is not None:
        for name, counter in (("matured_customers", ScoreDay.first_customers),
                              ("matured_returned", ScoreDay.first_returned)):
            columns.append(sa.func.coalesce(sa.func.sum(sa.case((ScoreDay.day <= matured, counter), else_=0)), 0))
            names.append(name)
    query = (sa.select(*group, *columns).where(ScoreDay.shop_id == shop.id, ScoreDay.day >= first,
                                               ScoreDay.day <= last).group_by(*group))
    if grain is not None:
        query = query.where(ScoreDay.grain == grain)
    result: Sums = {}
    for row in db.session.execute(query):
        values = tuple(row)
        result[values[:len(group)]] = _Zero(zip(names, (int(v) for v in values[len(group):]), strict=True))
    return result


def _total(sums: Sums, kind: str, grain: str, **match: Any) -> Counts:
    """The counters of the rows of ``kind`` and ``grain`` whose key columns equal ``match`` (a tuple: any of)."""
    summed = _Zero()
    for key, counts in sums.items():
        row = dict(zip(("kind", "grain", "bucket", "country", "zone", "carrier"), key, strict=True))
        if row["kind"] == kind and row["grain"] == grain and all(
                row[name] in (wanted if isinstance(wanted, tuple) else (wanted,)) for name, wanted in match.items()):
            for name, n in counts.items():
                summed[name] += n
    return summed


def _week(column: so.InstrumentedAttribute[Any]) -> sa.ColumnElement[Any]:
    """The Monday of the row's week, in SQL."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.date_trunc("week", column), sa.Date)
    return sa.func.date(column, sa.literal("-") + sa.cast((sa.func.strftime("%w", column) + 6) % 7, sa.String)
                        + sa.literal(" days"))


def scores(shop: Shop, period: rules.DateRange, today: date) -> dict[str, Any]:
    """Every figure of the scores page for ``period`` (shop-local dates, inclusive): two sums over the rollups
    and the latest comments."""
    first, last = period.start, period.end
    matured = min(last, rules.matured_until(today))
    sums = _sums(shop, first, last, _GROUP, matured=matured)
    delivered, sent = _total(sums, "delivery", "punctuality"), _total(sums, "survey", "punctuality")

    def cohort(buckets: tuple[str, ...]) -> dict[str, Any]:
        counts = _total(sums, "delivery", "punctuality", bucket=buckets)
        return repeat_purchase(_Zero(first_customers=counts["matured_customers"],
                                     first_returned=counts["matured_returned"]))

    def per_bucket(b: str) -> dict[str, Any]:
        answers = _total(sums, "survey", "punctuality", bucket=b)
        return {"bucket": b, "orders": _total(sums, "delivery", "punctuality", bucket=b)["orders"],
                "csat": csat(answers), "nps": nps(answers)}

    return {
        "from": first.isoformat(), "to": last.isoformat(),
        "on_time": on_time(delivered),
        "csat": csat(sent),
        "nps": nps(sent),
        "response_rate": response_rate(sent),
        "by_punctuality": [per_bucket(b) for b in rules.BUCKETS],
        "repeat_purchase": {"on_time": cohort(rules.BUCKETS[:1]), "late": cohort(rules.BUCKETS[1:]),
                            "deliveries_until": matured.isoformat()},
        "by_destination": _breakdown(sums, "destination", ("country", "zone")),
        "by_carrier": _breakdown(sums, "carrier", ("carrier",)),
        "weekly": _weekly(shop, first, last),
        "comments": latest_comments(shop, period),
    }


def _breakdown(sums: Sums, grain: str, names: tuple[str, ...]) -> list[dict[str, Any]]:
    positions = [("bucket", "country", "zone", "carrier").index(n) + 2 for n in names]
    keys = sorted({tuple(key[i] for i in positions) for key in sums if key[1] == grain})
    rows = []
    for key in keys:
        match = dict(zip(names, key, strict=True))
        rows.append((match, _total(sums, "delivery", grain, **match), _total(sums, "survey", grain, **match)))
    rows.sort(key=lambda r: (-r[1]["orders"], tuple(r[0].values())))
    return [{**{name: value or None for name, value in match.items()}, **breakdown(d, s)} for match, d, s in rows]


def _weekly(shop: Shop, first: date, last: date) -> list[dict[str, Any]]:
    """On-time rate, CSAT and NPS per week (Monday first) that has a day in the period."""
    sums = _sums(shop, first, last, (ScoreDay.kind, _week(ScoreDay.day).label("week")), grain="punctuality")
    weeks = sorted({_as_date(week) for _, week in sums})
    by_kind = {(kind, _as_date(week)): counts for (kind, week), counts in sums.items()}
    return [{"week": w.isoformat(), "on_time": on_time(by_kind.get(("delivery", w), _ZERO)),
             "csat": csat(by_kind.get(("survey", w), _ZERO)), "nps": nps(by_kind.get(("survey", w), _ZERO))}
            for w in weeks]


def _as_date(value: Any) -> date:
    if isinstance(value, date):
        return value if type(value) is date else value.date()  # type: ignore[attr-defined]
    return date.fromisoformat(str(value)[:10])


def latest_comments(shop: Shop, period: rules.DateRange, limit: int = LATEST_COMMENTS) -> list[dict[str, Any]]:
    """The newest comments of surveys sent in the period."""
    return response_rows(shop, [Survey.comment.is_not(None), Survey.comment != "",
                                *sent_between(shop, period)], limit=limit)


# -- CSV ----------------------------------------------------------------------------------------------------------

def _flat(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flat(f"{prefix}.{key}" if prefix else key, inner)
    else:
        yield prefix, value


def as_csv(figures: dict[str, Any]) -> str:
    """The figures as ``section,group,figure,value`` rows; a figure over too few answers reads NOT_ENOUGH.
    Comments stay out (the shoppers' own words belong in the app, not in a spreadsheet passed around)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "group", "figure", "value"])
    writer.writerow(["range", "", "from", figures["from"]])
    writer.writerow(["range", "", "to", figures["to"]])
    for section in ("on_time", "csat", "nps", "response_rate", "repeat_purchase"):
        for name, value in _flat("", figures[section]):
            writer.writerow([section, "all", name, _cell(value)])
    lists = {"by_punctuality": ("bucket",), "by_destination": ("country", "zone"), "by_carrier": ("carrier",),
             "weekly": ("week",)}
    for section, keys in lists.items():
        for row in figures[section]:
            group = "/".join(str(row[k] or "unknown") for k in keys)
            for name, value in _flat("", {k: v for k, v in row.items() if k not in keys}):
                writer.writerow([section, group, name, _cell(value)])
    return out.getvalue()


def _cell(value: Any) -> Any:
    return NOT_ENOUGH if value is None else value

