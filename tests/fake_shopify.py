"""A fake of Shopify's Admin API for the app's tests: a test double for Shopify only.

Shopify cannot be reached from the test machine, so the tests point the app's Shopify
calls (made through the ``shopify_app`` package) at this fake instead.  The app rewrites
``https://{shop}.myshopify.com/...`` to the fake's origin and keeps the original
``Host: {shop}.myshopify.com`` header, which is how the fake knows which shop is asked.

It serves two endpoints, each as close to Shopify's behaviour as the tests need:

* ``POST /admin/oauth/access_token`` - OAuth 2.0 token exchange (session token ->
  offline/online access token, expiring or not) and the ``refresh_token`` grant.
* ``POST /admin/api/{version}/graphql.json`` - the GraphQL Admin API, executed for
  real with graphql-core against a small subset of Shopify's Admin schema
  (``ADMIN_SCHEMA_SDL``) whose type, field, argument and enum names are spelled as
  Shopify spells them, so a misspelt field or a malformed query fails here as it
  would at Shopify.

It is not Shopify and knows nothing beyond that subset.  Use it in-process
(``httpx.WSGITransport(app=fake.wsgi_app)``) or as a live server (``fake.start()``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import jwt
from flask import Flask, Response, jsonify, request
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    GraphQLList,
    GraphQLResolveInfo,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    build_schema,
    execute,
    get_named_type,
    get_nullable_type,
    parse,
    validate,
    visit,
)
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

__all__ = [
    "ADMIN_SCHEMA_SDL",
    "INVALID_TOKEN_MESSAGE",
    "FakeShopify",
    "GraphQLCall",
    "ShopRecord",
    "WebhookSubscriptionRecord",
]

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"
ONLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:online-access-token"
REFRESH_GRANT = "refresh_token"

ACCESS_TOKEN_TTL = 3600  # expiring offline tokens live one hour
ONLINE_TOKEN_TTL = 86399  # online tokens live (almost) a day
REFRESH_TOKEN_TTL = 7776000  # refresh tokens live 90 days

INVALID_TOKEN_MESSAGE = "[API] Invalid API key or access token (unrecognized login or wrong password)"
_API_VERSION = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
_GID = re.compile(r"^gid://shopify/[A-Za-z]+/[^/]+$")
_PORT = re.compile(r":\d+$")

# A subset of Shopify's GraphQL Admin schema (2025-10 and later), names as Shopify's.
# Simplification: CountryCode and CurrencyCode are enums at Shopify (ISO codes); here
# they are scalars passing strings through.  Fields outside this subset fail validation.
# Root types are named QueryRoot and Mutation, as at Shopify.
ADMIN_SCHEMA_SDL = """
schema { query: QueryRoot mutation: Mutation }

scalar URL
scalar DateTime
scalar UnsignedInt64
scalar CountryCode
scalar CurrencyCode
scalar JSON

interface Node { id: ID! }

type Domain implements Node {
  id: ID!
  host: String!
  url: URL!
  sslEnabled: Boolean!
}

type ShopAddress implements Node {
  id: ID!
  address1: String
  address2: String
  city: String
  company: String
  country: String
  countryCodeV2: CountryCode
  countryCode: String @deprecated(reason: "Use `countryCodeV2` instead.")
  phone: String
  province: String
  provinceCode: String
  zip: String
}

type Shop implements Node {
  id: ID!
  name: String!
  email: String!
  contactEmail: String!
  myshopifyDomain: String!
  url: URL!
  ianaTimezone: String!
  timezoneAbbreviation: String!
  timezoneOffsetMinutes: Int!
  currencyCode: CurrencyCode!
  billingAddress: ShopAddress! @deprecated(reason: "Use `shopAddress` instead.")
  shopAddress: ShopAddress!
  primaryDomain: Domain!
}

type ShopLocale {
  locale: String!
  name: String!
  primary: Boolean!
  published: Boolean!
}

type Product implements Node {
  id: ID!
  tags: [String!]!
}

type UserError {
  field: [String!]
  message: String!
}

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

enum WebhookSubscriptionFormat { JSON XML }

enum WebhookSubscriptionTopic {
  APP_UNINSTALLED
  APP_SCOPES_UPDATE
  BULK_OPERATIONS_FINISH
  SHOP_UPDATE
  ORDERS_CREATE
  ORDERS_UPDATED
  ORDERS_CANCELLED
  ORDERS_DELETE
  ORDERS_EDITED
  ORDERS_FULFILLED
  ORDERS_PARTIALLY_FULFILLED
  ORDERS_PAID
  FULFILLMENTS_CREATE
  FULFILLMENTS_UPDATE
  FULFILLMENT_EVENTS_CREATE
  FULFILLMENT_EVENTS_DELETE
  PRODUCTS_CREATE
  PRODUCTS_UPDATE
  PRODUCTS_DELETE
  CUSTOMERS_CREATE
  CUSTOMERS_UPDATE
  CUSTOMERS_DELETE
  REFUNDS_CREATE
  RETURNS_REQUEST
  RETURNS_APPROVE
  RETURNS_DECLINE
  RETURNS_CLOSE
  RETURNS_CANCEL
}

type WebhookSubscription implements Node {
  id: ID!
  topic: WebhookSubscriptionTopic!
  uri: String!
  callbackUrl: URL! @deprecated(reason: "Use `uri` instead.")
  format: WebhookSubscriptionFormat!
  includeFields: [String!]!
  metafieldNamespaces: [String!]!
  filter: String
  createdAt: DateTime!
  updatedAt: DateTime!
  legacyResourceId: UnsignedInt64!
}

type WebhookSubscriptionEdge {
  cursor: String!
  node: WebhookSubscription!
}

type WebhookSubscriptionConnection {
  edges: [WebhookSubscriptionEdge!]!
  nodes: [WebhookSubscription!]!
  pageInfo: PageInfo!
}

input WebhookSubscriptionInput {
  uri: String
  callbackUrl: URL @deprecated(reason: "Use `uri` instead.")
  format: WebhookSubscriptionFormat
  includeFields: [String!]
  metafieldNamespaces: [String!]
  filter: String
}

type WebhookSubscriptionCreatePayload {
  userErrors: [UserError!]!
  webhookSubscription: WebhookSubscription
}

type WebhookSubscriptionDeletePayload {
  deletedWebhookSubscriptionId: ID
  userErrors: [UserError!]!
}

type ReturnReasonDefinition implements Node {
  id: ID!
  handle: String!
  name: String!
  deleted: Boolean!
}

type ReturnReasonDefinitionConnection {
  nodes: [ReturnReasonDefinition!]!
  pageInfo: PageInfo!
}

type LineItem implements Node {
  id: ID!
}

type FulfillmentLineItem implements Node {
  id: ID!
  quantity: Int
  lineItem: LineItem!
}

enum FulfillmentStatus { CANCELLED ERROR FAILURE OPEN PENDING SUCCESS }

enum FulfillmentEventStatus {
  ATTEMPTED_DELIVERY CARRIER_PICKED_UP CONFIRMED DELAYED DELIVERED FAILURE IN_TRANSIT LABEL_PRINTED
  LABEL_PURCHASED OUT_FOR_DELIVERY READY_FOR_PICKUP
}

type FulfillmentEvent implements Node {
  id: ID!
  status: FulfillmentEventStatus!
  happenedAt: DateTime!
  createdAt: DateTime!
}

type FulfillmentEventEdge {
  cursor: String!
  node: FulfillmentEvent!
}

type FulfillmentEventConnection {
  edges: [FulfillmentEventEdge!]!
  nodes: [FulfillmentEvent!]!
  pageInfo: PageInfo!
}

type FulfillmentTrackingInfo {
  company: String
  number: String
  url: URL
}

type Location implements Node {
  id: ID!
  name: String!
}

type Fulfillment implements Node {
  id: ID!
  createdAt: DateTime!
  deliveredAt: DateTime
  inTransitAt: DateTime
  status: FulfillmentStatus!
  location: Location
  trackingInfo(first: Int): [FulfillmentTrackingInfo!]!
  events(first: Int, after: String, reverse: Boolean = false): FulfillmentEventConnection!
}

type MailingAddress implements Node {
  id: ID!
  countryCodeV2: CountryCode
  provinceCode: String
  zip: String
}

type ShippingLine {
  id: ID
  title: String!
  code: String
  carrierIdentifier: String
  source: String
}

enum OrderDisplayFulfillmentStatus {
  FULFILLED IN_PROGRESS ON_HOLD OPEN PARTIALLY_FULFILLED PENDING_FULFILLMENT REQUEST_DECLINED RESTOCKED
  SCHEDULED UNFULFILLED
}

type Order implements Node {
  id: ID!
  name: String!
  createdAt: DateTime!
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
  shippingAddress: MailingAddress
  shippingLine: ShippingLine
  fulfillments(first: Int): [Fulfillment!]!
}

type OrderEdge {
  cursor: String!
  node: Order!
}

type OrderConnection {
  edges: [OrderEdge!]!
  nodes: [Order!]!
  pageInfo: PageInfo!
}

enum OrderSortKeys { CREATED_AT ID PROCESSED_AT UPDATED_AT }

enum BulkOperationStatus { CANCELED CANCELING COMPLETED CREATED EXPIRED FAILED RUNNING }
enum BulkOperationErrorCode { ACCESS_DENIED INTERNAL_SERVER_ERROR TIMEOUT }
enum BulkOperationType { MUTATION QUERY }
enum BulkOperationUserErrorCode { INVALID OPERATION_IN_PROGRESS LIMIT_REACHED }

type BulkOperation implements Node {
  id: ID!
  status: BulkOperationStatus!
  errorCode: BulkOperationErrorCode
  createdAt: DateTime!
  completedAt: DateTime
  objectCount: UnsignedInt64!
  rootObjectCount: UnsignedInt64!
  fileSize: UnsignedInt64
  url: URL
  partialDataUrl: URL
  query: String!
  type: BulkOperationType!
}

type BulkOperationUserError {
  field: [String!]
  message: String!
  code: BulkOperationUserErrorCode
}

type BulkOperationRunQueryPayload {
  bulkOperation: BulkOperation
  userErrors: [BulkOperationUserError!]!
}

type ReturnableFulfillmentLineItem {
  fulfillmentLineItem: FulfillmentLineItem!
  quantity: Int!
}

type ReturnableFulfillmentLineItemConnection {
  nodes: [ReturnableFulfillmentLineItem!]!
  pageInfo: PageInfo!
}

type ReturnableFulfillment implements Node {
  id: ID!
  fulfillment: Fulfillment!
  returnableFulfillmentLineItems(first: Int, after: String): ReturnableFulfillmentLineItemConnection!
}

type ReturnableFulfillmentConnection {
  nodes: [ReturnableFulfillment!]!
  pageInfo: PageInfo!
}

enum ReturnStatus { CANCELED CLOSED DECLINED OPEN REQUESTED }

type Return implements Node {
  id: ID!
  status: ReturnStatus!
  name: String!
}

type ReturnUserError {
  field: [String!]
  message: String!
  code: String
}

input ReturnRequestLineItemInput {
  fulfillmentLineItemId: ID!
  quantity: Int!
  returnReasonDefinitionId: ID
  customerNote: String
}

input ReturnRequestInput {
  orderId: ID!
  returnLineItems: [ReturnRequestLineItemInput!]!
}

type ReturnRequestPayload {
  return: Return
  userErrors: [ReturnUserError!]!
}

type QueryRoot {
  returnReasonDefinitions(first: Int, after: String): ReturnReasonDefinitionConnection!
  returnableFulfillments(orderId: ID!, first: Int, after: String): ReturnableFulfillmentConnection!
  shop: Shop!
  shopLocales(published: Boolean = false): [ShopLocale!]!
  product(id: ID!): Product
  nodes(ids: [ID!]!): [Node]!
  node(id: ID!): Node
  currentBulkOperation(type: BulkOperationType = QUERY): BulkOperation
  orders(first: Int, after: String, last: Int, before: String, query: String, reverse: Boolean = false,
         sortKey: OrderSortKeys = ID): OrderConnection!
  webhookSubscription(id: ID!): WebhookSubscription
  webhookSubscriptions(
    first: Int
    after: String
    last: Int
    before: String
    reverse: Boolean = false
    topics: [WebhookSubscriptionTopic!]
    format: WebhookSubscriptionFormat
    uri: String
    callbackUrl: URL @deprecated(reason: "Use `uri` instead.")
  ): WebhookSubscriptionConnection!
}

input DiscountCustomerSelectionInput { all: Boolean }
input DiscountItemsInput { all: Boolean }
input DiscountAmountInput { amount: Float, appliesOnEachItem: Boolean }
input DiscountCustomerGetsValueInput { percentage: Float, discountAmount: DiscountAmountInput }
input DiscountCustomerGetsInput { value: DiscountCustomerGetsValueInput, items: DiscountItemsInput }

input DiscountCodeBasicInput {
  title: String
  code: String
  startsAt: DateTime
  endsAt: DateTime
  usageLimit: Int
  appliesOncePerCustomer: Boolean
  customerSelection: DiscountCustomerSelectionInput
  customerGets: DiscountCustomerGetsInput
}

enum DiscountErrorCode { TAKEN INVALID BLANK }

type DiscountUserError {
  field: [String!]
  message: String!
  code: DiscountErrorCode
}

type DiscountCodeBasic {
  title: String!
  codes(first: Int): DiscountRedeemCodeConnection!
  usageLimit: Int
}

type DiscountRedeemCode { code: String! }
type DiscountRedeemCodeConnection { nodes: [DiscountRedeemCode!]! }

type DiscountCodeNode implements Node {
  id: ID!
  codeDiscount: DiscountCodeBasic!
}

type DiscountCodeBasicCreatePayload {
  codeDiscountNode: DiscountCodeNode
  userErrors: [DiscountUserError!]!
}

type FlowTriggerReceivePayload {
  userErrors: [UserError!]!
}

type Mutation {
  returnRequest(input: ReturnRequestInput!): ReturnRequestPayload
  discountCodeBasicCreate(basicCodeDiscount: DiscountCodeBasicInput!): DiscountCodeBasicCreatePayload
  flowTriggerReceive(handle: String, payload: JSON): FlowTriggerReceivePayload
  webhookSubscriptionCreate(
    topic: WebhookSubscriptionTopic!
    webhookSubscription: WebhookSubscriptionInput!
  ): WebhookSubscriptionCreatePayload
  webhookSubscriptionDelete(id: ID!): WebhookSubscriptionDeletePayload
  bulkOperationRunQuery(query: String!, groupObjects: Boolean = false): BulkOperationRunQueryPayload
}
"""

_LOCALE_NAMES = {
    "en": "English",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "nl": "Dutch",
    "pt-BR": "Portuguese (Brazil)",
    "pt-PT": "Portuguese (Portugal)",
    "ja": "Japanese",
    "da": "Danish",
    "sv": "Swedish",
}

Json = dict[str, Any]


@dataclass
class ShopRecord:
    """One shop known to the fake.

    ``access_tokens`` maps each token issued for (or added to) the shop to its expiry
    (epoch seconds, ``None`` = never); ``refresh_tokens`` likewise.
    """

    name: str
    email: str
    myshopify_domain: str
    iana_timezone: str = "America/New_York"
    country_code: str = "US"
    currency_code: str = "USD"
    primary_locale: str = "en"
    contact_email: str = ""
    shop_id: int = 0
    primary_domain_host: str = ""
    other_locales: dict[str, bool] = field(default_factory=dict)  # locale -> published
    access_tokens: dict[str, float | None] = field(default_factory=dict)
    refresh_tokens: dict[str, float] = field(default_factory=dict)

    @property
    def gid(self) -> str:
        return f"gid://shopify/Shop/{self.shop_id}"


@dataclass
class GraphQLCall:
    """One request that reached the GraphQL endpoint (recorded even when refused)."""

    shop: str
    api_version: str
    access_token: str | None
    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None  # the operation executed (from the body, else the document)
    status: int = 200


@dataclass
class WebhookSubscriptionRecord:
    shop: str
    topic: str
    uri: str
    id: str
    format: str = "JSON"
    include_fields: list[str] = field(default_factory=list)
    metafield_namespaces: list[str] = field(default_factory=list)
    filter: str | None = None
    created_at: str = ""

    @property
    def legacy_id(self) -> int:
        return int(self.id.rsplit("/", 1)[1])


@dataclass
class BulkOperationRecord:
    """A bulk query the app started. It runs until a test calls ``FakeShopify.finish_bulk_operation``."""

    shop: str
    id: str
    query: str
    created_at: str
    token: str = field(default_factory=lambda: secrets.token_hex(12))
    status: str = "CREATED"
    error_code: str | None = None
    completed_at: str | None = None
    lines: list[str] = field(default_factory=list)
    root_objects: int = 0
    partial: bool = False

    def webhook_payload(self) -> Json:
        """The body Shopify posts with ``bulk_operations/finish`` for this operation."""
        return {"admin_graphql_api_id": self.id, "completed_at": self.completed_at, "created_at": self.created_at,
                "error_code": self.error_code.lower() if self.error_code else None, "status": self.status.lower(),
                "type": "query"}


class FakeShopify:
    """State and WSGI app of the fake Admin API (see the module docstring)."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        scopes: str = "read_orders,read_fulfillments,read_products,read_locales",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.scopes = scopes
        self.clock = clock
        self.shops: dict[str, ShopRecord] = {}
        self.products: dict[str, list[str]] = {}
        self.token_exchanges: list[dict[str, Any]] = []
        self.graphql_calls: list[GraphQLCall] = []
        self.webhook_subscriptions: list[WebhookSubscriptionRecord] = []
        # Returns: reason definitions (id, handle, name), each order's returnable fulfilment line items
        # (order gid -> [(fulfillment gid, [(fulfillment line item gid, line item gid, quantity)])]),
        # the returns requested, and user errors the next returnRequest answers instead.
        self.return_reasons: list[tuple[str, str, str]] = [
            ("gid://shopify/ReturnReasonDefinition/2001", "damaged", "Damaged or defective"),
            ("gid://shopify/ReturnReasonDefinition/2002", "arrived-late", "Arrived too late"),
            ("gid://shopify/ReturnReasonDefinition/2003", "size-too-small", "Size was too small"),
        ]
        self.returnable: dict[str, list[tuple[str, list[tuple[str, str, int]]]]] = {}
        self.returns_requested: list[dict[str, Any]] = []
        self.return_request_user_errors: list[dict[str, Any]] = []
        self.return_request_delay: float = 0.0
        # Discount codes created, by code: {"shop", "id", "input"}; Flow triggers received: {"shop", "handle",
        # "payload"}. ``flow_trigger_handles`` are the trigger extensions the app has deployed (others are refused).
        self.discount_codes: dict[str, dict[str, Any]] = {}
        self.flow_triggers: list[dict[str, Any]] = []
        self.flow_trigger_handles: set[str] = {"delivery-promise-at-risk", "unhappy-customer"}
        # The next GraphQL call(s) answer this HTTP status instead of executing;
        # ``fail_graphql_times`` calls in a row (shopify_app retries 429/502/503/504
        # twice, sleeping 1 s then 2 s between 5xx attempts).
        self.fail_next_graphql: int | None = None
        self.fail_graphql_times: int = 1
        self.retry_after_seconds: int = 0  # Retry-After sent with a forced 429
        # Orders per shop as the GraphQL API answers them (see ``add_order``), bulk operations by id, and
        # user errors the next bulkOperationRunQuery answers instead of starting one.
        self.orders: dict[str, list[Json]] = {}
        self.bulk_operations: dict[str, BulkOperationRecord] = {}
        self.bulk_user_errors: list[Json] = []
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self.schema: GraphQLSchema = build_schema(ADMIN_SCHEMA_SDL)
        self.wsgi_app: Flask = self._build_app()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- state helpers

    def add_shop(self, domain: str, *, access_token: str | None = None, **fields: Any) -> ShopRecord:
        """Register a shop (``x`` or ``x.myshopify.com``).

        ``fields`` override ShopRecord's defaults; ``access_token`` pre-issues a
        non-expiring access token for the shop.
        """
        domain = domain if domain.endswith(".myshopify.com") else f"{domain}.myshopify.com"
        handle = domain.removesuffix(".myshopify.com")
        fields.setdefault("name", handle.replace("-", " ").title())
        fields.setdefault("email", f"owner@{handle}.example")
        fields.setdefault("contact_email", fields["email"])
        fields.setdefault("primary_domain_host", domain)
        fields.setdefault("shop_id", next(self._ids))
        shop = ShopRecord(myshopify_domain=domain, **fields)
        if access_token is not None:
            shop.access_tokens[access_token] = None
        with self.lock:
            self.shops[domain] = shop
        return shop

    def add_product(self, gid: str, tags: list[str]) -> None:
        with self.lock:
            self.products[gid] = list(tags)

    def add_order(self, domain: str, order: Json) -> Json:
        """Hold an order for the shop, written as the GraphQL API answers it (``id``, ``createdAt``,
        ``displayFulfillmentStatus``, ``shippingAddress``, ``shippingLine``, ``fulfillments`` each with
        ``events`` as a plain list of ``{"id", "status", "happenedAt"}``)."""
        order = json.loads(json.dumps(order))
        for fulfillment in order.get("fulfillments") or []:
            events = fulfillment.get("events") or []
            fulfillment["events"] = {"edges": [{"cursor": _cursor(i), "node": e} for i, e in enumerate(events)],
                                     "nodes": events, "pageInfo": _no_more_pages()}
            fulfillment.setdefault("trackingInfo", [])
            fulfillment.setdefault("status", "SUCCESS")
        order.setdefault("fulfillments", [])
        with self.lock:
            self.orders.setdefault(self._domain(domain), []).append(order)
        return order

    def bulk_operations_for(self, domain: str) -> list[BulkOperationRecord]:
        with self.lock:
            return [op for op in self.bulk_operations.values() if op.shop == self._domain(domain)]

    def finish_bulk_operation(self, operation_id: str, *, status: str = "COMPLETED", error_code: str | None = None,
                              partial_lines: int | None = None,
                              edit_lines: Callable[[list[str]], list[str]] | None = None) -> Json:
        """Finish a bulk query as Shopify would: run its query over the shop's orders now and keep the JSONL.

        ``status="FAILED"`` with ``error_code`` fails it; with ``partial_lines`` it keeps that many lines as
        partial data (the last one cut in half, as a download that stopped mid-line). ``edit_lines`` changes
        the lines before they are served. Returns the ``bulk_operations/finish`` payload to post to the app."""
        with self.lock:
            op = self.bulk_operations[operation_id]
            shop = self.shops[op.shop]
            result = execute(self.schema, parse(op.query), root_value=_Root(self, shop))
            assert isinstance(result, ExecutionResult) and not result.errors, result.errors
            lines, op.root_objects = _bulk_lines(result.data or {})
            op.status, op.error_code = status, error_code
            if status == "FAILED":
                lines = lines[:partial_lines or 0]
                if lines:
                    lines[-1] = lines[-1][: len(lines[-1]) // 2]
                    op.partial = True
            op.lines = edit_lines(lines) if edit_lines else lines
            op.completed_at = datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            return op.webhook_payload()

    def bulk_operation_json(self, op: BulkOperationRecord) -> Json:
        base = self.origin if self._server is not None else "http://fake-shopify.invalid"
        file_url = f"{base}/bulk/{op.token}.jsonl"
        size = sum(len(line) + 1 for line in op.lines)
        return {
            "__typename": "BulkOperation", "id": op.id, "status": op.status, "errorCode": op.error_code,
            "createdAt": op.created_at, "completedAt": op.completed_at, "query": op.query, "type": "QUERY",
            "objectCount": str(len(op.lines)), "rootObjectCount": str(op.root_objects),
            "fileSize": str(size) if op.lines else None,
            # Shopify gives no url for an operation that found nothing.
            "url": file_url if op.status == "COMPLETED" and op.lines else None,
            "partialDataUrl": file_url if op.partial else None,
        }

    def expire_access_tokens(self, domain: str) -> None:
        """Expire every expiring access token of the shop (non-expiring ones stay)."""
        with self.lock:
            tokens = self.shops[self._domain(domain)].access_tokens
            for token, expires in tokens.items():
                if expires is not None:
                    tokens[token] = self.clock() - 1

    def revoke_access_tokens(self, domain: str) -> None:
        """Forget every access and refresh token of the shop (as after an uninstall)."""
        with self.lock:
            shop = self.shops[self._domain(domain)]
            shop.access_tokens.clear()
            shop.refresh_tokens.clear()

    def subscriptions_for(self, domain: str) -> list[WebhookSubscriptionRecord]:
        with self.lock:
            return [s for s in self.webhook_subscriptions if s.shop == self._domain(domain)]

    def clear_records(self) -> None:
        with self.lock:
            self.token_exchanges.clear()
            self.graphql_calls.clear()

    @staticmethod
    def _domain(domain: str) -> str:
        return domain if domain.endswith(".myshopify.com") else f"{domain}.myshopify.com"

    # ---------------------------------------------------------------- live server

    def start(self) -> str:
        """Serve on 127.0.0.1 on a free port in a daemon thread; returns the origin."""
        if self._server is not None:
            return self.origin
        server = make_server("127.0.0.1", 0, self.wsgi_app, threaded=True, request_handler=_QuietHandler)
        thread = threading.Thread(target=server.serve_forever, name="fake-shopify", daemon=True)
        thread.start()
        self._server, self._thread = server, thread
        return self.origin

    @property
    def origin(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeShopify is not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeShopify:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- HTTP

    def _build_app(self) -> Flask:
        app = Flask("fake_shopify")
        app.add_url_rule("/admin/oauth/access_token", "token", self._token_endpoint, methods=["POST"])
        app.add_url_rule(
            "/admin/api/<version>/graphql.json",
            "graphql",
            self._graphql_endpoint,
            methods=["POST"],
        )
        app.add_url_rule("/bulk/<token>.jsonl", "bulk_file", self._bulk_file, methods=["GET"])
        return app

    def _bulk_file(self, token: str) -> Response:
        with self.lock:
            found = [op for op in self.bulk_operations.values() if op.token == token and (op.lines or op.partial)]
            if not found:
                return Response("Not Found", status=404)
            op = found[0]
            # A partial file stops where the operation stopped: no newline after its last (cut) line.
            body = "\n".join(op.lines) + ("" if op.partial else "\n")
        return Response(body, mimetype="application/jsonl")

    @staticmethod
    def _host_shop() -> str:
        return _PORT.sub("", (request.host or "").lower())

    @staticmethod
    def _body() -> dict[str, Any]:
        data = request.get_json(silent=True)
        if isinstance(data, dict):
            return data
        return dict(request.form.items())

    @staticmethod
    def _json(body: Json, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        response = jsonify(body)
        response.status_code = status
        response.headers.update(headers or {})
        return response

    # ---------------------------------------------------------------- token endpoint

    def _token_endpoint(self) -> Response:
        body = self._body()
        host = self._host_shop()
        with self.lock:
            status, answer = self._token_answer(host, body)
            self.token_exchanges.append({"shop": host, "status": status, **body})
        return self._json(answer, status)

    def _token_answer(self, host: str, body: dict[str, Any]) -> tuple[int, Json]:
        shop = self.shops.get(host)
        if shop is None:
            return 404, {"errors": "Not Found"}
        if body.get("client_id") != self.client_id or body.get("client_secret") != self.client_secret:
            return 401, _oauth_error("invalid_client", "Client authentication failed due to unknown client.")
        grant_type = body.get("grant_type")
        if grant_type == REFRESH_GRANT:
            return self._refresh(shop, body)
        if grant_type != TOKEN_EXCHANGE_GRANT:
            return 400, _oauth_error("unsupported_grant_type", f"Unsupported grant type: {grant_type!r}.")
        if not body.get("subject_token"):
            return 400, _oauth_error("missing_subject_token", "The subject_token parameter is missing.")
        if body.get("subject_token_type") != ID_TOKEN_TYPE:
            return 400, _oauth_error("invalid_request", "Unsupported subject_token_type.")
        requested = body.get("requested_token_type") or OFFLINE_TOKEN_TYPE
        if requested not in (OFFLINE_TOKEN_TYPE, ONLINE_TOKEN_TYPE):
            return 400, _oauth_error("invalid_request", "Unsupported requested_token_type.")
        claims = self._session_token_claims(str(body["subject_token"]), host)
        if claims is None:
            return 400, _oauth_error("invalid_subject_token", "Session token is invalid or expired.")
        if requested == ONLINE_TOKEN_TYPE:
            return 200, self._issue_online(shop, claims)
        return 200, self._issue_offline(shop, expiring=_truthy(body.get("expiring", 0)))

    def _session_token_claims(self, token: str, host: str) -> dict[str, Any] | None:
        """Claims of a valid session token for ``host``, else None.

        The HS256 signature is checked here with hmac rather than by pyjwt, whose
        InsecureKeyLengthWarning (for secrets under 32 bytes, as in tests) becomes an
        exception under ``filterwarnings = error``.
        """
        if not _hs256_signed_by(token, self.client_secret):
            return None
        try:
            claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        now = self.clock()
        dest = f"https://{host}"
        aud = claims.get("aud")
        try:
            live = float(claims["exp"]) > now and float(claims.get("nbf", now)) <= now
        except (KeyError, TypeError, ValueError):
            return None
        if (
            not live
            or (aud != self.client_id and not (isinstance(aud, list) and self.client_id in aud))
            or claims.get("dest") != dest
            or claims.get("iss", f"{dest}/admin") != f"{dest}/admin"
        ):
            return None
        return claims

    def _issue_offline(self, shop: ShopRecord, *, expiring: bool) -> Json:
        token = "shpat_" + secrets.token_hex(16)
        if not expiring:
            shop.access_tokens[token] = None
            return {"access_token": token, "scope": self.scopes}
        now = self.clock()
        refresh = "shprt_" + secrets.token_hex(16)
        shop.access_tokens[token] = now + ACCESS_TOKEN_TTL
        shop.refresh_tokens[refresh] = now + REFRESH_TOKEN_TTL
        return {
            "access_token": token,
            "scope": self.scopes,
            "expires_in": ACCESS_TOKEN_TTL,
            "refresh_token": refresh,
            "refresh_token_expires_in": REFRESH_TOKEN_TTL,
        }

    def _issue_online(self, shop: ShopRecord, claims: dict[str, Any]) -> Json:
        token = "shpua_" + secrets.token_hex(16)
        shop.access_tokens[token] = self.clock() + ONLINE_TOKEN_TTL
        sub = str(claims.get("sub", "1"))
        return {
            "access_token": token,
            "scope": self.scopes,
            "expires_in": ONLINE_TOKEN_TTL,
            "associated_user_scope": self.scopes,
            "session": secrets.token_hex(16),
            "associated_user": {
                "id": int(sub) if sub.isdigit() else 1,
                "first_name": "Test",
                "last_name": "User",
                "email": shop.email,
                "account_owner": True,
                "locale": shop.primary_locale,
                "collaborator": False,
                "email_verified": True,
            },
        }

    def _refresh(self, shop: ShopRecord, body: dict[str, Any]) -> tuple[int, Json]:
        refresh = str(body.get("refresh_token") or "")
        expires = shop.refresh_tokens.get(refresh)
        if expires is None or expires <= self.clock():
            return 400, _oauth_error("invalid_grant", "The refresh token is invalid, expired or revoked.")
        del shop.refresh_tokens[refresh]  # rotated: each refresh token is used once
        return 200, self._issue_offline(shop, expiring=True)

    # ---------------------------------------------------------------- GraphQL endpoint

    def _graphql_endpoint(self, version: str) -> Response:
        host = self._host_shop()
        token = request.headers.get("X-Shopify-Access-Token")
        if request.mimetype == "application/graphql":
            query: Any = request.get_data(as_text=True)
            variables: Any = None
            operation_name: Any = None
        else:
            body = self._body()
            query, variables, operation_name = (
                body.get("query"),
                body.get("variables"),
                body.get("operationName"),
            )
        bad_variables = variables is not None and not isinstance(variables, dict)
        call = GraphQLCall(
            shop=host,
            api_version=version,
            access_token=token,
            query=query if isinstance(query, str) else None,
            variables=variables if isinstance(variables, dict) else None,
            operation_name=operation_name if isinstance(operation_name, str) else None,
        )
        with self.lock:
            self.graphql_calls.append(call)
            status, answer, headers = self._graphql_answer(call, version, host, token, bad_variables)
            call.status = status
        return self._json(answer, status, {"X-Shopify-API-Version": version, **headers})

    def _graphql_answer(
        self,
        call: GraphQLCall,
        version: str,
        host: str,
        token: str | None,
        bad_variables: bool,
    ) -> tuple[int, Json, dict[str, str]]:
        if self.fail_next_graphql is not None:
            status = self.fail_next_graphql
            self.fail_graphql_times -= 1
            if self.fail_graphql_times <= 0:
                self.fail_next_graphql, self.fail_graphql_times = None, 1
            return (
                status,
                self._forced_error_body(status),
                self._forced_error_headers(status),
            )
        shop = self.shops.get(host)
        if shop is None or not _API_VERSION.match(version):
            return 404, {"errors": "Not Found"}, {}
        if not self._token_valid(shop, token):
            return 401, {"errors": INVALID_TOKEN_MESSAGE}, {}
        if not call.query:
            return (
                400,
                {"errors": {"query": "Required parameter missing or invalid"}},
                {},
            )
        if bad_variables:
            return (
                400,
                {"errors": {"variables": "Required parameter missing or invalid"}},
                {},
            )
        return 200, self._execute(shop, call), {}

    def _token_valid(self, shop: ShopRecord, token: str | None) -> bool:
        if token is None or token not in shop.access_tokens:
            return False
        expires = shop.access_tokens[token]
        return expires is None or expires > self.clock()

    def _forced_error_body(self, status: int) -> Json:
        if status == 401:
            return {"errors": INVALID_TOKEN_MESSAGE}
        return {"errors": HTTP_STATUS_CODES.get(status, "Error")}

    def _forced_error_headers(self, status: int) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)} if status == 429 else {}

    def _execute(self, shop: ShopRecord, call: GraphQLCall) -> Json:
        assert call.query is not None
        try:
            document = parse(call.query)
        except GraphQLError as error:
            return {"errors": [error.formatted]}
        errors = validate(self.schema, document)
        if errors:
            return {"errors": [e.formatted for e in errors]}
        operation = _pick_operation(document.definitions, call.operation_name)
        if operation is not None and call.operation_name is None and operation.name is not None:
            call.operation_name = operation.name.value
        is_mutation = operation is not None and operation.operation == OperationType.MUTATION
        result = execute(
            self.schema,
            document,
            root_value=_Root(self, shop),
            variable_values=call.variables,
            operation_name=call.operation_name,
        )
        assert isinstance(result, ExecutionResult)
        answer: Json = {}
        if result.errors:
            answer["errors"] = [e.formatted for e in result.errors]
        if result.data is not None or not result.errors:
            answer["data"] = result.data
        cost = 10 if is_mutation else 1
        answer["extensions"] = {
            "cost": {
                "requestedQueryCost": cost,
                "actualQueryCost": cost,
                "throttleStatus": {
                    "maximumAvailable": 2000.0,
                    "currentlyAvailable": 2000 - cost,
                    "restoreRate": 100.0,
                },
            }
        }
        return answer


class _QuietHandler(WSGIRequestHandler):
    """No access log lines on stderr for every request the app makes."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class _Root:
    """Root resolvers (graphql-core's default resolver calls ``attr(info, **args)``)."""

    def __init__(self, fake: FakeShopify, shop: ShopRecord) -> None:
        self.fake = fake
        self.shop_record = shop

    # -- queries

    def shop(self, info: GraphQLResolveInfo) -> Json:
        s = self.shop_record
        now = datetime.now(ZoneInfo(s.iana_timezone))
        offset = now.utcoffset()
        return {
            "id": s.gid,
            "name": s.name,
            "email": s.email,
            "contactEmail": s.contact_email or s.email,
            "myshopifyDomain": s.myshopify_domain,
            "url": f"https://{s.primary_domain_host}",
            "ianaTimezone": s.iana_timezone,
            "timezoneAbbreviation": now.tzname() or "UTC",
            "timezoneOffsetMinutes": int(offset.total_seconds() // 60) if offset else 0,
            "currencyCode": s.currency_code,
            "billingAddress": {
                "id": f"gid://shopify/ShopAddress/{s.shop_id}",
                "address1": None,
                "address2": None,
                "city": None,
                "company": None,
                "country": None,
                "countryCodeV2": s.country_code,
                "countryCode": s.country_code,
                "phone": None,
                "province": None,
                "provinceCode": None,
                "zip": None,
            },
            "shopAddress": {
                "id": f"gid://shopify/ShopAddress/{s.shop_id}",
                "address1": None,
                "address2": None,
                "city": None,
                "company": None,
                "country": None,
                "countryCodeV2": s.country_code,
                "countryCode": s.country_code,
                "phone": None,
                "province": None,
                "provinceCode": None,
                "zip": None,
            },
            "primaryDomain": {
                "id": f"gid://shopify/Domain/{s.shop_id}",
                "host": s.primary_domain_host,
                "url": f"https://{s.primary_domain_host}",
                "sslEnabled": True,
            },
        }

    def shopLocales(self, info: GraphQLResolveInfo, published: bool = False) -> list[Json]:
        s = self.shop_record
        locales = {
            s.primary_locale: True,
            **{k: v for k, v in s.other_locales.items() if k != s.primary_locale},
        }
        return [
            {
                "locale": loc,
                "name": _LOCALE_NAMES.get(loc, loc),
                "primary": loc == s.primary_locale,
                "published": pub,
            }
            for loc, pub in locales.items()
            if pub or not published
        ]

    def product(self, info: GraphQLResolveInfo, id: str) -> Json | None:
        _check_gid(id)
        tags = self.fake.products.get(id)
        return None if tags is None else {"id": id, "tags": list(tags)}

    def nodes(self, info: GraphQLResolveInfo, ids: list[str]) -> list[Json | None]:
        """Products only (the one Node type the app asks for by id); null for an id Shopify does not hold."""
        if len(ids) > 250:
            raise GraphQLError("The 'ids' argument accepts at most 250 ids")
        for gid in ids:
            _check_gid(gid)
        return [None if (tags := self.fake.products.get(gid)) is None
                else {"__typename": "Product", "id": gid, "tags": list(tags)} for gid in ids]

    def node(self, info: GraphQLResolveInfo, id: str) -> Json | None:
        """A bulk operation of this shop or a product; null for anything else."""
        _check_gid(id)
        op = self.fake.bulk_operations.get(id)
        if op is not None:
            return self.fake.bulk_operation_json(op) if op.shop == self.shop_record.myshopify_domain else None
        tags = self.fake.products.get(id)
        return None if tags is None else {"__typename": "Product", "id": id, "tags": list(tags)}

    def currentBulkOperation(self, info: GraphQLResolveInfo, type: str = "QUERY") -> Json | None:
        ops = self.fake.bulk_operations_for(self.shop_record.myshopify_domain) if type == "QUERY" else []
        return self.fake.bulk_operation_json(ops[-1]) if ops else None

    def orders(self, info: GraphQLResolveInfo, **args: Any) -> Json:
        """The shop's orders, filtered by the parts of Shopify's search syntax the app uses
        (``created_at:>=DATE``, ``created_at:>DATE``, ``fulfillment_status:shipped``)."""
        held = self.fake.orders.get(self.shop_record.myshopify_domain, [])
        found = [order for order in held if _order_matches(order, args.get("query") or "")]
        first = args.get("first")
        if first is not None:
            found = found[:first]
        return {"edges": [{"cursor": _cursor(i), "node": o} for i, o in enumerate(found)],
                "nodes": found, "pageInfo": _no_more_pages()}

    def webhookSubscription(self, info: GraphQLResolveInfo, id: str) -> Json | None:
        _check_gid(id)
        for sub in self._subscriptions():
            if sub.id == id:
                return _subscription_json(sub)
        return None

    def webhookSubscriptions(self, info: GraphQLResolveInfo, **args: Any) -> Json:
        first, last = args.get("first"), args.get("last")
        if first is None and last is None:
            raise GraphQLError("you must provide one of first or last")
        for name in ("first", "last"):
            value = args.get(name)
            if value is not None and not 0 <= value <= 250:
                raise GraphQLError(f"The '{name}' argument must be between 0 and 250")
        subs = self._subscriptions()
        if args.get("topics"):
            subs = [s for s in subs if s.topic in args["topics"]]
        if args.get("format"):
            subs = [s for s in subs if s.format == args["format"]]
        uri = args.get("uri") or args.get("callbackUrl")
        if uri:
            subs = [s for s in subs if s.uri == uri]
        if args.get("reverse"):
            subs.reverse()
        indexed = list(enumerate(subs))
        if args.get("after"):
            indexed = [(i, s) for i, s in indexed if i > _cursor_index(args["after"])]
        if args.get("before"):
            indexed = [(i, s) for i, s in indexed if i < _cursor_index(args["before"])]
        total_before = len(indexed)
        if first is not None:
            indexed = indexed[:first]
        if last is not None:
            indexed = indexed[max(0, len(indexed) - last) :]
        edges = [{"cursor": _cursor(i), "node": _subscription_json(s)} for i, s in indexed]
        return {
            "edges": edges,
            "nodes": [e["node"] for e in edges],
            "pageInfo": {
                "hasNextPage": first is not None and total_before > len(indexed),
                "hasPreviousPage": last is not None and total_before > len(indexed),
                "startCursor": edges[0]["cursor"] if edges else None,
                "endCursor": edges[-1]["cursor"] if edges else None,
            },
        }

    # -- mutations

    def webhookSubscriptionCreate(
        self, info: GraphQLResolveInfo, topic: str, webhookSubscription: dict[str, Any]
    ) -> Json:
        inp = webhookSubscription
        field_name = "uri" if inp.get("uri") else "callbackUrl"
        uri = str(inp.get("uri") or inp.get("callbackUrl") or "")
        path = ["webhookSubscription", field_name]
        error = _address_error(uri)
        if error is None and any(s.topic == topic and s.uri == uri for s in self._subscriptions()):
            error = "Address for this topic has already been taken"
        if error is not None:
            return {
                "webhookSubscription": None,
                "userErrors": [{"field": path, "message": error}],
            }
        sub = WebhookSubscriptionRecord(
            shop=self.shop_record.myshopify_domain,
            topic=topic,
            uri=uri,
            id=f"gid://shopify/WebhookSubscription/{next(self.fake._ids)}",
            format=inp.get("format") or "JSON",
            include_fields=list(inp.get("includeFields") or []),
            metafield_namespaces=list(inp.get("metafieldNamespaces") or []),
            filter=inp.get("filter"),
            created_at=datetime.fromtimestamp(self.fake.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        self.fake.webhook_subscriptions.append(sub)
        return {"webhookSubscription": _subscription_json(sub), "userErrors": []}

    def webhookSubscriptionDelete(self, info: GraphQLResolveInfo, id: str) -> Json:
        _check_gid(id)
        for sub in self._subscriptions():
            if sub.id == id:
                self.fake.webhook_subscriptions.remove(sub)
                return {"deletedWebhookSubscriptionId": id, "userErrors": []}
        return {
            "deletedWebhookSubscriptionId": None,
            "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}],
        }

    def bulkOperationRunQuery(self, info: GraphQLResolveInfo, query: str, groupObjects: bool = False) -> Json:
        if self.fake.bulk_user_errors:
            errors, self.fake.bulk_user_errors = self.fake.bulk_user_errors, []
            return {"bulkOperation": None, "userErrors": errors}
        domain = self.shop_record.myshopify_domain
        running = [op for op in self.fake.bulk_operations_for(domain) if op.status in ("CREATED", "RUNNING")]
        if running:  # one bulk query at a time per shop, as before API version 2026-01
            return {"bulkOperation": None, "userErrors": [{
                "field": None, "code": "OPERATION_IN_PROGRESS",
                "message": f"A bulk query operation for this app and shop is already in progress: {running[0].id}."}]}
        problem = _bulk_query_problem(self.fake.schema, query)
        if problem is not None:
            return {"bulkOperation": None, "userErrors": [{"field": ["query"], "code": "INVALID",
                                                           "message": problem}]}
        op = BulkOperationRecord(
            shop=domain, id=f"gid://shopify/BulkOperation/{next(self.fake._ids)}", query=query,
            created_at=datetime.fromtimestamp(self.fake.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        self.fake.bulk_operations[op.id] = op
        answer = self.fake.bulk_operation_json(op)
        op.status = "RUNNING"  # Shopify answers CREATED, then runs it
        return {"bulkOperation": answer, "userErrors": []}

    def returnReasonDefinitions(self, info: GraphQLResolveInfo, first: int | None = None,
                                after: str | None = None) -> Json:
        nodes = [{"id": i, "handle": h, "name": n, "deleted": False} for i, h, n in self.fake.return_reasons]
        return {"nodes": nodes[: first or len(nodes)], "pageInfo": _no_more_pages()}

    def returnableFulfillments(self, info: GraphQLResolveInfo, orderId: str, first: int | None = None,
                               after: str | None = None) -> Json:
        _check_gid(orderId)
        nodes = [{"id": f"gid://shopify/ReturnableFulfillment/{fid.rsplit('/', 1)[1]}", "fulfillment": {"id": fid},
                  "returnableFulfillmentLineItems": lambda info, first=None, after=None, items=items: {
                      "nodes": [{"quantity": q, "fulfillmentLineItem": {"id": fli, "quantity": q,
                                                                         "lineItem": {"id": li}}}
                                for fli, li, q in items if q > 0],
                      "pageInfo": _no_more_pages()}}
                 for fid, items in self.fake.returnable.get(orderId, [])]
        return {"nodes": nodes, "pageInfo": _no_more_pages()}

    def returnRequest(self, info: GraphQLResolveInfo, input: dict[str, Any]) -> Json:
        _check_gid(input["orderId"])
        if self.fake.return_request_delay:
            time.sleep(self.fake.return_request_delay)
        if self.fake.return_request_user_errors:
            errors, self.fake.return_request_user_errors = self.fake.return_request_user_errors, []
            return {"return": None, "userErrors": errors}
        reasons = {i for i, _, _ in self.fake.return_reasons}
        returnable = {fli: q for _, items in self.fake.returnable.get(input["orderId"], []) for fli, _, q in items}
        for n, item in enumerate(input["returnLineItems"]):
            fli = item["fulfillmentLineItemId"]
            if fli not in returnable or item["quantity"] > returnable[fli]:
                return {"return": None, "userErrors": [{"field": ["input", "returnLineItems", str(n), "quantity"],
                                                        "message": "Quantity is not available for return.",
                                                        "code": "INVALID"}]}
            if item.get("returnReasonDefinitionId") not in reasons:
                return {"return": None, "userErrors": [{"field": ["input", "returnLineItems", str(n),
                                                                  "returnReasonDefinitionId"],
                                                        "message": "Return reason definition does not exist.",
                                                        "code": "NOT_FOUND"}]}
        number = next(self.fake._ids)
        self.fake.returns_requested.append(input)
        return {"return": {"id": f"gid://shopify/Return/{number}", "status": "REQUESTED", "name": f"#R{number}"},
                "userErrors": []}

    def discountCodeBasicCreate(self, info: GraphQLResolveInfo, basicCodeDiscount: dict[str, Any]) -> Json:
        code = str(basicCodeDiscount.get("code") or "")
        error = None
        if not code:
            error = ("BLANK", "Code can't be blank")
        elif code.upper() in {c.upper() for c in self.fake.discount_codes}:
            error = ("TAKEN", "Code must be unique. Please try a different code.")
        if error is not None:
            return {"codeDiscountNode": None,
                    "userErrors": [{"field": ["basicCodeDiscount", "code"], "message": error[1], "code": error[0]}]}
        gid = f"gid://shopify/DiscountCodeNode/{next(self.fake._ids)}"
        self.fake.discount_codes[code] = {"shop": self.shop_record.myshopify_domain, "id": gid,
                                          "input": basicCodeDiscount}
        return {"codeDiscountNode": {"id": gid, "codeDiscount": {
            "title": basicCodeDiscount.get("title") or code, "usageLimit": basicCodeDiscount.get("usageLimit"),
            "codes": {"nodes": [{"code": code}]}}}, "userErrors": []}

    def flowTriggerReceive(self, info: GraphQLResolveInfo, handle: str | None = None,
                           payload: Any = None) -> Json:
        if handle not in self.fake.flow_trigger_handles:
            return {"userErrors": [{"field": ["handle"], "message": f"Invalid handle '{handle}'."}]}
        if not isinstance(payload, dict):
            return {"userErrors": [{"field": ["payload"], "message": "Payload must be a JSON object."}]}
        self.fake.flow_triggers.append({"shop": self.shop_record.myshopify_domain, "handle": handle,
                                        "payload": payload})
        return {"userErrors": []}

    def _subscriptions(self) -> list[WebhookSubscriptionRecord]:
        domain = self.shop_record.myshopify_domain
        return [s for s in self.fake.webhook_subscriptions if s.shop == domain]


# -------------------------------------------------------------------- helpers


def _hs256_signed_by(token: str, secret: str) -> bool:
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        header = json.loads(_b64decode(parts[0]))
        signature = _b64decode(parts[2])
    except (ValueError, binascii.Error):
        return False
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        return False
    signing_input = f"{parts[0]}.{parts[1]}".encode()
    expected = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return hmac.compare_digest(expected, signature)


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _no_more_pages() -> Json:
    return {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None}


def _oauth_error(error: str, description: str) -> Json:
    return {"error": error, "error_description": description}


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true")


def _check_gid(value: str) -> None:
    if not _GID.match(value):
        raise GraphQLError(f"Invalid global id '{value}'")


def _address_error(uri: str) -> str | None:
    if not uri:
        return "Address can't be blank"
    if uri.startswith(("https://", "pubsub://", "arn:aws:events:")):
        return None
    scheme = uri.split(":", 1)[0] if ":" in uri else uri
    return f"Address protocol {scheme}:// is not supported"


def _subscription_json(sub: WebhookSubscriptionRecord) -> Json:
    return {
        "id": sub.id,
        "topic": sub.topic,
        "uri": sub.uri,
        "callbackUrl": sub.uri,
        "format": sub.format,
        "includeFields": list(sub.include_fields),
        "metafieldNamespaces": list(sub.metafield_namespaces),
        "filter": sub.filter,
        "createdAt": sub.created_at,
        "updatedAt": sub.created_at,
        "legacyResourceId": str(sub.legacy_id),
    }


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"cursor:{index}".encode()).decode()


def _cursor_index(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)[1])
    except (ValueError, IndexError) as exc:
        raise GraphQLError(f"Invalid cursor: {cursor!r}") from exc


def _pick_operation(definitions: Any, name: str | None) -> OperationDefinitionNode | None:
    operations: Iterator[OperationDefinitionNode] = (d for d in definitions if isinstance(d, OperationDefinitionNode))
    found = [op for op in operations if name is None or (op.name is not None and op.name.value == name)]
    return found[0] if len(found) == 1 or (found and name is not None) else None


def _bulk_query_problem(schema: GraphQLSchema, query: str) -> str | None:
    """Why Shopify would refuse this bulk query (it must be a valid query of the Admin schema)."""
    try:
        document = parse(query)
    except GraphQLError as error:
        return f"Invalid bulk query: {error.message}"
    errors = validate(schema, document)
    if errors:
        return f"Invalid bulk query: {errors[0].message}"
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].operation != OperationType.QUERY:
        return "Invalid bulk query: give exactly one query operation."
    return _bulk_shape_problem(schema, document)


def _bulk_shape_problem(schema: GraphQLSchema, document: DocumentNode) -> str | None:
    """Shopify's limits on a bulk query's shape: at most five connections, nested at most two deep, and no
    connection inside a list field."""
    type_info = TypeInfo(schema)
    # For each field on the path: (is it a connection, is it a list of objects).
    path: list[tuple[bool, bool]] = []
    found: list[str] = []
    connections = 0

    class Shape(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            nonlocal connections
            field_type = type_info.get_type()
            named = get_named_type(field_type)
            connection = named is not None and named.name.endswith("Connection")
            listed = isinstance(get_nullable_type(field_type), GraphQLList)
            if connection:
                connections += 1
                if any(is_list for _, is_list in path):
                    found.append("Queries that contain a connection field within a list field are not currently "
                                 "supported.")
                if sum(is_connection for is_connection, _ in path) >= 2:
                    found.append("Bulk queries cannot contain connections with a nesting depth greater than 2.")
            path.append((connection, listed))

        def leave_field(self, *_: Any) -> None:
            path.pop()

    visit(document, TypeInfoVisitor(type_info, Shape()))
    if connections > 5:
        found.append("Bulk queries cannot contain more than 5 connections.")
    return f"Invalid bulk query: {found[0]}" if found else None


def _order_matches(order: Json, search: str) -> bool:
    for term in search.split():
        name, _, value = term.partition(":")
        if name == "created_at":
            created = datetime.fromisoformat(str(order["createdAt"]).replace("Z", "+00:00"))
            strict = value.startswith(">") and not value.startswith(">=")
            bound = datetime.fromisoformat(value.lstrip(">=").replace("Z", "+00:00"))
            if bound.tzinfo is None:
                bound = bound.replace(tzinfo=UTC)
            if created < bound or (strict and created == bound):
                return False
        elif name == "fulfillment_status" and value == "shipped":
            if order.get("displayFulfillmentStatus") != "FULFILLED":
                return False
    return True


def _is_connection(value: Any) -> bool:
    return isinstance(value, dict) and (isinstance(value.get("edges"), list) or isinstance(value.get("nodes"), list))


def _connection_nodes(connection: Json) -> list[Json]:
    if isinstance(connection.get("edges"), list):
        return [edge["node"] for edge in connection["edges"]]
    return list(connection["nodes"])


def _bulk_lines(data: Json) -> tuple[list[str], int]:
    """A bulk query's result as Shopify writes it: one line per node of the top connection, each nested
    connection's nodes on lines of their own (after all the top-level ones) with ``__parentId`` naming the
    nearest object above them that has an id. Returns the lines and how many were top-level."""
    children: list[Json] = []

    def split(value: Any, parent: str | None) -> Any:
        if isinstance(value, list):
            return [split(item, parent) for item in value]
        if not isinstance(value, dict):
            return value
        here = value.get("id") or parent
        kept: Json = {}
        for key, item in value.items():
            if _is_connection(item):
                for node in _connection_nodes(item):
                    children.append({**split(node, here), "__parentId": here})
            else:
                kept[key] = split(item, here)
        return kept

    roots: list[Json] = []
    for connection in data.values():
        for node in _connection_nodes(connection):
            roots.append(split(node, None))
    rows = [{k: v for k, v in row.items() if k != "__typename"} for row in roots + children]
    return [json.dumps(row, separators=(",", ":")) for row in rows], len(roots)
