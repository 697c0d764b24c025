"""What counts as an answered survey, in the one place the scores read it (SQL for queries, Python for rollups).

Both forms must say the same thing; change them together (and COUNTED with them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from cxplugin.models import Survey, SurveyStatus

# The survey columns the scores count from: a change to any of them moves the survey's rollup counts.
COUNTED = ("sent_at", "status", "csat", "nps")


def is_answered(survey: Mapping[str, Any]) -> bool:
    """``survey`` holds the COUNTED columns."""
    return bool(survey["status"] == SurveyStatus.ANSWERED)


def answered_condition() -> sa.ColumnElement[bool]:
    return Survey.status == SurveyStatus.ANSWERED
