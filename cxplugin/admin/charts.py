"""Server-rendered SVG charts for the scores page, each with a <title>, a text summary and a data table.

A value of None is a figure with too few answers to show: it gets no bar or point, and the summary and the
table say "not enough answers". No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

NOT_ENOUGH = "not enough answers"
# Narrow viewBoxes, so that text stays readable when a chart shrinks to a phone's width (390 px).
_BAR_WIDTH, _ROW, _CHART_W = 290, 46, 400
_LINE_W, _LINE_H, _PAD = 400, 200, 34
_SERIES_CLASSES = ("s0", "s1", "s2")  # colours in admin.css, from the Polaris tokens


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # 0..1, None: not enough answers
    shown: str  # the value as people read it: "82 %", "12"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # 0..1 per x label


def percent(rate: float | None) -> str:
    """A 0–1 rate as "87 %"; None (fewer than 5 answers under it) as "not enough answers"."""
    return NOT_ENOUGH if rate is None else f"{round(rate * 100)} %"


def _table(caption: str, head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    cells = "".join(f'<tr><th scope="row">{escape(r[0])}</th>' + "".join(f"<td>{escape(c)}</td>" for c in r[1:])
                    + "</tr>" for r in rows)
    header = "".join(f'<th scope="col">{escape(h)}</th>' for h in head)
    return (f'<table class="visually-hidden"><caption>{escape(caption)}</caption>'
            f"<thead><tr>{header}</tr></thead><tbody>{cells}</tbody></table>")


def _figure(chart_id: str, title: str, summary: str, svg_body: str, width: int, height: int, table: str) -> Markup:
    return Markup(
        f'<figure class="chart" id="{escape(chart_id)}">'
        f'<svg role="img" aria-labelledby="{escape(chart_id)}-t" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="xMinYMin meet" focusable="false">'
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>{svg_body}</svg>'
        f'<figcaption class="chart-summary">{escape(summary)}</figcaption>{table}</figure>')


def bar_chart(chart_id: str, title: str, bars: Sequence[Bar], value_name: str) -> Markup:
    """Horizontal bars, one per label (the label above its bar); the summary lists every value in words."""
    height = max(len(bars), 1) * _ROW + 4
    body = []
    for i, bar in enumerate(bars):
        y = i * _ROW
        body.append(f'<text x="0" y="{y + 14}" class="chart-label">{escape(bar.label)}</text>')
        if bar.value is None:
            body.append(f'<text x="0" y="{y + 36}" class="chart-muted">{NOT_ENOUGH}</text>')
            continue
        length = max(round(bar.value * _BAR_WIDTH), 2)
        body.append(f'<rect x="0" y="{y + 20}" width="{length}" height="20" rx="4" class="s0"/>')
        body.append(f'<text x="{length + 8}" y="{y + 35}" class="chart-value">{escape(bar.shown)}</text>')
    summary = f"{title}: " + "; ".join(f"{b.label} {b.shown}" for b in bars) + "."
    table = _table(title, ["", value_name], [(b.label, b.shown) for b in bars])
    return _figure(chart_id, title, summary, "".join(body), _CHART_W, height, table)


def line_chart(chart_id: str, title: str, labels: Sequence[str], series: Sequence[Series]) -> Markup:
    """Rates (0–1) over time, one line per series; weeks with too few answers leave a gap."""
    inner_w, inner_h = _LINE_W - 2 * _PAD, _LINE_H - 2 * _PAD
    step = inner_w / max(len(labels) - 1, 1)
    body = [f'<line x1="{_PAD}" y1="{_PAD + inner_h}" x2="{_PAD + inner_w}" y2="{_PAD + inner_h}" class="chart-axis"/>',
            f'<text x="0" y="{_PAD + 4}" class="chart-muted">100 %</text>',
            f'<text x="0" y="{_PAD + inner_h + 4}" class="chart-muted">0 %</text>']
    for n, s in enumerate(series):
        colour = _SERIES_CLASSES[n % len(_SERIES_CLASSES)]
        points = [(round(_PAD + i * step, 1), round(_PAD + inner_h * (1 - v), 1))
                  for i, v in enumerate(s.values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x},{y}" for x, y in points)
            body.append(f'<polyline points="{path}" class="{colour}"/>')
        body.extend(f'<circle cx="{x}" cy="{y}" r="3.5" class="{colour}"/>' for x, y in points)
        body.append(f'<text x="{_PAD + 110 * n}" y="14" class="chart-label {colour}">● {escape(s.name)}</text>')
    if labels:
        body.append(f'<text x="{_PAD}" y="{_LINE_H - 6}" class="chart-muted">{escape(labels[0])}</text>')
        body.append(f'<text x="{_PAD + inner_w}" y="{_LINE_H - 6}" text-anchor="end" class="chart-muted">'
                    f'{escape(labels[-1])}</text>')
    rows = [[label, *(percent(s.values[i]) for s in series)] for i, label in enumerate(labels)]
    if labels:
        parts = [f"{s.name} from {percent(s.values[0])} in the week of {labels[0]} "
                 f"to {percent(s.values[-1])} in the week of {labels[-1]}" for s in series]
        summary = f"{title}: " + "; ".join(parts) + "."
    else:
        summary = f"{title}: no weeks with deliveries in this period."
    table = _table(title, ["Week of", *(s.name for s in series)], rows)
    return _figure(chart_id, title, summary, "".join(body), _LINE_W, _LINE_H, table)


BUCKET_LABELS = {"on_time": "On time", "1_day_late": "1 day late", "2_3_days_late": "2–3 days late",
                 "4_plus_days_late": "4+ days late"}


def _rate(block: object) -> float | None:
    rate = block.get("rate") if isinstance(block, dict) else None
    return float(rate) if isinstance(rate, int | float) else None


def scores_charts(figures: dict[str, Any]) -> dict[str, Markup]:
    """The scores page's charts, from the dict ``GET /api/admin/scores`` answers."""
    distribution = figures["csat"].get("distribution") or {}
    most = max([int(v) for v in distribution.values()] + [1])
    csat_bars = [Bar(f"{n} of 5", int(distribution.get(str(n), 0)) / most, str(distribution.get(str(n), 0)))
                 for n in range(5, 0, -1)]
    punctuality = [Bar(BUCKET_LABELS.get(row["bucket"], row["bucket"]), _rate(row.get("csat")),
                       percent(_rate(row.get("csat")))) for row in figures["by_punctuality"]]
    repeat = figures["repeat_purchase"]
    repeat_bars = [Bar(label, _rate(repeat.get(side)), percent(_rate(repeat.get(side))))
                   for side, label in (("on_time", "Delivered on time"), ("late", "Delivered late"))]
    weekly = figures["weekly"]
    weeks = [str(w.get("week", "")) for w in weekly]
    trends = [Series("On time", [_rate(w.get("on_time")) for w in weekly]),
              Series("Satisfied", [_rate(w.get("csat")) for w in weekly])]
    return {
        "csat_distribution": bar_chart("chart-csat", "Answers by CSAT score", csat_bars, "Answers"),
        "by_punctuality": bar_chart("chart-punctuality", "Satisfied shoppers by punctuality", punctuality,
                                    "Satisfied"),
        "repeat_purchase": bar_chart("chart-repeat", "Shoppers who ordered again", repeat_bars, "Ordered again"),
        "weekly": line_chart("chart-weekly", "Weekly on-time rate and satisfaction", weeks, trends),
    }
