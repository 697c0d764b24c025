"""The theme app extension's blocks rendered as Shopify renders them on a storefront, and the app proxy's signing,
for the local demo's storefront page (and the tests of the blocks). Not used when the app runs for real shops:
there Shopify renders the blocks and signs the proxy requests.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from liquid import Environment, FileSystemLoader, StrictDefaultUndefined, Tag
from liquid.ast import Node
from liquid.exceptions import LiquidSyntaxError
from liquid.token import TOKEN_EOF, TOKEN_TAG

from cxplugin.shopify.signatures import proxy_signature

if TYPE_CHECKING:
    from typing import TextIO

    from liquid.context import RenderContext
    from liquid.stream import TokenStream

EXTENSION = Path(__file__).resolve().parents[2] / "extensions" / "cx-delivery-promise"
PROXY_PREFIX = "/apps/cx"  # shopify.app.toml [app_proxy]: prefix "apps", subpath "cx"
APP_PROXY_PATH = "/proxy"  # where Shopify forwards it on the app (shopify.app.toml [app_proxy] url)
ASSET_PATH = "/cdn/extensions/cx-delivery-promise/assets"
SCHEMA_RE = re.compile(r"\{%-?\s*schema\s*-?%\}(.*?)\{%-?\s*endschema\s*-?%\}", re.S)


# --- Liquid ----------------------------------------------------------------------------------------

class _SchemaNode(Node):
    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        return 0


class SchemaTag(Tag):
    """``{% schema %}…{% endschema %}``: the theme editor's settings, not storefront output."""

    name = "schema"
    end = "endschema"

    def parse(self, stream: TokenStream) -> Node:
        token = stream.eat(TOKEN_TAG)
        while not (stream.current.kind == TOKEN_TAG and stream.current.value == self.end):
            if stream.current.kind == TOKEN_EOF:
                raise LiquidSyntaxError("schema tag was never closed", token=token)
            next(stream)
        return _SchemaNode(token)


def block_schema(block: str) -> dict[str, Any]:
    """The JSON in ``blocks/<block>.liquid``'s ``{% schema %}`` tag."""
    match = SCHEMA_RE.search((EXTENSION / "blocks" / f"{block}.liquid").read_text(encoding="utf-8"))
    assert match, f"{block}.liquid has no schema"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def locale_strings(locale: str, *, schema: bool = False) -> dict[str, Any]:
    """A locale file of the extension (``en`` is ``en.default``), falling back to English."""
    suffix = ".schema.json" if schema else ".json"
    path = EXTENSION / "locales" / f"{locale}{suffix}"
    if locale in ("en", "en.default") or not path.exists():
        path = EXTENSION / "locales" / f"en.default{suffix}"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def lookup(strings: Mapping[str, Any], key: str) -> Any:
    value: Any = strings
    for part in key.split("."):
        value = value[part]
    return value


def liquid_environment(locale: str = "en", asset_path: str = ASSET_PATH) -> Environment:
    env = Environment(loader=FileSystemLoader(EXTENSION / "snippets", ext=".liquid"),
                      undefined=StrictDefaultUndefined)
    env.add_tag(SchemaTag)
    strings = locale_strings(locale)
    fallback = locale_strings("en")

    def translate(key: str) -> str:
        try:
            return str(lookup(strings, key))
        except KeyError:
            return str(lookup(fallback, key))

    env.add_filter("asset_url", lambda name: f"{asset_path}/{name}")
    env.add_filter("script_tag", lambda url: f'<script src="{url}" type="text/javascript"></script>')
    env.add_filter("stylesheet_tag", lambda url: f'<link href="{url}" rel="stylesheet" type="text/css" media="all" />')
    env.add_filter("json", lambda value: json.dumps(value, ensure_ascii=False))
    env.add_filter("t", translate)
    return env


def default_settings(block: str) -> dict[str, Any]:
    return {s["id"]: s.get("default") for s in block_schema(block)["settings"] if "id" in s}


def render_block(block: str, *, settings: Mapping[str, Any] | None = None, locale: str = "en",
                 country: str = "US", product: Mapping[str, Any] | None = None,
                 cart: Mapping[str, Any] | None = None, design_mode: bool = False,
                 asset_path: str = ASSET_PATH) -> str:
    """Render ``blocks/<block>.liquid`` as Shopify would on the storefront (settings default from its schema)."""
    context: dict[str, Any] = {
        "block": {"id": f"{block}-1", "settings": default_settings(block) | dict(settings or {}),
                  "shopify_attributes": ""},
        "request": {"locale": {"iso_code": locale}, "design_mode": design_mode},
        "localization": {"country": {"iso_code": country}},
        "product": dict(product) if product is not None else sample_product(),
        "cart": dict(cart) if cart is not None else sample_cart(),
    }
    source = (EXTENSION / "blocks" / f"{block}.liquid").read_text(encoding="utf-8")
    return liquid_environment(locale, asset_path).from_string(source).render(**context)


def sample_product(product_id: int = 7001, variant_id: int = 42001) -> dict[str, Any]:
    return {"id": product_id, "title": "Linen shirt",
            "selected_or_first_available_variant": {"id": variant_id}}


def sample_cart(product_ids: Sequence[int] = (7001, 7002, 7001), attributes: Mapping[str, str] | None = None
                ) -> dict[str, Any]:
    items = [{"product_id": pid, "variant_id": pid * 10, "quantity": 1} for pid in product_ids]
    return {"item_count": len(items), "items": items, "attributes": dict(attributes or {})}


def signed_proxy_query(query: str, secret: str, *, shop: str, timestamp: int | None = None,
                       logged_in_customer_id: str = "") -> str:
    """What Shopify's app proxy sends the app for a storefront's ``query``: its own parameters added, signed."""
    shopify_keys = {"shop", "path_prefix", "timestamp", "logged_in_customer_id", "signature"}
    params = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in shopify_keys]
    params += [("shop", shop), ("logged_in_customer_id", logged_in_customer_id), ("path_prefix", PROXY_PREFIX),
               ("timestamp", str(int(time.time()) if timestamp is None else timestamp))]
    params.append(("signature", proxy_signature(params, secret)))
    return urlencode(params)
