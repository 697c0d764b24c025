"""When to ask and whom not to ask: the pure survey rules."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from cxplugin.surveys.rules import (
    SurveyFacts,
    SurveyPolicy,
    backoff_seconds,
    into_send_window,
    is_detractor,
    skip_reason,
    valid_score,
)

NINE, SEVEN_PM = time(9), time(19)
POLICY = SurveyPolicy(throttle_days=30, max_age_days=14)
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def facts(**changes: object) -> SurveyFacts:
    base = dict(cancelled=False, refunded=False, has_email=True, suppressed=False, last_surveyed_at=None,
                arrived_at=NOW - timedelta(days=2))
    base.update(changes)
    return SurveyFacts(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("due_utc", "zone", "expected_utc"), [
    # 14:00 in Amsterdam (13:00 UTC, winter): inside the window, unchanged.
    ("2026-11-24T13:00:00+00:00", "Europe/Amsterdam", "2026-11-24T13:00:00+00:00"),
    # 06:30 in Amsterdam: held until 09:00 the same day (08:00 UTC).
    ("2026-11-24T05:30:00+00:00", "Europe/Amsterdam", "2026-11-24T08:00:00+00:00"),
    # 19:00 sharp is outside [09:00, 19:00): the next morning.
    ("2026-11-24T18:00:00+00:00", "Europe/Amsterdam", "2026-11-25T08:00:00+00:00"),
    # 23:30 in New York on Sat 31 Oct; the clocks fall back that night: 09:00 EST is 14:00 UTC.
    ("2026-11-01T03:30:00+00:00", "America/New_York", "2026-11-01T14:00:00+00:00"),
    # 22:00 in Amsterdam on Sat 28 Mar; spring forward that night: 09:00 CEST is 07:00 UTC.
    ("2026-03-28T21:00:00+00:00", "Europe/Amsterdam", "2026-03-29T07:00:00+00:00"),
    # Auckland (UTC+13 in November): 20:00 UTC is 09:00 the next local day, exactly the opening.
    ("2026-11-24T20:00:00+00:00", "Pacific/Auckland", "2026-11-24T20:00:00+00:00"),
])
def test_mail_goes_out_in_the_shops_daytime(due_utc: str, zone: str, expected_utc: str) -> None:
    moved = into_send_window(datetime.fromisoformat(due_utc), zone, NINE, SEVEN_PM)
    assert moved == datetime.fromisoformat(expected_utc)


@pytest.mark.parametrize(("changes", "reason"), [
    ({}, None),
    ({"cancelled": True}, "cancelled"),
    ({"refunded": True}, "refunded"),
    ({"has_email": False}, "no_email"),
    ({"suppressed": True}, "unsubscribed"),
    ({"last_surveyed_at": NOW - timedelta(days=29)}, "recently_surveyed"),
    ({"last_surveyed_at": NOW - timedelta(days=31)}, None),
    ({"arrived_at": NOW - timedelta(days=15)}, "too_old"),
])
def test_skip_rules(changes: dict[str, object], reason: str | None) -> None:
    assert skip_reason(facts(**changes), POLICY, NOW) == reason


def test_detractors_are_csat_one_or_two_and_nps_zero_to_six() -> None:
    assert [is_detractor(c, None) for c in range(1, 6)] == [True, True, False, False, False]
    assert [is_detractor(None, n) for n in range(0, 11)] == [True] * 7 + [False] * 4


def test_scores_outside_the_scale_are_refused() -> None:
    assert [valid_score("csat", s) for s in (0, 1, 5, 6)] == [False, True, True, False]
    assert [valid_score("nps", s) for s in (-1, 0, 10, 11)] == [False, True, True, False]


def test_backoff_doubles_to_an_hour() -> None:
    assert [backoff_seconds(n) for n in (1, 2, 3, 7, 12)] == [60, 120, 240, 3600, 3600]
