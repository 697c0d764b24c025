"""The customer account UI extension (extensions/cx-returns): declared for the order status page and the order
action menu, talking to the returns backend, and built (CI builds it before the tests: .ci/run)."""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path

import pytest

EXTENSION = Path(__file__).resolve().parent.parent / "extensions" / "cx-returns"
TARGETS = {"customer-account.order-status.block.render": "OrderStatusBlock",
           "customer-account.order.action.menu-item.render": "ReturnMenuItem",
           "customer-account.order.action.render": "ReturnAction"}


def test_the_extension_targets_the_order_status_page_and_the_order_action_menu() -> None:
    config = tomllib.loads((EXTENSION / "shopify.extension.toml").read_text())
    [extension] = config["extensions"]
    assert extension["type"] == "ui_extension"
    assert config["api_version"] >= "2026-01"  # returnReasonDefinitionId
    assert {t["target"]: t["module"] for t in extension["targeting"]} == {
        target: f"./src/{name}.jsx" for target, name in TARGETS.items()}
    assert extension["capabilities"]["network_access"] is True


def test_the_extension_calls_the_returns_backend_with_the_session_token() -> None:
    backend = (EXTENSION / "src" / "backend.js").read_text()
    assert "shopify.sessionToken.get()" in backend
    assert "/api/customer/orders/${numericId(orderGid)}/returns" in backend
    assert "Authorization: `Bearer ${token}`" in backend


def test_the_extensions_dependencies_are_pinned_and_locked() -> None:
    package = json.loads((EXTENSION / "package.json").read_text())
    versions = {**package["dependencies"], **package["devDependencies"]}
    assert all(v[0].isdigit() for v in versions.values()), versions
    assert (EXTENSION / "package-lock.json").exists()


def test_the_extension_is_built() -> None:
    dist = EXTENSION / "dist"
    if not dist.exists() and not os.environ.get("CX_REQUIRE_EXTENSION_BUILD"):
        pytest.skip("extension not built here: cd extensions/cx-returns && npm ci && npm run build")
    for name in TARGETS.values():
        bundle = dist / f"{name}.js"
        text = bundle.read_text()
        assert text, bundle
        # self-contained: preact and the extension API are bundled in, nothing left to resolve
        assert not re.search(r"""from\s*["'](preact|@shopify)""", text), bundle
    assert "/api/customer/orders/" in (dist / "ReturnAction.js").read_text()
