"""GraphQL Admin API operations the app uses: read the shop's facts, register webhooks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app

from cxplugin.logs import log
from cxplugin.shopify.client import http_client, shopify_app

SHOP_DETAILS = """
query ShopDetails {
  shop { name email ianaTimezone currencyCode shopAddress { countryCodeV2 } }
  shopLocales(published: true) { locale primary }
}
"""

REGISTER_WEBHOOK = """
mutation RegisterWebhook($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id }
    userErrors { field message }
  }
}
"""


class AdminApiError(Exception):
    """A GraphQL call failed; ``code`` is the package's log code (e.g. ``unauthorized``)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code


@dataclass(frozen=True)
class ShopDetails:
    name: str | None
    email: str | None
    timezone: str
    country_code: str | None
    currency: str | None
    primary_locale: str


def graphql(shop_handle: str, access_token: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one Admin API operation from a background job (no live request to retry)."""
    with http_client() as client:
        result = shopify_app().admin_graphql_request(
            query,
            shop=shop_handle,
            access_token=access_token,
            api_version=current_app.config["SHOPIFY_API_VERSION"],
            invalid_token_response=None,
            variables=variables,
            http_client=client,
        )
    if not result.ok or result.data is None:
        raise AdminApiError(result.log.code, result.log.detail)
    return result.data


def fetch_shop_details(shop_handle: str, access_token: str) -> ShopDetails:
    data = graphql(shop_handle, access_token, SHOP_DETAILS)
    shop = data["shop"]
    primary = next((loc["locale"] for loc in data.get("shopLocales") or [] if loc.get("primary")), "en")
    return ShopDetails(
        name=shop.get("name"),
        email=shop.get("email"),
        timezone=shop.get("ianaTimezone") or "UTC",
        country_code=(shop.get("shopAddress") or {}).get("countryCodeV2"),
        currency=shop.get("currencyCode"),
        primary_locale=primary,
    )


def register_webhooks(shop_handle: str, access_token: str, topics: list[str], callback_url: str) -> list[str]:
    """Subscribe the shop to each topic; returns the topics Shopify accepted or already had."""
    registered = []
    for topic in topics:
        variables = {
            "topic": topic.upper().replace("/", "_"),
            "webhookSubscription": {"uri": callback_url, "format": "JSON"},
        }
        data = graphql(shop_handle, access_token, REGISTER_WEBHOOK, variables)
        errors = data["webhookSubscriptionCreate"]["userErrors"]
        if errors and not all("already been taken" in e["message"] for e in errors):
            log("webhook registration refused", 30, shop=shop_handle, topic=topic, errors=errors)
            continue
        registered.append(topic)
    return registered
