"""The Swagger 2.0 document (/api/swagger.json) for custom connectors: valid Swagger 2.0 by
openapi-spec-validator's 2.0 schema, under the 1 MB connectors accept, with the function-key
security definition and the connector extensions, and saying what the OpenAPI 3.0 document says
for every operation: each 2.0 operation, read back into 3.0 terms here (independently of
shared.api.swagger), equals the 3.0 operation as far as 2.0 can say it. Routes added later are
covered without changing this file."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest
from openapi_spec_validator import OpenAPIV2SpecValidator, validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from shared.api import swagger
from tests.fixtures.api import DOCUMENT, ApiClient

SWAGGER = msgspec.json.decode(swagger.document_bytes())
OPERATIONS = [(path, method) for path, item in DOCUMENT["paths"].items() for method in item]
BACK = {"x-nullable": "nullable", "x-oneOf": "oneOf", "x-anyOf": "anyOf", "x-not": "not"}
REFS_BACK = (("#/definitions/", "#/components/schemas/"),
             ("#/responses/", "#/components/responses/"))


def test_valid_swagger_2_under_a_megabyte() -> None:
    validate(copy.deepcopy(SWAGGER), cls=OpenAPIV2SpecValidator)
    assert SWAGGER["swagger"] == "2.0"
    assert len(swagger.document_bytes()) < swagger.SWAGGER_LIMIT_BYTES
    broken = copy.deepcopy(SWAGGER)  # the validator does refuse what 2.0 does not allow
    broken["paths"]["/health"]["get"]["responses"]["200"]["content"] = {}
    with pytest.raises(OpenAPIValidationError):
        validate(broken, cls=OpenAPIV2SpecValidator)


def test_function_key_and_connector_extensions() -> None:
    assert SWAGGER["securityDefinitions"]["functionKey"] == {
        "type": "apiKey", "in": "header", "name": "x-functions-key"}
    assert SWAGGER["securityDefinitions"]["functionKeyQuery"]["name"] == "code"
    assert SWAGGER["security"] == DOCUMENT["security"]
    assert SWAGGER["basePath"] == DOCUMENT["servers"][0]["url"]
    for path, method in OPERATIONS:
        op = SWAGGER["paths"][path][method]
        assert 0 < len(op["x-ms-summary"]) <= 80, (path, method)
        assert op["x-ms-visibility"] in ("important", "advanced", "internal")
        for param in op.get("parameters", []):
            assert param["x-ms-summary"], (path, method, param["name"])
    assert SWAGGER["paths"]["/reviews"]["post"]["x-ms-visibility"] == "important"
    assert SWAGGER["paths"]["/swagger.json"]["get"]["x-ms-visibility"] == "internal"


def back(node: Any) -> Any:
    """A 2.0 schema read back into 3.0 terms."""
    if isinstance(node, list):
        return [back(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "$ref":
            out[key] = next(new + value[len(old):] for old, new in REFS_BACK
                            if value.startswith(old))
        elif key == "properties":
            out[key] = {name: back(sub) for name, sub in value.items()}
        elif key in ("x-ms-summary", "x-ms-visibility"):
            continue
        else:
            out[BACK.get(key, key)] = back(value)
    return out


def media_types(answer: dict[str, Any]) -> list[str]:
    if "$ref" in answer:
        answer = DOCUMENT["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    return list(answer.get("content") or {})


def said_by_3(op: dict[str, Any]) -> dict[str, Any]:
    """What an operation says, in the terms both versions can say it in."""
    body = op.get("requestBody")
    responses = {}
    for code, answer in op["responses"].items():
        if "$ref" in answer:
            responses[code] = {"$ref": answer["$ref"]}
            continue
        schemas = [m["schema"] for m in (answer.get("content") or {}).values() if "schema" in m]
        responses[code] = {"description": answer["description"],
                           **({"schema": schemas[0]} if schemas else {}),
                           **({"headers": {n: {**({"description": h["description"]}
                                                  if "description" in h else {}), **h["schema"]}
                                           for n, h in answer["headers"].items()}}
                              if answer.get("headers") else {})}
    return {
        "meta": {k: op.get(k) for k in ("operationId", "summary", "description", "tags",
                                         "security", "deprecated")},
        "parameters": [{**{k: v for k, v in p.items() if k != "schema"}, **p["schema"]}
                       for p in op.get("parameters", [])],
        "body": None if body is None else {
            "required": bool(body.get("required")), "consumes": sorted(body["content"]),
            "schema": next(iter(body["content"].values()))["schema"]},
        "responses": responses,
        "produces": sorted({m for answer in op["responses"].values()
                            for m in media_types(answer)}),
    }


def said_by_2(op: dict[str, Any]) -> dict[str, Any]:
    params = [back(p) for p in op.get("parameters", [])]
    [body] = [p for p in params if p["in"] == "body"] or [None]
    return {
        "meta": {k: op.get(k) for k in ("operationId", "summary", "description", "tags",
                                         "security", "deprecated")},
        "parameters": [p for p in params if p["in"] != "body"],
        "body": None if body is None else {
            "required": body["required"], "consumes": sorted(op.get("consumes", [])),
            "schema": body["schema"]},
        "responses": back(op["responses"]),
        "produces": sorted(op.get("produces", [])),
    }


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_every_operation_says_what_the_3_0_one_says(path: str, method: str) -> None:
    assert said_by_2(SWAGGER["paths"][path][method]) == said_by_3(DOCUMENT["paths"][path][method])


def test_same_operations_schemas_and_shared_responses() -> None:
    assert {(p, m) for p, item in SWAGGER["paths"].items() for m in item} == set(OPERATIONS)
    assert back(SWAGGER["definitions"]) == DOCUMENT["components"]["schemas"]
    for name, answer in DOCUMENT["components"]["responses"].items():
        schemas = [m["schema"] for m in answer["content"].values()]
        assert back(SWAGGER["responses"][name]) == {"description": answer["description"],
                                                    "schema": schemas[0]}
    for name, scheme in DOCUMENT["components"]["securitySchemes"].items():
        two = SWAGGER["securityDefinitions"][name]
        if scheme["type"] == "http":
            assert (two["type"], two["in"], two["name"]) == ("apiKey", "header", "Authorization")
        else:
            assert two == scheme


def test_served_anonymously_as_generated(api: ApiClient) -> None:
    answer = api.call("GET", "/api/swagger.json", key=False)
    assert answer.status_code == 200
    assert answer.content == swagger.document_bytes()
