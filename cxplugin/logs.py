"""Structured logging: one JSON object per line, carrying the shop and the ids involved."""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

logger = logging.getLogger("cxplugin")

# An e-mail address in a log line is personal data that outlives every erasure: masked, whatever carried it
# (a field, an exception's text, a traceback). Only lines with an "@" pay for the search.
_EMAIL_ADDRESS = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+")
MASKED_ADDRESS = "<e-mail>"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        # orjson: this runs for every request, and the standard encoder is several times slower.
        line = orjson.dumps(entry, default=str).decode()
        return _EMAIL_ADDRESS.sub(MASKED_ADDRESS, line) if "@" in line else line


def configure(level: str) -> None:
    """Send cxplugin's records to stderr as JSON lines (once per process)."""
    if any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        logger.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def log(msg: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one structured line: ``log("webhook recorded", shop=..., event_id=...)``."""
    logger.log(level, msg, extra={"fields": {k: v for k, v in fields.items() if v is not None}})
