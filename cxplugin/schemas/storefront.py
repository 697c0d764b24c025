"""What the storefront may ask the app proxy."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

MAX_CART_ITEMS = 50
# Shopify's ids are 64-bit integers (its own sample payloads use ids above 2**53), stored as BIGINT: a larger
# one is no product, and would not fit the database.
MAX_SHOPIFY_ID = 2**63 - 1
_SHOPIFY_ID = validate.Range(min=1, max=MAX_SHOPIFY_ID, error=f"Use an id from 1 to {MAX_SHOPIFY_ID}.")


class PromiseQuery(Schema):
    """GET /proxy/promise. Shopify adds its own signing parameters; those are not ours to read."""

    class Meta:
        unknown = EXCLUDE

    product_ids = fields.List(fields.Integer(validate=_SHOPIFY_ID), load_default=list,
                              validate=validate.Length(max=MAX_CART_ITEMS))
    variant_id = fields.Integer(load_default=None, validate=_SHOPIFY_ID)
    country = fields.String(load_default=None, validate=validate.Regexp(r"^[A-Za-z]{2}$",
                                                                        error="Use a two-letter country code."))
    region = fields.String(load_default=None, validate=validate.Regexp(r"^[A-Za-z0-9]{1,3}$",
                                                                       error="Use a province or state code."))
    locale = fields.String(load_default=None, validate=validate.Length(max=20))
    method = fields.String(load_default=None, validate=validate.Length(max=60))

    @pre_load
    def _collect_products(self, data: Any, **_: Any) -> dict[str, Any]:
        """``product_id`` (product page) and ``product_ids=1,2,3`` (cart) both become ``product_ids``."""
        raw = {k: data.get(k) for k in data if k not in ("product_id", "product_ids")}
        ids: list[str] = []
        for key in ("product_id", "product_ids"):
            for value in (data.getlist(key) if hasattr(data, "getlist") else [data.get(key)]):
                if value:
                    ids.extend(part.strip() for part in str(value).split(",") if part.strip())
        if len(ids) > MAX_CART_ITEMS:
            raise ValidationError(f"At most {MAX_CART_ITEMS} products.", "product_ids")
        raw["product_ids"] = ids
        return {k: v for k, v in raw.items() if v not in (None, "")}
