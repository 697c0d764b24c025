"""The quick look at a webhook payload at intake (cxplugin/webhooks/shape.py), through each topic's real schema.

The check is derived from the topic's marshmallow schema: it must pass every payload Shopify sends, name the
path of each required field that is missing, null or unreadable, and never pass a payload whose required
fields the worker's full schema load would then refuse.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields

from cxplugin.webhooks.topics import TOPICS
from tests.shopify_signing import FIXTURES, fixture

FIXTURE_NAMES = sorted(path.stem for path in FIXTURES.glob("*.json"))


def topic_of(fixture_name: str) -> str:
    """``orders_create__basic`` → ``orders/create`` (fixtures are named after their topic, "/" written "_")."""
    prefix = fixture_name.split("__")[0]
    [topic] = [name for name in TOPICS if name.replace("/", "_") == prefix]
    return topic


def problems(fixture_name: str, **changes: Any) -> list[tuple[str, str]]:
    """The problems the fixture's topic finds in the fixture with ``changes`` applied (``...`` deletes a key)."""
    payload = fixture(fixture_name)
    for key, value in changes.items():
        if value is ...:
            del payload[key]
        else:
            payload[key] = value
    return TOPICS[topic_of(fixture_name)].problems(payload)


def paths(found: list[tuple[str, str]]) -> list[str]:
    return [path for path, _ in found]


# --- What passes ---------------------------------------------------------------------------------------------------

def test_the_fixtures_cover_a_topic_each() -> None:
    assert FIXTURE_NAMES and all(topic_of(name) in TOPICS for name in FIXTURE_NAMES)


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_every_fixture_passes_its_topics_check(name: str) -> None:
    assert TOPICS[topic_of(name)].problems(fixture(name)) == []


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_the_check_never_changes_the_payload(name: str) -> None:
    payload = fixture(name)
    before = copy.deepcopy(payload)
    TOPICS[topic_of(name)].problems(payload)
    assert payload == before


def test_fields_the_schema_does_not_know_are_ignored() -> None:
    assert problems("orders_create__basic", brand_new_field={"anything": [1, None]}, id_2="not read") == []


def test_optional_scalar_fields_are_left_to_the_worker_s_full_load() -> None:
    # Only required fields are read with their field types at intake; an optional string holding a number is
    # the worker's business (its full schema load refuses it there).
    assert problems("orders_create__basic", email=5, note=["x"], cancelled_at="not a time") == []


def test_required_integer_given_as_a_numeric_string_is_accepted_as_the_schema_does() -> None:
    assert problems("orders_create__basic", id="820982911946154508") == []


# --- Missing, null and unreadable required fields ------------------------------------------------------------------

@pytest.mark.parametrize(("name", "key"), [
    ("orders_create__basic", "id"),
    ("orders_create__basic", "updated_at"),
    ("orders_updated__basic", "created_at"),
    ("fulfillments_update__delivered", "order_id"),
    ("fulfillments_create__basic", "updated_at"),
    ("fulfillment_events_create__delivered", "happened_at"),
    ("fulfillment_events_create__delivered", "fulfillment_id"),
    ("products_update__basic", "id"),
    ("customers_redact__basic", "customer"),
    ("customers_redact__basic", "shop_domain"),
    ("shop_redact__basic", "shop_domain"),
    ("customers_data_request__basic", "customer"),
])
def test_a_missing_required_field_is_reported_with_its_path(name: str, key: str) -> None:
    assert problems(name, **{key: ...}) == [(key, "Missing data for required field.")]


@pytest.mark.parametrize(("name", "key", "value"), [
    ("orders_create__basic", "id", "abc"),
    ("orders_create__basic", "id", "1.5"),
    ("orders_create__basic", "id", True),
    ("orders_create__basic", "id", {"id": 1}),
    ("orders_create__basic", "updated_at", "yesterday"),
    ("orders_create__basic", "updated_at", "2026-11-20T10:15:00"),  # no offset: the schema wants aware times
    ("orders_create__basic", "created_at", 1795000000),
    ("fulfillment_events_create__delivered", "status", 5),
    ("fulfillments_update__delivered", "order_id", "#1001"),
    ("shop_redact__basic", "shop_domain", ["cx-test-shop.myshopify.com"]),
])
def test_a_required_field_of_the_wrong_type_is_reported(name: str, key: str, value: Any) -> None:
    assert paths(problems(name, **{key: value})) == [key]


@pytest.mark.parametrize(("name", "key"), [
    ("orders_create__basic", "id"),
    ("orders_create__basic", "updated_at"),
    ("fulfillments_update__delivered", "order_id"),
    ("customers_redact__basic", "customer"),
])
def test_null_for_a_required_field_is_reported(name: str, key: str) -> None:
    assert problems(name, **{key: None}) == [(key, "Field may not be null.")]


def test_null_for_a_list_the_schema_does_not_let_be_null_is_reported() -> None:
    assert problems("orders_create__basic", note_attributes=None) == [("note_attributes", "Field may not be null.")]


def test_every_problem_of_a_payload_is_reported_not_just_the_first() -> None:
    found = problems("orders_create__basic", id=..., updated_at="yesterday", created_at=None)
    assert sorted(paths(found)) == ["created_at", "id", "updated_at"]


# --- Inside lists and objects --------------------------------------------------------------------------------------

def test_a_note_attribute_without_a_name_is_reported_with_its_index() -> None:
    found = problems("orders_create__basic", note_attributes=[{"value": "x"}])
    assert found == [("note_attributes[0].name", "Missing data for required field.")]


def test_only_the_faulty_note_attribute_is_reported() -> None:
    attributes = [{"name": "_cx_promise", "value": "{}"}, {"name": 7, "value": "x"}, {"name": None}]
    assert paths(problems("orders_create__basic", note_attributes=attributes)) == [
        "note_attributes[1].name", "note_attributes[2].name"]


def test_a_note_attribute_that_is_not_an_object_is_reported() -> None:
    assert problems("orders_create__basic", note_attributes=["_cx_promise"]) == [
        ("note_attributes[0]", "Not an object.")]


def test_a_fulfillment_inside_an_order_is_held_to_the_fulfillment_schema() -> None:
    fulfillment = fixture("fulfillments_create__basic")
    del fulfillment["order_id"]
    fulfillment["updated_at"] = "soon"
    assert sorted(paths(problems("orders_updated__basic", fulfillments=[fixture("fulfillments_create__basic"),
                                                                           fulfillment]))) == [
        "fulfillments[1].order_id", "fulfillments[1].updated_at"]


@pytest.mark.parametrize("payload", [[], [{"id": 1}], "orders/create", 5, None, True])
def test_a_payload_that_is_not_an_object_is_reported(payload: Any) -> None:
    assert TOPICS["orders/create"].problems(payload) == [("payload", "Not an object.")]


@pytest.mark.parametrize(("name", "key"), [
    ("orders_create__basic", "note_attributes"),
    ("orders_create__basic", "line_items"),
    ("orders_create__basic", "fulfillments"),
    ("customers_redact__basic", "orders_to_redact"),
    ("customers_data_request__basic", "orders_requested"),
])
def test_a_list_field_given_as_an_object_is_reported(name: str, key: str) -> None:
    assert problems(name, **{key: {"name": "x", "id": 1}}) == [(key, "Not a list.")]


@pytest.mark.parametrize(("name", "key", "value"), [
    ("orders_create__basic", "customer", [{"id": 1}]),
    ("orders_create__basic", "shipping_address", "228 W 29th St"),
    ("customers_redact__basic", "customer", 115310627314723954),
    ("customers_data_request__basic", "data_request", [9999]),
])
def test_an_object_field_given_as_something_else_is_reported(name: str, key: str, value: Any) -> None:
    assert problems(name, **{key: value}) == [(key, "Not an object.")]


# --- Property: what passes the check, the worker's load reads ------------------------------------------------------

def _fields_by_key(schema: Schema) -> dict[str, fields.Field]:
    return {field.data_key or name: field for name, field in schema.fields.items()}


def _nested_schema(field: fields.Nested) -> Schema:
    schema = field.schema
    assert isinstance(schema, Schema)
    return schema


def errors_on_required_fields(schema: Schema, messages: dict[Any, Any], path: str = "") -> list[str]:
    """The paths, in marshmallow's error ``messages`` for ``schema``, of errors on a field its schema requires.

    An error on a list item or inside a nested object is judged by the field it is on, not by the container: a
    bad ``customer.id`` is an error on an optional field even when ``customer`` itself is required."""
    by_key = _fields_by_key(schema)
    found: list[str] = []
    for key, message in messages.items():
        if key == "_schema":
            continue  # about the object itself: judged by the field that holds it, below
        field = by_key[key]
        where = f"{path}.{key}" if path else key
        if isinstance(message, list):  # the field's own value is wrong (missing, null, wrong type)
            if field.required:
                found.append(where)
        elif isinstance(field, fields.Nested):
            if "_schema" in message and field.required:
                found.append(where)
            found += errors_on_required_fields(_nested_schema(field), message, where)
        elif isinstance(field, fields.List):
            for index, item_message in message.items():
                item = f"{where}[{index}]"
                if isinstance(item_message, dict) and isinstance(field.inner, fields.Nested):
                    inner = field.inner
                    if "_schema" in item_message and inner.required:
                        found.append(item)
                    found += errors_on_required_fields(_nested_schema(inner), item_message, item)
                elif field.required:
                    found.append(item)
        else:
            raise AssertionError(f"unexpected error shape at {where}: {message!r}")
    return found


def test_the_error_walker_tells_required_fields_from_optional_ones() -> None:
    orders = TOPICS["orders/create"].schema
    messages = {"id": ["Not a valid integer."], "email": ["Not a valid string."],
                "customer": {"id": ["Not a valid integer."]},
                "note_attributes": {0: {"name": ["Missing data for required field."]}, 1: {"_schema": ["x"]}},
                "line_items": {0: {"_schema": ["Invalid input type."]}, 1: {"quantity": ["Field may not be null."]}},
                "fulfillments": {0: {"order_id": ["Missing data for required field."]}}}
    assert errors_on_required_fields(orders, messages) == ["id", "note_attributes[0].name", "fulfillments[0].order_id"]
    redact = TOPICS["customers/redact"].schema
    assert errors_on_required_fields(redact, {"customer": {"_schema": ["Invalid input type."]},
                                              "orders_to_redact": {0: ["Not a valid integer."]}}) == ["customer"]


_CORRUPT_VALUES = st.sampled_from([
    None, "", "abc", "123", 0, -1, 1.5, True, [], {}, [{}], [5], [None], ["x"], [{"name": 5}], [{"name": "a"}],
    [{"value": "x"}], [{"name": "a"}, {"name": None}],
    [{"id": "x"}], [{"id": 1, "order_id": 2, "updated_at": "2026-11-21T09:00:00-05:00"}], {"id": "x"}, {"id": 1},
    "2026-11-20T10:15:00", "2026-11-20T10:15:00-05:00", "yesterday", "cx-test-shop.myshopify.com",
]) | st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=6),
                  lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                      st.sampled_from(["id", "name", "value", "email", "quantity", "order_id"]), inner, max_size=3),
                  max_leaves=6)


_ORDER_FIXTURES = st.sampled_from([name for name in FIXTURE_NAMES if name.startswith("orders_")])


@st.composite
def derived_payloads(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A fixture with some top-level keys deleted or given other values — keys of its schema (lists and objects
    often), or any of the payload's own keys — and now and then a key inside the object or list item such a key
    holds."""
    name = draw(st.sampled_from(FIXTURE_NAMES) | _ORDER_FIXTURES)  # orders hold the nested required fields
    topic = topic_of(name)
    payload = fixture(name)
    by_key = _fields_by_key(TOPICS[topic].schema)
    containers = sorted(key for key, field in by_key.items() if isinstance(field, (fields.Nested, fields.List)))
    keys = st.sampled_from(sorted(by_key)) | st.sampled_from(sorted(set(payload) | set(by_key)))
    if containers:
        keys |= st.sampled_from(containers)
    for key in draw(st.lists(keys, min_size=1, max_size=4)):
        how = draw(st.sampled_from(["delete", "replace", "replace", "inside"]))
        if how == "delete":
            payload.pop(key, None)
        elif how == "replace":
            # A copy: the values are shared constants, and a later step may change inside the one put here.
            payload[key] = copy.deepcopy(draw(_CORRUPT_VALUES))
        else:  # one level down: a key of the object, or of an item of the list, this field holds
            holder = payload.get(key)
            if isinstance(holder, list) and holder:
                holder = draw(st.sampled_from(holder))
            if isinstance(holder, dict) and holder:
                inner = draw(st.sampled_from(sorted(holder)))
                if draw(st.booleans()):
                    del holder[inner]
                else:
                    holder[inner] = copy.deepcopy(draw(_CORRUPT_VALUES))
    return topic, payload


@settings(max_examples=200, deadline=None)
@given(derived_payloads())
def test_when_the_check_finds_no_problem_the_schema_load_reads_every_required_field(
        derived: tuple[str, dict[str, Any]]) -> None:
    topic, payload = derived
    found = TOPICS[topic].problems(payload)
    event("check passes" if not found else "check finds problems")
    if found:
        return
    try:
        TOPICS[topic].load(payload)
    except ValidationError as exc:
        assert isinstance(exc.messages, dict)
        event("load fails on optional fields only")
        assert errors_on_required_fields(TOPICS[topic].schema, exc.messages) == [], exc.messages


@settings(max_examples=200, deadline=None)
@given(derived_payloads())
def test_a_payload_the_check_refuses_is_one_the_schema_load_refuses_too(derived: tuple[str, dict[str, Any]]) -> None:
    topic, payload = derived
    if TOPICS[topic].problems(payload):
        with pytest.raises(ValidationError):
            TOPICS[topic].load(payload)
