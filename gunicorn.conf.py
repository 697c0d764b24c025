"""gunicorn settings for production and the benchmarks (one place, so both measure the same thing)."""

import multiprocessing
import os

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
