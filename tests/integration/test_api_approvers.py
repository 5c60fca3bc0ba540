"""GET /api/approvals/reports/{runId}: only a member of the approvers' group, signed in with
Entra ID through the platform's authentication, reads the report; anything else is refused.

X-MS-CLIENT-PRINCIPAL is base64 JSON with `auth_typ` and `claims` (typ/val), groups among them
when the registration asks for the group claim ("Work with user identities in App Service
authentication", learn.microsoft.com/azure/app-service/configure-authentication-user-identities).
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from msgspec.structs import replace

from shared.api import ApiRequest, handle
from shared.api.messages import ApiResponse
from shared.services import Services
from tests.fixtures.api import ApiClient, new_run_id, seed_run

APPROVERS = "6a2e0000-0000-4000-8000-00000000a9a9"
OTHERS = "0e1e0000-0000-4000-8000-0000000000e1"
APPROVER_OID = "5f0c7a52-0000-4000-8000-00000000a001"
OID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
NAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
HTML = b"<!doctype html><title>r</title><p>report</p>"


def principal(*, auth_typ: str = "aad", oid: str | None = APPROVER_OID,
              groups: tuple[str, ...] = (APPROVERS,), extra: tuple[tuple[str, Any], ...] = ()
              ) -> dict[str, Any]:
    claims: list[dict[str, Any]] = [{"typ": "aud", "val": "report-client-id"},
                                    {"typ": NAME, "val": "approver@contoso.com"}]
    if oid is not None:
        claims.append({"typ": OID, "val": oid})
    claims += [{"typ": "groups", "val": g} for g in groups]
    claims += [{"typ": t, "val": v} for t, v in extra]
    return {"auth_typ": auth_typ, "claims": claims, "name_typ": NAME,
            "role_typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"}


def encoded(document: Any) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def signed_in(document: dict[str, Any] | None = None, **headers: str) -> dict[str, str]:
    """The headers the platform sets for a signed-in approver (lower-case, as routes see them)."""
    found = {"x-ms-client-principal": encoded(document or principal()),
             "x-ms-client-principal-id": APPROVER_OID,
             "x-ms-client-principal-name": "approver@contoso.com",
             "x-ms-client-principal-idp": "aad"}
    found.update({k.replace("_", "-"): v for k, v in headers.items()})
    return found


def platform(api: ApiClient, **changes: Any) -> Services:
    """The API's services as in Azure: the platform's authentication on, the group set."""
    azure = {"platform_auth_enabled": True, "approver_group_id": APPROVERS, **changes}
    settings = replace(api.services.settings, **azure)
    return Services(settings, store_prefix=api.services.store_prefix)


def get(services: Services, run_id: str, headers: dict[str, str], *,
        url: str | None = None) -> ApiResponse:
    request = ApiRequest("GET", url or f"http://127.0.0.1/api/approvals/reports/{run_id}",
                         route_params={"runId": run_id}, query={}, headers=headers, body=b"")
    return handle(services, "get_approver_report", request)


@pytest.fixture
def run_id(api: ApiClient) -> str:
    found = new_run_id()
    seed_run(api.services, found, report_html=HTML)
    return found


def test_member_of_the_approvers_group_reads_the_report_and_is_logged(
    api: ApiClient, run_id: str, caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="signin_review"):
        answer = get(platform(api), run_id, signed_in())
    assert answer.status == 200 and answer.body == HTML
    assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
    opened = [json.loads(r.message) for r in caplog.records if "report.opened" in r.message]
    assert [(o["by"], o["byName"], o["runId"]) for o in opened] == [
        (APPROVER_OID, "approver@contoso.com", run_id)]
    assert get(platform(api), new_run_id(), signed_in()).status == 404


def test_group_claim_in_the_long_form_counts(api: ApiClient, run_id: str) -> None:
    long_form = principal(groups=(), extra=(
        ("http://schemas.microsoft.com/ws/2008/06/identity/claims/groups", APPROVERS),))
    assert get(platform(api), run_id, signed_in(long_form)).status == 200


REFUSED: dict[str, tuple[dict[str, str], int]] = {
    "no principal": ({}, 401),
    "principal id header only (forged)": (
        {"x-ms-client-principal-id": APPROVER_OID,
         "x-ms-client-principal-name": "approver@contoso.com"}, 401),
    "principal not base64": (signed_in(x_ms_client_principal="%%%not-base64%%%"), 401),
    "principal base64 of text": (
        signed_in(x_ms_client_principal=base64.b64encode(b"approver").decode()), 401),
    "principal a JSON list": (signed_in(x_ms_client_principal=encoded([principal()])), 401),
    "principal without claims": (
        signed_in(x_ms_client_principal=encoded({"auth_typ": "aad"})), 401),
    "another identity provider": (signed_in(principal(auth_typ="github")), 401),
    "another identity provider header": (signed_in(x_ms_client_principal_idp="google"), 401),
    "no object id": (signed_in(principal(oid=None)), 401),
    "two object ids": (signed_in(principal(extra=((OID, OTHERS),))), 401),
    "id header disagrees with the claims": (
        signed_in(x_ms_client_principal_id=OTHERS), 401),
    "not in the group": (signed_in(principal(groups=(OTHERS,))), 403),
    "no groups": (signed_in(principal(groups=())), 403),
    "group id as another claim": (signed_in(principal(groups=(), extra=(
        ("roles", APPROVERS), ("name", APPROVERS)))), 403),
    "group id not a string": (signed_in(principal(groups=(), extra=(
        ("groups", [APPROVERS]),))), 403),
    "group id a prefix": (signed_in(principal(groups=(APPROVERS[:-1],))), 403),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_anything_but_a_signed_in_approver_is_refused(api: ApiClient, run_id: str,
                                                      case: str) -> None:
    headers, status = REFUSED[case]
    answer = get(platform(api), run_id, headers)
    assert answer.status == status, answer.body
    assert b"report</p>" not in answer.body


def test_platform_authentication_off_serves_nothing_even_to_an_approver(
    api: ApiClient, run_id: str,
) -> None:
    """Where the platform's authentication is off, anyone can send these headers."""
    assert get(platform(api, platform_auth_enabled=False), run_id, signed_in()).status == 401
    over_http = api.call("GET", f"/api/approvals/reports/{run_id}", key=False,
                         headers=signed_in())  # the local server has no platform sign-in
    assert over_http.status_code == 401 and b"report</p>" not in over_http.content


def test_missing_group_setting_is_a_plain_503(api: ApiClient, run_id: str,
                                              caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="signin_review"):
        answer = get(platform(api, approver_group_id=None), run_id, signed_in())
    assert answer.status == 503 and b"APPROVER" not in answer.body
    assert any("approvals.not_configured" in r.message and "APPROVER_GROUP_ID" in r.message
               for r in caplog.records)


# Spellings of the approvals path the platform might count as excluded (tests/infra's matcher
# says it must not, but how App Service normalises a path is not documented): whatever path
# reached the route, no valid principal means no report.
SPELLINGS = [
    "/api/reviews/../approvals/reports/{run}",
    "/api/reviews/%2e%2e/approvals/reports/{run}",
    "/api/reviews/..%2Fapprovals/reports/{run}",
    "/api/reviews/./../approvals/reports/{run}",
    "/api//approvals/reports/{run}",
    "/API/Approvals/Reports/{run}",
    "/api/approvals/reports/{run}/",
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_of_the_path_needs_a_signed_in_approver(
    api: ApiClient, run_id: str, spelling: str,
) -> None:
    url = "http://127.0.0.1" + spelling.format(run=run_id)
    forged = {"x-ms-client-principal-id": APPROVER_OID}
    assert get(platform(api), run_id, forged, url=url).status == 401
    assert get(platform(api), run_id, {}, url=url).status == 401
    assert get(platform(api), run_id, signed_in(principal(groups=(OTHERS,))),
               url=url).status == 403
