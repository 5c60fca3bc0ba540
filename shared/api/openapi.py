"""The OpenAPI 3 document (kept beside this module as openapi.json), served as it is stored.

A Logic App custom connector or a ticketing integration is generated from it; a test keeps its
paths and methods equal to function_app.py's routes and checks real answers against its schemas.
`schema_errors` is the small JSON Schema subset the document uses (type, enum, properties,
required, additionalProperties, items, pattern, lengths, bounds, nullable, $ref, allOf,
oneOf).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

import msgspec

from shared.api.messages import JSON, ApiResponse

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
    "integer": (int,), "number": (int, float),
}


@cache
def document_bytes() -> bytes:
    return resources.files("shared.api").joinpath("openapi.json").read_bytes()


def document() -> dict[str, Any]:
    found: dict[str, Any] = msgspec.json.decode(document_bytes())
    return found


def serve() -> ApiResponse:
    return ApiResponse(200, document_bytes(), {"Content-Type": JSON})


def resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def schema_errors(value: Any, schema: dict[str, Any], root: dict[str, Any],
                  path: str = "$") -> list[str]:
    """Where `value` breaks `schema` (empty when it conforms)."""
    if value is None:
        allowed = resolve(schema, root).get("nullable") or not schema
        return [] if allowed else [f"{path}: null not allowed"]
    schema = resolve(schema, root)
    if "allOf" in schema:
        return [e for part in schema["allOf"] for e in schema_errors(value, part, root, path)]
    if "oneOf" in schema:
        matches = sum(not schema_errors(value, s, root, path) for s in schema["oneOf"])
        return [] if matches == 1 else [f"{path}: matches {matches} of oneOf, not exactly 1"]
    kind = schema.get("type")
    if kind and (not isinstance(value, _TYPES[kind])
                 or (kind in ("integer", "number") and isinstance(value, bool))):
        return [f"{path}: expected {kind}, got {type(value).__name__}"]
    errors = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if isinstance(value, str):
        errors += _string_errors(value, schema, path)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: above {schema['maximum']}")
    if isinstance(value, list):
        errors += _array_errors(value, schema, root, path)
    if isinstance(value, dict):
        errors += _object_errors(value, schema, root, path)
    return errors


def _string_errors(value: str, schema: dict[str, Any], path: str) -> list[str]:
    errors = []
    if len(value) < schema.get("minLength", 0):
        errors.append(f"{path}: shorter than {schema['minLength']}")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(f"{path}: longer than {schema['maxLength']}")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{path}: does not match {schema['pattern']}")
    return errors


def _array_errors(value: list[Any], schema: dict[str, Any], root: dict[str, Any],
                  path: str) -> list[str]:
    errors = []
    if len(value) < schema.get("minItems", 0):
        errors.append(f"{path}: fewer than {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append(f"{path}: more than {schema['maxItems']} items")
    if schema.get("uniqueItems") and len({msgspec.json.encode(v) for v in value}) < len(value):
        errors.append(f"{path}: items are not unique")
    for n, item in enumerate(value):
        errors += schema_errors(item, schema.get("items", {}), root, f"{path}[{n}]")
    return errors


def _object_errors(value: dict[str, Any], schema: dict[str, Any], root: dict[str, Any],
                   path: str) -> list[str]:
    properties = schema.get("properties", {})
    errors = [f"{path}: missing {name}" for name in schema.get("required", [])
              if name not in value]
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            errors += schema_errors(item, properties[name], root, f"{path}.{name}")
        elif extra is False:
            errors.append(f"{path}: unexpected property {name}")
        elif isinstance(extra, dict):
            errors += schema_errors(item, extra, root, f"{path}.{name}")
    return errors
