"""Was the promise kept? PURE: no I/O, no clock; the shop's time zone decides the delivery date."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Verdict:
    delivered_on: date  # shop-local date of delivery
    kept: bool
    days_late: int  # 0 when kept


def order_delivered_at(shipment_deliveries: Sequence[datetime | None]) -> datetime | None:
    """An order is delivered when its last shipment is; None while any shipment is still on its way."""
    if not shipment_deliveries or any(d is None for d in shipment_deliveries):
        return None
    return max(d for d in shipment_deliveries if d is not None)


def judge(promised_latest: date, delivered_at: datetime, timezone: str) -> Verdict:
    """On time when delivered on or before the promised latest date (shop-local), else late by N days."""
    delivered_on = delivered_at.astimezone(ZoneInfo(timezone)).date()
    late = (delivered_on - promised_latest).days
    return Verdict(delivered_on=delivered_on, kept=late <= 0, days_late=max(late, 0))
