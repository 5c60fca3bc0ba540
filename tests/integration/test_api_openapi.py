"""The OpenAPI document against the real routes: the same paths and methods as function_app.py,
the served bytes equal to the file in the repo, request schemas and constraints equal to the
bodies the code decodes, and raw bytes on the routes that take a body (no 500s; every answer
documented and matching its schema: the `api` client checks each one)."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from local.serve import http_routes
from shared.api import openapi, validation
from shared.api.attestations import ApproverAttestationBody, AttestationBody
from shared.api.validation import RemediationBody, ReviewBody
from shared.graph import odata
from tests.fixtures.api import DOCUMENT, ApiClient

FUZZ_EXAMPLES = 120


def test_paths_and_methods_match_the_function_app_routes() -> None:
    declared = {(f"/{r.template}", m.lower()) for r in http_routes() for m in r.methods}
    documented = {(path, method) for path, item in DOCUMENT["paths"].items() for method in item}
    assert documented == declared
    assert DOCUMENT["servers"] == [{"url": "/api"}]
    anonymous = {f"/{r.template}" for r in http_routes() if r.anonymous}
    keyless = {p for p, item in DOCUMENT["paths"].items()
               if all(op.get("security") is not None
                      and not any("functionKey" in scheme for scheme in op["security"])
                      for op in item.values())}
    assert keyless == anonymous


def test_served_document_is_the_one_in_the_repo(api: ApiClient) -> None:
    answer = api.call("GET", "/api/openapi.json", key=False)
    assert answer.content == openapi.document_bytes()
    assert answer.json()["openapi"].startswith("3.0")


def test_request_schemas_match_the_decoded_bodies() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    for name, body in (("ReviewRequest", ReviewBody), ("RemediationRequest", RemediationBody),
                       ("AttestationRequest", AttestationBody),
                       ("ApproverAttestationRequest", ApproverAttestationBody)):
        fields = msgspec.structs.fields(body)
        assert set(schemas[name]["properties"]) == {f.encode_name for f in fields}, name
        required = {f.encode_name for f in fields if f.required}
        assert set(schemas[name].get("required", [])) == required, name
        assert schemas[name]["additionalProperties"] is False


CONSTRAINTS = ("type", "pattern", "minLength", "maxLength", "minimum", "maximum", "minItems",
               "maxItems", "enum", "format")


def constraints(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """A property's shape, comparable between the document and msgspec's schema (msgspec
    writes an enum without its type, `X | None` as anyOf, date-times without extra rules)."""
    schema = openapi.resolve(schema, root)
    if "anyOf" in schema:  # msgspec's `X | None`: the X
        (schema,) = (openapi.resolve(s, root) for s in schema["anyOf"] if s.get("type") != "null")
    found = {k: schema[k] for k in CONSTRAINTS if k in schema}
    if "enum" in found:
        found = {"enum": sorted(found["enum"])}
    if "items" in schema:
        found["items"] = constraints(schema["items"], root)
    return found


def test_request_constraints_are_the_ones_the_code_enforces() -> None:
    """Every property's type, pattern, lengths, bounds and enum equal the msgspec Struct's
    (msgspec writes its own JSON Schema): a client generated from the document sends nothing
    the code refuses for its shape, and nothing the code accepts is left undocumented."""
    schemas = DOCUMENT["components"]["schemas"]
    for name, body in (("ReviewRequest", ReviewBody), ("RemediationRequest", RemediationBody),
                       ("AttestationRequest", AttestationBody),
                       ("ApproverAttestationRequest", ApproverAttestationBody)):
        _, components = msgspec.json.schema_components([body])
        root = {"components": {"schemas": components}}
        for prop, schema in components[body.__name__]["properties"].items():
            documented = constraints(schemas[name]["properties"][prop], DOCUMENT)
            assert documented == constraints(schema, root), (name, prop)


def test_path_parameters_carry_the_codes_patterns() -> None:
    for item in DOCUMENT["paths"].values():
        for op in item.values():
            for param in op.get("parameters", []):
                if param["name"] == "runId":
                    assert param["schema"]["pattern"] == validation.SAFE_ID
                if param["name"] == "userId":
                    assert param["schema"]["pattern"] == odata.USER_PATTERN
                    assert param["schema"]["maxLength"] == odata.UPN_MAX


def test_correlation_header_documents_its_replacement(api: ApiClient) -> None:
    """The code replaces an unusable x-correlation-id rather than failing the request, so the
    document declares no pattern a generated client or a fuzzer would expect refused, and says
    what happens instead."""
    for item in DOCUMENT["paths"].values():
        for op in item.values():
            (header,) = [p for p in op["parameters"] if p["name"] == "x-correlation-id"]
            assert header["schema"] == {"type": "string"}
            assert "replaced by a fresh id" in header["description"]
    answer = api.call("GET", "/api/health", headers={"x-correlation-id": "short"})
    assert answer.status_code == 200 and answer.headers["x-correlation-id"] != "short"


def test_every_reference_resolves() -> None:
    text = openapi.document_bytes().decode()
    for ref in set(re.findall(r'"\$ref": "([^"]+)"', text)):
        assert openapi.resolve({"$ref": ref}, DOCUMENT), ref


# --- raw bytes --------------------------------------------------------------------------------
# schemathesis (test_api_schemathesis.py) fuzzes every operation from the document; it sends JSON
# only, so bytes that are not JSON, or not UTF-8, are fuzzed here.

FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@FUZZ
@example(raw=b'{"user":"\xff\xfe@contoso.com"}', kind="application/json")
@given(raw=st.binary(max_size=300), kind=st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/plain", "", "APPLICATION/JSON"]))
def test_fuzz_raw_bodies(api: ApiClient, raw: bytes, kind: str) -> None:
    headers = {"Content-Type": kind} if kind else {}
    for path in ("/api/reviews", "/api/remediations"):
        answer = api.call("POST", path, body=raw, headers=headers, token=api.issuer.mint())
        assert answer.status_code in (200, 202, 400, 409, 415), answer.json()
