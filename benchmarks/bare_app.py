"""The baseline for the webhook intake benchmark: a bare Flask ``POST /webhooks`` and nothing else.

Served by the same gunicorn config as the app (``gunicorn -c gunicorn.conf.py benchmarks.bare_app:app``),
so the ratio intake/bare measures what the app's own work costs, not gunicorn, HTTP or the client.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

app = Flask(__name__)


@app.post("/webhooks")
def webhooks() -> tuple[Response, int]:
    request.get_data()  # read the body, as the real endpoint must
    return jsonify(status=200, message="Recorded."), 200


@app.get("/healthz")
def healthz() -> tuple[Response, int]:
    return jsonify(status="ok"), 200


@app.get("/proxy/promise")
def promise() -> Response:
    """The baseline for benchmarks/proxy_promise.py: a fixed answer of the same shape, nothing computed."""
    response = jsonify(served=True, earliest="2026-11-26", latest="2026-11-30", seconds_to_cutoff=11520,
                       locale=request.args.get("locale", "en"), dir="ltr",
                       text={"arrival": "Arrives Thu, Nov 26 – Mon, Nov 30", "countdown": "Order within {countdown}"})
    response.headers["Cache-Control"] = "private, max-age=60"
    return response
