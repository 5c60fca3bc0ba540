"""The two locks: the platform's function key on every non-anonymous route, and the bearer token
checked in-process on POST /api/remediations (tokens from local/identity.py's issuer)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest

from local.identity import LOGIC_APP_OID, TokenIssuer
from shared import config
from shared.api import ApiRequest, handle
from shared.api.auth import KeySet, authenticate, fetch_jwks
from shared.errors import Unauthenticated
from shared.services import Services
from tests.fixtures.api import ALICE, ApiClient, new_run_id


def body() -> dict[str, Any]:
    return {"runId": new_run_id(), "userId": ALICE, "actions": ["revokeSessions"],
            "approver": "lead@contoso.com", "approvalId": "ap-" + uuid.uuid4().hex[:8]}


def test_function_key_is_required_except_on_anonymous_routes(api: ApiClient) -> None:
    assert api.call("GET", "/api/health", key=False).status_code == 200
    assert api.call("GET", "/api/openapi.json", key=False).status_code == 200
    no_key = api.call("GET", f"/api/reviews/{new_run_id()}", key=False, check=False)
    wrong = api.call("GET", f"/api/reviews/{new_run_id()}", key=False, check=False,
                     headers={"x-functions-key": "guess"})
    as_query = api.call("GET", f"/api/reviews/{new_run_id()}?code={api.server.function_key}",
                        key=False)
    assert (no_key.status_code, wrong.status_code, as_query.status_code) == (401, 401, 404)


def test_no_token_is_401(api: ApiClient) -> None:
    answer = api.call("POST", "/api/remediations", json=body())
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["correlationId"] == answer.headers["x-correlation-id"]


def test_platform_principal_headers_are_not_trusted(api: ApiClient) -> None:
    forged = {"X-MS-CLIENT-PRINCIPAL-ID": LOGIC_APP_OID, "X-MS-CLIENT-PRINCIPAL-NAME": "logic",
              "X-MS-CLIENT-PRINCIPAL": "eyJhdXRoX3R5cCI6ImFhZCJ9"}
    assert api.call("POST", "/api/remediations", json=body(), headers=forged).status_code == 401


BAD_TOKENS = {
    "wrong audience": lambda i: i.mint(aud="api://someone-else"),
    "wrong issuer": lambda i: i.mint(iss="https://login.microsoftonline.com/evil/v2.0"),
    "another tenant": lambda i: i.mint(tid="11111111-1111-4111-8111-111111111111"),
    "expired": lambda i: i.mint(exp=1_600_000_000, iat=1_599_990_000, nbf=1_599_990_000),
    "not yet valid": lambda i: i.mint(nbf=4_000_000_000),
    "no exp": lambda i: i.mint(exp=None),
    "no oid": lambda i: i.mint(oid=None),
    "no tid": lambda i: i.mint(tid=None),
    "tid not a string": lambda i: i.mint(tid=[i.tenant_id]),
    "unpublished key": lambda i: i.mint_unpublished(),
    "forged key id": lambda i: i.mint_forged_kid(),
    "alg none": lambda i: i.mint_alg_none(),
    "HS256 keyed with the public key": lambda i: i.mint_hs256_with_public_key(),
    "not a JWT": lambda i: "not-a-token",
    "truncated": lambda i: i.mint().rsplit(".", 1)[0] + ".",
}


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_bad_token_is_401(api: ApiClient, kind: str) -> None:
    answer = api.remediate(body(), token=BAD_TOKENS[kind](api.issuer))
    assert answer.status_code == 401, answer.json()
    assert api.graph.calls == []


# Signed, of the allowed caller, but not an app token holding the API's app role (Microsoft's
# "Protected web API: verify scopes and app roles"; `idtyp` in the access token claims reference).
NOT_THE_APP_ROLE = {
    "no roles": lambda i: i.mint(roles=None),
    "roles as a string": lambda i: i.mint(roles="Remediations.Invoke"),
    "another role": lambda i: i.mint(roles=["Reports.Read"]),
    "role spelled in another case": lambda i: i.mint(roles=["remediations.invoke"]),
    "user token with scp": lambda i: i.mint(idtyp="user", scp="Remediations.Invoke",
                                            roles=None),
    "user token holding the role": lambda i: i.mint(idtyp="user", scp="user_impersonation"),
    "app idtyp with scp": lambda i: i.mint(scp="user_impersonation"),
    "no idtyp": lambda i: i.mint(idtyp=None),
}


@pytest.mark.parametrize("kind", sorted(NOT_THE_APP_ROLE))
def test_token_without_the_app_role_is_403(api: ApiClient, kind: str) -> None:
    answer = api.remediate(body(), token=NOT_THE_APP_ROLE[kind](api.issuer))
    assert answer.status_code == 403, answer.json()
    assert api.graph.calls == []


def test_valid_token_of_a_caller_not_allowed_is_403(api: ApiClient) -> None:
    stranger = "99999999-0000-4000-8000-000000000009"
    answer = api.remediate(body(), token=api.issuer.mint(oid=stranger))
    assert answer.status_code == 403
    assert "REMEDIATION_ALLOWED_CALLERS" in answer.json()["detail"]


def test_valid_token_of_the_allowed_caller_passes(api: ApiClient) -> None:
    answer = api.remediate(body())  # passes both locks, then meets the guard: no verdict
    assert answer.status_code == 409
    assert "has no verdict" in answer.json()["detail"]


def test_v1_issuer_form_is_accepted_when_no_issuer_is_configured(api: ApiClient) -> None:
    issuer = api.issuer
    env = {**issuer.settings(), "AUTH_ISSUER": "", "REMEDIATION_ALLOWED_CALLERS": LOGIC_APP_OID,
           "AzureWebJobsStorage": "UseDevelopmentStorage=true"}
    services = Services(config.load(env))
    for iss, status in ((f"https://sts.windows.net/{issuer.tenant_id}/", 200),
                        (f"https://login.microsoftonline.com/{issuer.tenant_id}/v2.0", 200),
                        (issuer.issuer, 401)):
        headers = {"authorization": f"Bearer {issuer.mint(iss=iss)}"}
        try:
            authenticate(services.settings, headers)
            got = 200
        except Unauthenticated:
            got = 401
        assert got == status, iss


@pytest.mark.parametrize("missing", ["AUTH_AUDIENCE", "REMEDIATION_ALLOWED_CALLERS",
                                     "AUTH_TENANT_ID"])
def test_missing_auth_settings_refuse_every_call(token_issuer: TokenIssuer, missing: str,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """A plain 503 to the caller; the log names the setting. AUTH_TENANT_ID is required even
    with AUTH_ISSUER and AUTH_JWKS_URL set: a token's `tid` is always checked."""
    env = {**token_issuer.settings(), "REMEDIATION_ALLOWED_CALLERS": LOGIC_APP_OID,
           "AzureWebJobsStorage": "UseDevelopmentStorage=true", missing: ""}
    services = Services(config.load(env))
    request = ApiRequest("POST", "http://127.0.0.1/api/remediations",
                         headers={"authorization": f"Bearer {token_issuer.mint()}",
                                  "content-type": "application/json"}, body=b"{}")
    with caplog.at_level(logging.INFO, logger="signin_review"):
        answer = handle(services, "create_remediation", request)
    assert answer.status == 503
    assert missing.encode() not in answer.body and b"AUTH" not in answer.body
    assert b"REMEDIATION_ALLOWED" not in answer.body
    assert any("auth.not_configured" in r.message and missing in r.message
               for r in caplog.records)


def test_key_set_refreshes_on_unknown_kid_at_most_once_a_minute(token_issuer: TokenIssuer
                                                                ) -> None:
    now = [1000.0]
    keys = KeySet(token_issuer.jwks_url, fetch=fetch_jwks, clock=lambda: now[0])
    before = token_issuer.jwks_requests
    assert keys.key(token_issuer.kid) is not None
    for n in range(20):
        assert keys.key(f"unknown-{n}") is None
    assert token_issuer.jwks_requests - before == 1
    now[0] += 61
    assert keys.key("unknown-again") is None
    assert token_issuer.jwks_requests - before == 2
    now[0] += 7 * 3600  # past the cache's lifetime: read again even for a known key
    assert keys.key(token_issuer.kid) is not None
    assert token_issuer.jwks_requests - before == 3


def test_unreachable_key_set_is_unavailable_not_a_pass(token_issuer: TokenIssuer) -> None:
    env = {**token_issuer.settings(), "REMEDIATION_ALLOWED_CALLERS": LOGIC_APP_OID,
           "AUTH_JWKS_URL": "http://127.0.0.1:9/nothing/keys",
           "AzureWebJobsStorage": "UseDevelopmentStorage=true"}
    request = ApiRequest("POST", "http://127.0.0.1/api/remediations",
                         headers={"authorization": f"Bearer {token_issuer.mint()}",
                                  "content-type": "application/json"}, body=b"{}")
    answer = handle(Services(config.load(env)), "create_remediation", request)
    assert answer.status == 503
    assert b"Traceback" not in answer.body and b"correlationId" in answer.body
