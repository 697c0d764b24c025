"""The GraphQL Admin API: ``call`` is the one way the app asks Shopify anything; the operations it uses.

``call`` makes an HTTP request: never call it inside a database transaction that has written anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app

from cxplugin.logs import log
from cxplugin.shopify import tokens
from cxplugin.shopify.client import AdminApiError, http_client, shopify_app

__all__ = ["AdminApiError", "ShopDetails", "call", "fetch_shop_details", "register_webhooks"]

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


@dataclass(frozen=True)
class ShopDetails:
    name: str | None
    email: str | None
    timezone: str
    country_code: str | None
    currency: str | None
    primary_locale: str


def call(shop_id: int, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one Admin API operation for the shop and return its data; raises AdminApiError.

    The token is refreshed first when it runs out within five minutes, and once more when Shopify
    refuses it anyway, then the operation is tried again once.
    """
    credentials = tokens.access_token(shop_id)
    try:
        return _graphql(credentials, query, variables)
    except AdminApiError as exc:
        if exc.code != "unauthorized":
            raise
    return _graphql(tokens.refresh(shop_id, stale=credentials.token), query, variables)


def _graphql(credentials: tokens.Credentials, query: str, variables: dict[str, Any] | None) -> dict[str, Any]:
    with http_client() as client:
        result = shopify_app().admin_graphql_request(
            query,
            shop=credentials.handle,
            access_token=credentials.token,
            api_version=current_app.config["SHOPIFY_API_VERSION"],
            invalid_token_response=None,
            variables=variables,
            http_client=client,
        )
    if not result.ok or result.data is None:
        raise AdminApiError(result.log.code, result.log.detail)
    return result.data


def fetch_shop_details(shop_id: int) -> ShopDetails:
    data = call(shop_id, SHOP_DETAILS)
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


def register_webhooks(shop_id: int, topics: list[str], callback_url: str) -> list[str]:
    """Subscribe the shop to each topic; returns the topics Shopify accepted or already had."""
    registered = []
    for topic in topics:
        variables = {
            "topic": topic.upper().replace("/", "_"),
            "webhookSubscription": {"uri": callback_url, "format": "JSON"},
        }
        data = call(shop_id, REGISTER_WEBHOOK, variables)
        errors = data["webhookSubscriptionCreate"]["userErrors"]
        if errors and not all("already been taken" in e["message"] for e in errors):
            log("webhook registration refused", 30, shop_id=shop_id, topic=topic, errors=errors)
            continue
        registered.append(topic)
    return registered
