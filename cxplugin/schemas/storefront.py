"""What the storefront may ask the app proxy."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

MAX_CART_ITEMS = 50


class PromiseQuery(Schema):
    """GET /proxy/promise. Shopify adds its own signing parameters; those are not ours to read."""

    class Meta:
        unknown = EXCLUDE

    product_ids = fields.List(fields.Integer(validate=validate.Range(min=1)), load_default=list,
                              validate=validate.Length(max=MAX_CART_ITEMS))
    variant_id = fields.Integer(load_default=None, validate=validate.Range(min=1))
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
