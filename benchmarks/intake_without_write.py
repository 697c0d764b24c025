"""A diagnostic for the intake benchmarks: the app's ``POST /webhooks`` with the database write left out.

``webhook_intake.py --without-write`` serves ``app_without_write()`` with the same gunicorn config
as the real app, and ``intake_in_process.py`` calls it in process, to split what a webhook costs into
the write and everything else (signature, checks, Flask, logging). Never a way to run the app: a
delivery it answers 200 is not recorded.
"""

from __future__ import annotations

import itertools

from flask import Flask

from cxplugin.models import EventStatus
from cxplugin.webhooks import recording

_new_ids = itertools.count(1)


def record_nothing(delivery: recording.Delivery, status: EventStatus) -> recording.Recorded:
    """Stands in for ``recording.record``: answers as if the delivery were new, and writes nothing."""
    return recording.Recorded(next(_new_ids), status)


def app_without_write() -> Flask:
    """The app from ``wsgi.py``, with ``recording.record`` replaced for the whole process."""
    from wsgi import app

    recording.record = record_nothing  # type: ignore[assignment]
    return app
