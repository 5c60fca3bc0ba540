"""The Swagger 2.0 document, made from the OpenAPI 3 one (openapi.json) and served at
/api/swagger.json, for what imports only 2.0: Logic Apps, Power Automate and Power Apps custom
connectors ("OpenAPI definitions that are in OpenAPI 3.0 format are not supported", and under
1 MB: Microsoft's custom-connector tutorial, learn.microsoft.com/connectors/custom-connectors/
define-openapi-definition). One source, so the two cannot drift; a test holds every operation of
one equal in meaning to the other's and validates this one against the 2.0 schema.

What 2.0 says differently, and how it is said here:
- `servers[0].url` is `basePath`; `components/schemas` are `definitions`, `components/responses`
  are `responses`, and every `$ref` follows them.
- A parameter's `schema` is written inline on the parameter; a `requestBody` is a `body`
  parameter; each response has one `schema`, its media types going to the operation's
  `produces` (and the body's to `consumes`).
- `nullable: true` is `x-nullable: true` (AutoRest's extension, which connectors read).
- `oneOf`, `anyOf` and `not` do not exist in 2.0: they are kept verbatim as `x-oneOf`, `x-anyOf`
  and `x-not`, so the rule is still written down (the function app enforces it either way).
- The bearer scheme (http/bearer) is an `apiKey` in the Authorization header, as 2.0 has no
  http schemes.
- Each operation and parameter carries the connector extensions `x-ms-summary` (its title in the
  designer) and `x-ms-visibility` ("important", "advanced" or "internal": shown, behind "show
  advanced options", or hidden): learn.microsoft.com/connectors/custom-connectors/
  openapi-extensions.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import msgspec

from shared.api.messages import JSON, ApiResponse

SWAGGER_LIMIT_BYTES = 1_000_000  # custom connectors refuse larger definitions
# Documents about the API itself are hidden from a connector's designer; the approvers' routes
# (platform sign-in, not a key) and the tracing header are advanced.
INTERNAL_OPERATIONS = frozenset({"openapi", "swagger", "health"})
ADVANCED_PATH = re.compile(r"^/approvals/")
ADVANCED_PARAMETERS = frozenset({"x-correlation-id"})
REFS = (("#/components/schemas/", "#/definitions/"), ("#/components/responses/", "#/responses/"))
UNSUPPORTED = ("oneOf", "anyOf", "not")
SUMMARY_CHARS = 80


def schema(node: Any) -> Any:
    """A 3.0 schema (or anything below one) written as 2.0."""
    if isinstance(node, list):
        return [schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref":
            out[key] = _ref(value)
        elif key == "nullable":
            out["x-nullable"] = value
        elif key in UNSUPPORTED:
            out[f"x-{key}"] = value  # verbatim: a rule 2.0 cannot state, still written down
        elif key == "properties":
            out[key] = {name: schema(sub) for name, sub in value.items()}
        else:
            out[key] = schema(value)
    return out


def _ref(ref: str) -> str:
    for old, new in REFS:
        if ref.startswith(old):
            return new + ref[len(old):]
    raise ValueError(f"a $ref Swagger 2.0 has no place for: {ref}")


def _title(name: str) -> str:
    words = re.sub(r"(?<=[a-z])(?=[A-Z])|[-_]", " ", name).split()
    return " ".join(words).capitalize() if words else name


def short_summary(summary: str, operation_id: str) -> str:
    """A designer title: the summary up to its first clause, at most 80 characters."""
    text = re.split(r" \(|: |; ", summary or "", maxsplit=1)[0].strip() or _title(operation_id)
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS - 3].rstrip() + "..."


def parameter(param: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in param.items() if k not in ("schema", "style", "explode", "example")}
    out.update(schema(param.get("schema") or {"type": "string"}))
    out["x-ms-summary"] = _title(param["name"])
    if param["name"] in ADVANCED_PARAMETERS:
        out["x-ms-visibility"] = "advanced"
    return out


def response(answer: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A 2.0 response and the media types it comes in."""
    if "$ref" in answer:
        return {"$ref": _ref(answer["$ref"])}, []
    out: dict[str, Any] = {"description": answer.get("description", "")}
    content = answer.get("content") or {}
    schemas = [media.get("schema") for media in content.values() if media.get("schema")]
    if schemas:
        out["schema"] = schema(schemas[0])
    if answer.get("headers"):
        out["headers"] = {name: {**({"description": h["description"]} if "description" in h
                                    else {}), **schema(h.get("schema") or {"type": "string"})}
                          for name, h in answer["headers"].items()}
    return out, list(content)


def operation(op: dict[str, Any], path: str, root: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: v for k, v in op.items()
                           if k not in ("parameters", "requestBody", "responses", "servers",
                                        "callbacks")}
    params = [parameter(p) for p in op.get("parameters", [])]
    consumes: list[str] = []
    body = op.get("requestBody")
    if body is not None:
        content = body.get("content") or {}
        consumes = list(content)
        first: dict[str, Any] = next(iter(content.values()), {})
        params.append({"name": "body", "in": "body", "required": bool(body.get("required")),
                       **({"description": body["description"]} if "description" in body
                          else {}),
                       "schema": schema(first.get("schema") or {}), "x-ms-summary": "Body"})
    if params:
        out["parameters"] = params
    if consumes:
        out["consumes"] = consumes
    produces: list[str] = []
    responses: dict[str, Any] = {}
    for code, answer in op["responses"].items():
        responses[code], media = response(answer)
        if "$ref" in answer:
            media = list(_resolve(answer["$ref"], root).get("content") or {})
        produces += [m for m in media if m not in produces]
    out["responses"] = responses
    if produces:
        out["produces"] = produces
    operation_id = op.get("operationId", "")
    out["x-ms-summary"] = short_summary(op.get("summary", ""), operation_id)
    out["x-ms-visibility"] = "internal" if operation_id in INTERNAL_OPERATIONS else (
        "advanced" if ADVANCED_PATH.match(path) else "important")
    return out


def _resolve(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    found: dict[str, Any] = node
    return found


def security_scheme(scheme: dict[str, Any]) -> dict[str, Any]:
    if scheme.get("type") == "http" and scheme.get("scheme", "").lower() == "bearer":
        said = scheme.get("description", "")
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": ("'Bearer ' and the token. " + said).strip()}
    return {k: v for k, v in scheme.items() if k != "bearerFormat"}


def from_openapi(doc: dict[str, Any]) -> dict[str, Any]:
    """The Swagger 2.0 document saying what the OpenAPI 3.0 `doc` says."""
    components = doc.get("components", {})
    base = (doc.get("servers") or [{"url": "/"}])[0]["url"]
    out: dict[str, Any] = {
        "swagger": "2.0",
        "info": doc["info"],
        "basePath": base,
        "schemes": ["https"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "paths": {path: {method: operation(op, path, doc) for method, op in item.items()}
                  for path, item in doc["paths"].items()},
        "definitions": {name: schema(s) for name, s in components.get("schemas", {}).items()},
        "responses": {name: response(r)[0] for name, r in components.get("responses", {}).items()},
        "securityDefinitions": {name: security_scheme(s) for name, s in
                                components.get("securitySchemes", {}).items()},
    }
    if "security" in doc:
        out["security"] = doc["security"]
    if "tags" in doc:
        out["tags"] = doc["tags"]
    return out


@cache
def document_bytes() -> bytes:
    from shared.api import openapi

    return msgspec.json.encode(from_openapi(openapi.document()))


def serve() -> ApiResponse:
    return ApiResponse(200, document_bytes(), {"Content-Type": JSON})
