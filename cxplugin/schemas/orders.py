"""What the admin API (and a customer's data export) says about an order."""

from __future__ import annotations

from marshmallow import Schema, fields


class StatusEventOut(Schema):
    status = fields.String()
    happened_at = fields.AwareDateTime()
    message = fields.String(allow_none=True)
    city = fields.String(allow_none=True)
    province = fields.String(allow_none=True)
    country = fields.String(allow_none=True)


class ShipmentOut(Schema):
    fulfillment_id = fields.Integer()
    name = fields.String(allow_none=True)
    fulfillment_status = fields.String(allow_none=True)
    carrier = fields.String(allow_none=True)
    tracking_number = fields.String(allow_none=True)
    tracking_url = fields.String(allow_none=True)
    status = fields.String(allow_none=True)
    status_at = fields.AwareDateTime(allow_none=True)
    shipped_at = fields.AwareDateTime(allow_none=True)
    in_transit_at = fields.AwareDateTime(allow_none=True)
    out_for_delivery_at = fields.AwareDateTime(allow_none=True)
    delivered_at = fields.AwareDateTime(allow_none=True)
    estimated_delivery_at = fields.AwareDateTime(allow_none=True)
    history = fields.List(fields.Nested(StatusEventOut))


class OrderOut(Schema):
    id = fields.Integer(attribute="shopify_id")
    name = fields.String(allow_none=True)
    placed_at = fields.AwareDateTime(allow_none=True)
    customer_id = fields.Integer(allow_none=True)
    email = fields.String(allow_none=True)
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    customer_locale = fields.String(allow_none=True)
    destination = fields.Method("_destination")
    note = fields.String(allow_none=True)
    note_attributes = fields.Dict(keys=fields.String(), values=fields.String())
    line_items = fields.List(fields.Dict())
    financial_status = fields.String(allow_none=True)
    fulfillment_status = fields.String(allow_none=True)
    cancelled_at = fields.AwareDateTime(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    redacted = fields.Method("_redacted")
    shipments = fields.List(fields.Nested(ShipmentOut))

    def _destination(self, order: object) -> dict[str, str | None]:
        return {
            "country": getattr(order, "destination_country", None),
            "province": getattr(order, "destination_province", None),
            "zip": getattr(order, "destination_zip", None),
        }

    def _redacted(self, order: object) -> bool:
        return getattr(order, "redacted_at", None) is not None
