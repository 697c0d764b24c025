"""A quick look at a webhook payload at intake: are the fields the worker needs there, and readable?

Derived from the topic's marshmallow schema, so the schema stays the one statement of what we read.
It checks the required fields (following nested objects and lists that hold required fields) with the
schema's own field types, and that every other field it meets is of the right container kind; the
full schema load runs in the worker. It never looks up anything and never changes the payload.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import Schema, ValidationError, fields

# (path, message) for each problem found; empty when the payload will do.
Problems = list[tuple[str, str]]
Check = Callable[[Any, str, Problems], None]


def checker(schema: Schema) -> Callable[[Any], Problems]:
    """A function that lists the problems of a payload for ``schema`` (built once per schema)."""
    check = _object_check(schema)

    def run(payload: Any) -> Problems:
        problems: Problems = []
        check(payload, "", problems)
        return problems

    return run


def _object_check(schema: Schema) -> Check:
    parts = [(field.data_key or name, field, _value_check(field)) for name, field in schema.fields.items()
             if not field.dump_only]

    def check(value: Any, path: str, problems: Problems) -> None:
        if not isinstance(value, dict):
            problems.append((path or "payload", "Not an object."))
            return
        for key, field, value_check in parts:
            where = f"{path}.{key}" if path else key
            item = value.get(key)
            if item is None:
                if key not in value and field.required:
                    problems.append((where, "Missing data for required field."))
                elif key in value and not field.allow_none:
                    problems.append((where, "Field may not be null."))
                continue
            if value_check is not None:
                value_check(item, where, problems)

    return check


def _has_required(schema: Schema) -> bool:
    def needs(field: fields.Field[Any]) -> bool:
        if isinstance(field, fields.List):
            field = field.inner
        return isinstance(field, fields.Nested) and _has_required(_nested(field))

    return any(f.required or needs(f) for f in schema.fields.values())


def _nested(field: fields.Nested) -> Schema:
    schema = field.schema
    assert isinstance(schema, Schema)
    return schema


def _value_check(field: fields.Field[Any]) -> Check | None:
    """How to look at a present, non-null value of ``field``; None when anything goes."""
    if isinstance(field, fields.Nested):
        nested = _nested(field)
        return _object_check(nested) if _has_required(nested) else _kind_check(dict, "Not an object.")
    if isinstance(field, fields.List):
        inner = field.inner
        if isinstance(inner, fields.Nested) and _has_required(_nested(inner)):
            return _list_check(_object_check(_nested(inner)))
        return _kind_check(list, "Not a list.")
    if field.required:
        return _field_check(field)
    return None


def _kind_check(kind: type, message: str) -> Check:
    def check(value: Any, path: str, problems: Problems) -> None:
        if not isinstance(value, kind):
            problems.append((path, message))

    return check


def _list_check(item_check: Check) -> Check:
    def check(value: Any, path: str, problems: Problems) -> None:
        if not isinstance(value, list):
            problems.append((path, "Not a list."))
            return
        for index, item in enumerate(value):
            item_check(item, f"{path}[{index}]", problems)

    return check


def _field_check(field: fields.Field[Any]) -> Check:
    def check(value: Any, path: str, problems: Problems) -> None:
        try:
            field.deserialize(value)
        except ValidationError as exc:
            problems.append((path, " ".join(map(str, exc.messages)) if isinstance(exc.messages, list)
                             else str(exc.messages)))

    return check
