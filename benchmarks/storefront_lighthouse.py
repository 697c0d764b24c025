"""What the delivery-promise block costs a storefront: Lighthouse on the demo product page with and without it.

The app is seeded as `make run` seeds it (`flask cx demo`, on a temporary SQLite database) and served by gunicorn
with the project's gunicorn.conf.py; Lighthouse (npm, pinned below, installed into benchmarks/.lighthouse/) runs
Chromium on `/demo/storefront?country=NL&locale=nl` and on the same page with `&blocks=none`, interleaved, with its
default mobile preset and throttling. Goal (from the issue): the block costs at most 1 performance point and no
cumulative layout shift. Every request the page makes must stay on the app's own origin (no CDN).

    .venv/bin/python benchmarks/storefront_lighthouse.py [--runs 5] [--orders 280] [--throttling devtools]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.webhook_intake import base_env, flask_cli, gunicorn  # noqa: E402

LIGHTHOUSE_VERSION = "12.8.2"  # the last major that runs on Node 18 and 20 (13 needs Node 22)
LIGHTHOUSE_DIR = ROOT / "benchmarks" / ".lighthouse"
RESULTS = ROOT / "benchmarks" / "results"
CHROMIUM = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu --disable-background-networking"
PAGE = "/demo/storefront?country=NL&locale=nl"
VARIANTS = {"with block": PAGE, "without": PAGE + "&blocks=none"}
MAX_POINTS, MAX_CLS = 1.0, 0.0


# The weighted metrics of Lighthouse's performance score, as printed.
METRICS = {"first-contentful-paint": "FCP", "largest-contentful-paint": "LCP", "total-blocking-time": "TBT",
           "speed-index": "SI", "cumulative-layout-shift": "CLS"}
ERFCINV_ONE_FIFTH = 0.9061938024368232  # Lighthouse's metric curves: the p10 value scores 0.9


@dataclass(frozen=True)
class Run:
    variant: str
    score: float  # performance, 0–100
    metrics: dict[str, float]  # METRICS' values (ms; CLS unitless)
    requests: list[str]


def steepest_points(scoring: dict[str, float], weight: float) -> float:
    """The most performance points one unit of a metric can cost anywhere on its curve.

    Lighthouse scores a metric x as erfc(k·ln(x/median))/2 (log-normal, p10 scoring 0.9); its slope,
    k/√π · exp(−k²u² − u)/median with u = ln(x/median), is steepest at u = −1/(2k²). A page that already
    scores 100 hides what a block costs; this bounds what the same milliseconds cost on a slower page.
    """
    k = ERFCINV_ONE_FIFTH / math.log(scoring["median"] / scoring["p10"])
    u = -1 / (2 * k * k)
    return 100 * weight * k / math.sqrt(math.pi) * math.exp(-(k * u) ** 2 - u) / scoring["median"]


def lighthouse_bin() -> Path:
    """Lighthouse's CLI at the pinned version, installed with npm into a git-ignored folder on first use."""
    binary = LIGHTHOUSE_DIR / "node_modules" / ".bin" / "lighthouse"
    manifest = LIGHTHOUSE_DIR / "node_modules" / "lighthouse" / "package.json"
    if not (binary.exists() and manifest.exists()
            and json.loads(manifest.read_text())["version"] == LIGHTHOUSE_VERSION):
        if not shutil.which("npm"):
            raise SystemExit("Lighthouse needs Node.js 18.16 or later and npm (apt-get install nodejs npm)")
        print(f"installing lighthouse@{LIGHTHOUSE_VERSION} with npm into {LIGHTHOUSE_DIR.relative_to(ROOT)}/ …")
        subprocess.run(["npm", "install", "--prefix", str(LIGHTHOUSE_DIR), "--no-save", "--no-audit", "--no-fund",
                        f"lighthouse@{LIGHTHOUSE_VERSION}"], check=True, stdout=subprocess.DEVNULL)
    return binary


def lighthouse(binary: Path, url: str, report: Path, throttling: str) -> dict[str, Any]:
    subprocess.run([str(binary), url, "--only-categories=performance", "--output=json", f"--output-path={report}",
                    f"--chrome-path={CHROMIUM}", f"--chrome-flags={CHROME_FLAGS}",
                    f"--throttling-method={throttling}", "--quiet"],
                   check=True, timeout=300)
    data: dict[str, Any] = json.loads(report.read_text())
    return data


def figures(variant: str, report: dict[str, Any]) -> Run:
    score = report["categories"]["performance"]["score"]
    if score is None:  # Lighthouse could not score the page: say why rather than print a zero
        raise RuntimeError(f"{variant}: no performance score ({report.get('runtimeError')})")
    audits = report["audits"]
    return Run(variant, round(score * 100, 1), {m: float(audits[m]["numericValue"]) for m in METRICS},
               [item["url"] for item in audits["network-requests"]["details"]["items"]])


def slopes(report: dict[str, Any]) -> dict[str, float]:
    """steepest_points() of each weighted metric, from the report's own curves and weights."""
    refs = report["categories"]["performance"]["auditRefs"]
    total = sum(ref["weight"] for ref in refs)
    weights = {ref["id"]: ref["weight"] / total for ref in refs}
    return {m: steepest_points(report["audits"][m]["scoringOptions"], weights[m]) for m in METRICS}


def spread(values: Sequence[float], digits: int) -> str:
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def row(label: str, score: str, values: dict[str, str], width: int = 6, more: str = "") -> str:
    cells = "".join(f"  {values[m]:>{width}}" for m in METRICS)
    return f"{label:<16}  {score:>{max(width, 5)}}{cells}{more}"


def median_of(runs: Sequence[Run], metric: str) -> float:
    return float(statistics.median(r.score if metric == "score" else r.metrics[metric] for r in runs))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="Lighthouse runs per page (default 5)")
    parser.add_argument("--orders", type=int, default=280, help="orders the demo seed holds (as `make run`)")
    parser.add_argument("--throttling", choices=["simulate", "devtools"], default="simulate",
                        help="Lighthouse's default estimates the slow phone from an unthrottled load (simulate);"
                             " devtools slows the load itself")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if not shutil.which(CHROMIUM):
        print(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROME_PATH)", file=sys.stderr)
        return 3
    binary = lighthouse_bin()
    RESULTS.mkdir(exist_ok=True)

    runs: list[Run] = []
    folder = Path(tempfile.mkdtemp(prefix="cx-lighthouse-"))
    try:
        env = base_env("bench-secret-" + secrets.token_hex(16), "cx-lighthouse") | {
            "DATABASE_URL": f"sqlite:///{folder / 'cx.db'}", "CX_QUEUE_PATH": str(folder / "queue.db"),
            "CX_DEMO": "1", "MAIL_URL": "outbox", "WEB_CONCURRENCY": "2",
        }
        print(f"seeding the demo shop on SQLite: flask db upgrade; flask cx demo --orders {args.orders}")
        flask_cli(env, "db", "upgrade")
        flask_cli(env, "cx", "demo", "--orders", str(args.orders))
        with gunicorn("wsgi:app", env, "/healthz", RESULTS / "storefront_lighthouse-gunicorn.log") as server:
            base = server.base
            print(f"Lighthouse {LIGHTHOUSE_VERSION} (mobile preset, {args.throttling} throttling) on {base}{PAGE},"
                  f" {args.runs} run(s) per page, interleaved; times in ms")
            for url in VARIANTS.values():  # not counted: the first answers of a fresh server are slower
                lighthouse(binary, base + url, folder / "warm-up.json", args.throttling)
            print(row("run", "score", METRICS, more="  requests  load"))
            for i in range(args.runs):
                for variant in list(VARIANTS) if i % 2 == 0 else list(reversed(VARIANTS)):
                    report_file = RESULTS / f"storefront_lighthouse-{variant.replace(' ', '-')}.report.json"
                    report = lighthouse(binary, base + VARIANTS[variant], report_file, args.throttling)
                    runs.append(run := figures(variant, report))
                    print(row(f"{i + 1} {variant}", f"{run.score:.0f}",
                              {m: f"{v:.3f}" if m == "cumulative-layout-shift" else f"{v:.0f}"
                               for m, v in run.metrics.items()},
                              more=f"  {len(run.requests):>8}  {os.getloadavg()[0]:4.1f}"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    by = {v: [r for r in runs if r.variant == v] for v in VARIANTS}
    print(row("median (min–max)", "score", METRICS, 19))
    for variant, rs in by.items():
        print(row(variant, spread([r.score for r in rs], 0),
                  {m: spread([r.metrics[m] for r in rs], 3 if m == "cumulative-layout-shift" else 0)
                   for m in METRICS}, 19))
    with_, without = by["with block"], by["without"]
    points = median_of(without, "score") - median_of(with_, "score") + 0.0  # + 0.0: no "-0"
    added_cls = max(r.metrics["cumulative-layout-shift"] for r in with_) - max(
        r.metrics["cumulative-layout-shift"] for r in without)
    added = {m: median_of(with_, m) - median_of(without, m) for m in METRICS}
    mean_points = statistics.mean(r.score for r in without) - statistics.mean(r.score for r in with_) + 0.0
    print(f"the block costs {points:.0f} performance point(s) (medians; means {mean_points:.1f}),"
          f" {added_cls:+.3f} CLS (worst runs); medians "
          + ", ".join(f"{METRICS[m]} {v:+.0f} ms" for m, v in added.items() if m != "cumulative-layout-shift"))
    slope = slopes(report)
    bound = sum(slope[m] * max(0.0, v) for m, v in added.items())
    print(f"on a page slow enough to sit on the steepest part of each metric's curve, those milliseconds would cost"
          f" at most {bound:.1f} point(s)")

    foreign = sorted({u for r in runs for u in r.requests if not u.startswith((base + "/", "data:"))})
    for url in foreign:
        print(f"  request off the app's origin: {url}")
    met = points <= MAX_POINTS and added_cls <= MAX_CLS and not foreign
    print(f"goal (at most {MAX_POINTS:.0f} point, no added CLS, nothing from another origin):"
          f" {'PASS' if met else 'FAIL'}")
    (RESULTS / "storefront_lighthouse.json").write_text(json.dumps(
        {"lighthouse": LIGHTHOUSE_VERSION, "throttling": args.throttling, "page": PAGE, "orders": args.orders,
         "runs": [asdict(r) for r in runs],
         "points": points, "mean_points": mean_points, "added_cls": added_cls, "added_ms": added,
         "steepest_bound_points": bound, "foreign_requests": foreign, "pass": met}, indent=2))
    return 0 if met else 2


if __name__ == "__main__":
    sys.exit(main())
