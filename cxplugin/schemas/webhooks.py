"""One schema per webhook payload we read. Unknown fields are excluded: Shopify adds fields."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields


class _Payload(Schema):
    class Meta:
        unknown = EXCLUDE


def _opt_str() -> fields.String:
    return fields.String(load_default=None, allow_none=True)


def _opt_time() -> fields.AwareDateTime:
    return fields.AwareDateTime(load_default=None, allow_none=True)


class CustomerRef(_Payload):
    id = fields.Integer(load_default=None, allow_none=True)
    email = _opt_str()
    first_name = _opt_str()
    last_name = _opt_str()


class Address(_Payload):
    first_name = _opt_str()
    country_code = _opt_str()
    province_code = _opt_str()
    zip = _opt_str()


class NoteAttribute(_Payload):
    name = fields.String(required=True)
    value = fields.Raw(load_default=None, allow_none=True)


class DiscountAllocation(_Payload):
    amount = fields.Decimal(load_default=0)


class LineItem(_Payload):
    id = fields.Integer(load_default=None, allow_none=True)
    title = _opt_str()
    total_discount = fields.Decimal(load_default=0, allow_none=True)
    discount_allocations = fields.List(fields.Nested(DiscountAllocation), load_default=list)
    quantity = fields.Integer(load_default=1)
    product_id = fields.Integer(load_default=None, allow_none=True)
    variant_id = fields.Integer(load_default=None, allow_none=True)


class FulfillmentPayload(_Payload):
    """fulfillments/create, fulfillments/update, and the fulfillments embedded in an order."""

    id = fields.Integer(required=True)
    order_id = fields.Integer(required=True)
    name = _opt_str()
    status = _opt_str()
    shipment_status = _opt_str()
    tracking_company = _opt_str()
    tracking_number = _opt_str()
    tracking_url = _opt_str()
    created_at = _opt_time()
    updated_at = fields.AwareDateTime(required=True)


class OrderPayload(_Payload):
    """orders/create, orders/updated, orders/cancelled."""

    id = fields.Integer(required=True)
    name = _opt_str()
    created_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)
    email = _opt_str()
    contact_email = _opt_str()
    customer_locale = _opt_str()
    customer = fields.Nested(CustomerRef, load_default=None, allow_none=True)
    shipping_address = fields.Nested(Address, load_default=None, allow_none=True)
    note = _opt_str()
    note_attributes = fields.List(fields.Nested(NoteAttribute), load_default=list)
    line_items = fields.List(fields.Nested(LineItem), load_default=list)
    financial_status = _opt_str()
    fulfillment_status = _opt_str()
    cancelled_at = _opt_time()
    cancel_reason = _opt_str()
    fulfillments = fields.List(fields.Nested(FulfillmentPayload), load_default=list)


class FulfillmentEventPayload(_Payload):
    """fulfillment_events/create: one carrier scan."""

    id = fields.Integer(required=True)
    fulfillment_id = fields.Integer(required=True)
    order_id = fields.Integer(required=True)
    status = fields.String(required=True)
    happened_at = fields.AwareDateTime(required=True)
    message = _opt_str()
    city = _opt_str()
    province = _opt_str()
    country = _opt_str()
    estimated_delivery_at = _opt_time()


class ShopPayload(_Payload):
    """shop/update and app/uninstalled."""

    name = _opt_str()
    email = _opt_str()
    iana_timezone = _opt_str()
    country_code = _opt_str()
    currency = _opt_str()
    primary_locale = _opt_str()
    updated_at = _opt_time()


class ProductPayload(_Payload):
    """products/create, products/update."""

    id = fields.Integer(required=True)
    tags = fields.Raw(load_default="", allow_none=True)
    product_type = _opt_str()
    updated_at = _opt_time()


class ProductDeletePayload(_Payload):
    id = fields.Integer(required=True)


class CustomersRedactPayload(_Payload):
    shop_domain = fields.String(required=True)
    customer = fields.Nested(CustomerRef, required=True)
    orders_to_redact = fields.List(fields.Integer(), load_default=list)


class ShopRedactPayload(_Payload):
    shop_domain = fields.String(required=True)


class BulkOperationFinishPayload(_Payload):
    """bulk_operations/finish: a bulk operation the app started has completed, failed or been cancelled."""

    admin_graphql_api_id = fields.String(required=True)
    status = fields.String(required=True)  # completed | failed | canceled | …
    error_code = _opt_str()
    type = _opt_str()  # query | mutation
    created_at = _opt_time()
    completed_at = _opt_time()


class DataRequestRef(_Payload):
    id = fields.Integer(load_default=None, allow_none=True)


class CustomersDataRequestPayload(_Payload):
    shop_domain = fields.String(required=True)
    customer = fields.Nested(CustomerRef, required=True)
    orders_requested = fields.List(fields.Integer(), load_default=list)
    data_request = fields.Nested(DataRequestRef, load_default=dict)


class IdRef(_Payload):
    id = fields.Integer(required=True)


class ReturnReasonDefinitionRef(_Payload):
    handle = _opt_str()


class FulfillmentLineItemRef(_Payload):
    id = fields.Integer(load_default=None, allow_none=True)
    line_item = fields.Nested(IdRef, load_default=None, allow_none=True)


class ReturnLineItem(_Payload):
    id = fields.Integer(load_default=None, allow_none=True)
    quantity = fields.Integer(required=True)
    fulfillment_line_item = fields.Nested(FulfillmentLineItemRef, load_default=None, allow_none=True)
    return_reason = _opt_str()  # the older enum (e.g. "defective"), when no definition is given
    return_reason_definition = fields.Nested(ReturnReasonDefinitionRef, load_default=None, allow_none=True)
    customer_note = _opt_str()


class ReturnPayload(_Payload):
    """returns/request, returns/approve, returns/decline, returns/close, returns/cancel.

    The topic says the new status; the line items come with returns/request (the others may repeat them)."""

    id = fields.Integer(required=True)
    order = fields.Nested(IdRef, load_default=None, allow_none=True)
    order_id = fields.Integer(load_default=None, allow_none=True)
    status = _opt_str()
    return_line_items = fields.List(fields.Nested(ReturnLineItem), load_default=None, allow_none=True)
    requested_at = _opt_time()
    created_at = _opt_time()
    updated_at = _opt_time()
