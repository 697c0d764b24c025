"""gunicorn settings for production and the benchmarks (one place, so both measure the same thing)."""

import gc
import multiprocessing
import os
from typing import Any

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Shopify gives a webhook 5 s; nothing here should come close.
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = None  # the app logs one structured line per request itself
errorlog = "-"


def post_worker_init(worker: Any) -> None:
    """Keep what the app built at start-up out of the garbage collector's full passes.

    Every request leaves a little cyclic garbage (werkzeug's URL matcher makes a closure that refers
    to itself), so a full collection comes round every half minute or so, and over the ~120,000
    objects a worker holds once the app is loaded it stalls all the worker's threads (about 90 ms on a
    2-core machine). Frozen, those objects are never scanned again, and a full pass takes 5-25 ms.
    """
    gc.collect()
    gc.freeze()
