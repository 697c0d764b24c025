"""A shop's settings: what the merchant may set, how it is validated, and what a new shop starts with."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates, validates_schema

from cxplugin import i18n, outbound

_REGION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")
_CUTOFF = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_MAX_DAYS = 120
# Closed dates the calculator can count around: a year's worth, none beyond two years from today.
_MAX_CLOSED_DATES = 366
_CLOSED_DATES_AHEAD = timedelta(days=2 * 366)


# C0 and C1 controls (line breaks, tabs, NUL, NEL) and the Unicode line/paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _one_line(value: str) -> None:
    """Free text that ends up on one line, some of it in e-mail headers: no line breaks or other controls."""
    if _CONTROL.search(value):
        raise ValidationError("Use one line of text, without line breaks, tabs or other control characters.")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class DayRange(_Strict):
    min = fields.Integer(required=True, validate=validate.Range(0, _MAX_DAYS))
    max = fields.Integer(required=True, validate=validate.Range(0, _MAX_DAYS))

    @validates_schema
    def _ordered(self, data: dict[str, int], **_: Any) -> None:
        if data["min"] > data["max"]:
            raise ValidationError("min must not be greater than max.", "max")


def _weekdays() -> fields.List[int]:
    return fields.List(fields.Integer(validate=validate.Range(0, 6)), required=True,
                       validate=validate.Length(min=1, error="Choose at least one day (0 = Monday … 6 = Sunday)."))


class ZoneSettings(_Strict):
    name = fields.String(required=True, validate=[validate.Length(1, 60), _one_line])
    regions = fields.List(fields.String(), load_default=list)
    transit_days = fields.Nested(DayRange, required=True)
    methods = fields.Dict(keys=fields.String(validate=[validate.Length(1, 60), _one_line]),
                          values=fields.Nested(DayRange), load_default=dict)

    @validates("regions")
    def _regions(self, regions: list[str], **_: Any) -> None:
        bad = [r for r in regions if not _REGION.match(r)]
        if bad:
            raise ValidationError(f"Use country codes like NL or country-region codes like US-CA: {', '.join(bad)}.")


class TagRuleSettings(_Strict):
    tag = fields.String(required=True, validate=[validate.Length(1, 255), _one_line])
    add_days = fields.Integer(load_default=0, validate=validate.Range(0, _MAX_DAYS))
    processing_days = fields.Nested(DayRange, load_default=None, allow_none=True)


class PromiseSection(_Strict):
    enabled = fields.Boolean(required=True)
    cutoff = fields.String(required=True, validate=validate.Regexp(_CUTOFF, error="Use 24-hour time, e.g. 14:00."))
    processing_days = fields.Nested(DayRange, required=True)
    dispatch_weekdays = _weekdays()
    closed_dates = fields.List(fields.Date(), load_default=list, validate=validate.Length(
        max=_MAX_CLOSED_DATES, error=f"At most {_MAX_CLOSED_DATES} closed dates: remove past ones, and for a longer "
                                     "closure turn the delivery promise off instead."))
    carrier_weekdays = _weekdays()
    observe_origin_holidays = fields.Boolean(load_default=True)
    observe_destination_holidays = fields.Boolean(load_default=True)
    zones = fields.List(fields.Nested(ZoneSettings), load_default=list, validate=validate.Length(max=50))
    default_zone = fields.Nested(ZoneSettings, load_default=None, allow_none=True)
    tag_rules = fields.List(fields.Nested(TagRuleSettings), load_default=list, validate=validate.Length(max=50))
    # fixed: the ranges above; learned: ranges learned from the shop's deliveries (the ranges above where it knows
    # nothing); suggest: fixed, while the admin shows what learned would promise.
    mode = fields.String(load_default="fixed", validate=validate.OneOf(["fixed", "learned", "suggest"]))
    target_on_time = fields.Float(load_default=0.95, validate=validate.Range(
        0.5, 0.995, error="Choose a target between 50 % and 99.5 % (0.5 to 0.995)."))

    @validates("closed_dates")
    def _closed_dates_near(self, dates: list[date], **_: Any) -> None:
        limit = datetime.now(UTC).date() + _CLOSED_DATES_AHEAD
        far = [d.isoformat() for d in dates if d > limit]
        if far:
            raise ValidationError(f"Closed dates may be at most two years ahead (until {limit.isoformat()}): "
                                  f"{', '.join(far[:5])}{' …' if len(far) > 5 else ''}.")

    @validates("zones")
    def _unique_names(self, zones: list[dict[str, Any]], **_: Any) -> None:
        names = [z["name"] for z in zones if "name" in z]  # a zone whose name failed has none here
        if len(names) != len(set(names)):
            raise ValidationError("Zone names must be unique.")


class SendWindow(_Strict):
    start = fields.String(required=True, validate=validate.Regexp(_CUTOFF, error="Use 24-hour time, e.g. 09:00."))
    end = fields.String(required=True, validate=validate.Regexp(_CUTOFF, error="Use 24-hour time, e.g. 19:00."))

    @validates_schema
    def _ordered(self, data: dict[str, str], **_: Any) -> None:
        if data["start"] >= data["end"]:
            raise ValidationError("The window must end after it starts.", "end")


class SurveySection(_Strict):
    enabled = fields.Boolean(required=True)
    question = fields.String(required=True, validate=validate.OneOf(["csat", "nps", "csat_nps"]))
    delay_days = fields.Integer(required=True, validate=validate.Range(0, 60))
    fallback_days = fields.Integer(required=True, validate=validate.Range(1, 90))
    throttle_days = fields.Integer(required=True, validate=validate.Range(0, 365))
    max_age_days = fields.Integer(required=True, validate=validate.Range(1, 365))
    reminder_days = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1, 30))
    send_window = fields.Nested(SendWindow, required=True)
    hourly_cap = fields.Integer(required=True, validate=validate.Range(1, 100_000))
    token_days = fields.Integer(required=True, validate=validate.Range(1, 365))
    sender_name = fields.String(load_default=None, allow_none=True, validate=[validate.Length(max=100), _one_line])
    reply_to = fields.Email(load_default=None, allow_none=True)
    logo_url = fields.Url(load_default=None, allow_none=True, schemes={"https"})
    brand_color = fields.String(required=True, validate=validate.Regexp(r"^#[0-9a-fA-F]{6}$",
                                                                        error="Use a colour like #1a73e8."))
    alert_email = fields.Email(load_default=None, allow_none=True)
    # Which schemes and hosts are allowed is the outbound policy's call (https and public hosts in production).
    alert_webhook_url = fields.Url(load_default=None, allow_none=True, schemes={"https", "http"})

    @validates("alert_webhook_url")
    def _public_hook(self, url: str | None, **_: Any) -> None:
        problem = outbound.url_problem(url, outbound.policy()) if url else None
        if problem:
            raise ValidationError(problem)


class ReturnFee(_Strict):
    amount = fields.Decimal(required=True, as_string=True, places=2,
                            validate=validate.Range(min=0, max=10_000, error="Use an amount from 0 to 10000."))
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$",
                                                                     error="Use a currency code like EUR or USD."))


def _instructions(texts: dict[str, str]) -> None:
    unknown = sorted(set(texts) - set(i18n.LOCALES))
    if unknown:
        raise ValidationError(f"Languages must be among {', '.join(i18n.LOCALES)}: {', '.join(unknown)}.")


class ReturnsSection(_Strict):
    """The return terms: what a shopper reads before buying, and what decides each line's deadline after delivery."""

    enabled = fields.Boolean(required=True)
    window_days = fields.Integer(required=True, validate=validate.Range(1, 365))
    day_kind = fields.String(load_default="calendar", validate=validate.OneOf(["calendar", "business"]))
    # delivery (with fulfilment + fallback_days when no delivery event came) or the fulfilment itself
    counts_from = fields.String(load_default="delivery", validate=validate.OneOf(["delivery", "fulfillment"]))
    fallback_days = fields.Integer(load_default=7, validate=validate.Range(0, 60))
    excluded_tags = fields.List(fields.String(validate=[validate.Length(1, 255), _one_line]), load_default=list,
                                validate=validate.Length(max=50))
    excluded_product_types = fields.List(fields.String(validate=[validate.Length(1, 255), _one_line]),
                                         load_default=list, validate=validate.Length(max=50))
    discounted_final_sale = fields.Boolean(load_default=False)
    fee = fields.Nested(ReturnFee, load_default=None, allow_none=True)  # None: free returns
    restocking_fee_percent = fields.Integer(load_default=0, validate=validate.Range(0, 100))
    instructions = fields.Dict(keys=fields.String(), values=fields.String(validate=validate.Length(max=2000)),
                               load_default=dict, validate=_instructions)
    policy_url = fields.Url(load_default=None, allow_none=True, schemes={"https"})


_RISK_KINDS = ("delivery_problem", "late", "carrier_eta_late", "likely_late", "stalled", "late_dispatch")


class RiskSection(_Strict):
    """Orders at risk: the thresholds of the rules and the shopper delay notice."""

    stall_business_days = fields.Integer(required=True, validate=validate.Range(1, 30))
    likely_late_below = fields.Float(required=True, validate=validate.Range(0.01, 0.99))
    # Which risk kinds send the shopper a delay notice.
    notices = fields.Dict(keys=fields.String(validate=validate.OneOf(_RISK_KINDS)), values=fields.Boolean(),
                          required=True)
    apology = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))
    # A single-use discount code for the order in the notice: percent off, or none.
    discount_percent = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1, 100))


class SettingsSchema(_Strict):
    promise = fields.Nested(PromiseSection, required=True)
    surveys = fields.Nested(SurveySection, required=True)
    returns = fields.Nested(ReturnsSection, required=True)
    risk = fields.Nested(RiskSection, required=True)


def defaults(country: str | None) -> dict[str, Any]:
    """Settings a new shop starts with: ship on weekdays, domestic 2–4 days, elsewhere 5–12 days;
    ask CSAT then NPS two days after delivery, in the shop's daytime, at most once a month per shopper;
    free returns within 30 days of delivery, except products tagged final-sale."""
    domestic = [country] if country else []
    return {
        "promise": {
            "enabled": True,
            "cutoff": "14:00",
            "processing_days": {"min": 1, "max": 2},
            "dispatch_weekdays": [0, 1, 2, 3, 4],
            "closed_dates": [],
            "carrier_weekdays": [0, 1, 2, 3, 4],
            "observe_origin_holidays": True,
            "observe_destination_holidays": True,
            "zones": [{"name": "Domestic", "regions": domestic, "transit_days": {"min": 2, "max": 4}, "methods": {}}]
            if domestic else [],
            "default_zone": {"name": "International", "regions": [], "transit_days": {"min": 5, "max": 12},
                             "methods": {}},
            "tag_rules": [
                {"tag": "pre-order", "add_days": 0, "processing_days": {"min": 14, "max": 21}},
                {"tag": "made-to-order", "add_days": 5, "processing_days": None},
            ],
            "mode": "fixed",
            "target_on_time": 0.95,
        },
        "surveys": {
            "enabled": True,
            "question": "csat_nps",
            "delay_days": 2,
            "fallback_days": 10,
            "throttle_days": 30,
            "max_age_days": 14,
            "reminder_days": None,
            "send_window": {"start": "09:00", "end": "19:00"},
            "hourly_cap": 200,
            "token_days": 60,
            "sender_name": None,
            "reply_to": None,
            "logo_url": None,
            "brand_color": "#1a73e8",
            "alert_email": None,
            "alert_webhook_url": None,
        },
        "returns": {
            "enabled": True,
            "window_days": 30,
            "day_kind": "calendar",
            "counts_from": "delivery",
            "fallback_days": 7,
            "excluded_tags": ["final-sale"],
            "excluded_product_types": [],
            "discounted_final_sale": False,
            "fee": None,
            "restocking_fee_percent": 0,
            "instructions": {},
            "policy_url": None,
        },
        "risk": {
            "stall_business_days": 3,
            "likely_late_below": 0.08,
            "notices": {"delivery_problem": True, "late": True, "carrier_eta_late": True, "likely_late": True,
                        "stalled": False, "late_dispatch": True},
            "apology": None,
            "discount_percent": None,
        },
    }


def dump(data: dict[str, Any]) -> dict[str, Any]:
    """Validated settings → JSON-ready (dates as ISO strings)."""
    out: dict[str, Any] = SettingsSchema().dump(data)
    return out


def closed_dates(data: dict[str, Any]) -> frozenset[date]:
    return frozenset(date.fromisoformat(d) if isinstance(d, str) else d for d in data["promise"]["closed_dates"])
