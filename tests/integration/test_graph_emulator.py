"""The Graph emulator, driven by the real msgraph-sdk client (and raw HTTP where the SDK would
hide the status): paging, filters, beta vs v1.0, throttling, licences, faults, remediation, auth.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.audit_logs.sign_ins.sign_ins_request_builder import SignInsRequestBuilder
from msgraph.generated.identity_protection.risk_detections.risk_detections_request_builder import (
    RiskDetectionsRequestBuilder,
)
from msgraph.generated.identity_protection.risky_users.confirm_compromised.confirm_compromised_post_request_body import (  # noqa: E501
    ConfirmCompromisedPostRequestBody,
)
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.user import User
from msgraph.generated.role_management.directory.role_assignments.role_assignments_request_builder import (  # noqa: E501
    RoleAssignmentsRequestBuilder,
)
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

from local.graph_emulator import GraphEmulator
from tests.fixtures.graph import sdk_client

REPO = Path(__file__).resolve().parents[2]
START = datetime(2025, 3, 7, 18, 0, tzinfo=UTC)  # a Friday evening
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
OBRIEN = {"id": "00000000-0000-0000-0000-00000000b001", "userPrincipalName": "o'brien@contoso.com",
          "displayName": "Pat O'Brien", "accountEnabled": True}
ANA = {"id": "00000000-0000-0000-0000-00000000a002", "userPrincipalName": "ana@contoso.com",
       "displayName": "Ana Silva", "accountEnabled": True}
ADMIN = {"id": "00000000-0000-0000-0000-00000000c003", "userPrincipalName": "admin@contoso.com",
         "displayName": "Tenant Admin", "accountEnabled": True}
USERS = [OBRIEN, ANA, ADMIN]
BETA_ONLY = ("autonomousSystemNumber", "userAgent", "signInEventTypes", "authenticationDetails",
             "sessionId")


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_sign_in(i: int) -> dict[str, Any]:
    user = USERS[i % 3]
    interactive = i % 4 != 3
    return {
        "id": f"si-{i:04d}", "createdDateTime": iso(START + timedelta(minutes=i * 7 % 600)),
        "userId": user["id"], "userPrincipalName": user["userPrincipalName"],
        "userDisplayName": user["displayName"], "appDisplayName": "Office 365",
        "ipAddress": f"203.0.113.{i % 10}", "isInteractive": interactive,
        "status": {"errorCode": 50126 if i % 5 == 0 else 0},
        "location": {"city": "Lisbon", "countryOrRegion": "PT"},
        "signInEventTypes": ["interactiveUser" if interactive else "nonInteractiveUser"],
        "autonomousSystemNumber": 3243, "userAgent": "Mozilla/5.0", "sessionId": f"sess-{i}",
        "authenticationDetails": [{"authenticationMethod": "Password", "succeeded": True}],
    }


SIGN_INS = [make_sign_in(i) for i in range(120)] + [
    # two sign-ins in the same second: order falls back to id, descending
    {**make_sign_in(0), "id": "si-tie-a", "createdDateTime": iso(START + timedelta(hours=11))},
    {**make_sign_in(0), "id": "si-tie-b", "createdDateTime": iso(START + timedelta(hours=11))},
]
RISK_DETECTIONS = [
    {"id": f"rd-{i}", "userId": USERS[i % 3]["id"], "userPrincipalName":
     USERS[i % 3]["userPrincipalName"], "riskEventType": "unfamiliarFeatures", "riskLevel": "high",
     "riskState": "atRisk", "activityDateTime": iso(START + timedelta(hours=i)),
     "detectedDateTime": iso(START + timedelta(hours=i, minutes=5))}
    for i in range(9)
]
RISKY_USERS = [{"id": ANA["id"], "userPrincipalName": ANA["userPrincipalName"],
                "riskLevel": "medium", "riskState": "atRisk"}]
ROLE_ASSIGNMENTS = [
    {"id": "ra-1", "principalId": ADMIN["id"], "roleDefinitionId": GLOBAL_ADMIN,
     "directoryScopeId": "/"},
    {"id": "ra-2", "principalId": ANA["id"], "directoryScopeId": "/",
     "roleDefinitionId": "fe930be7-5e62-47db-91af-98c3a49a38b1"},
]


@pytest.fixture
def tenant(graph: GraphEmulator) -> GraphEmulator:
    graph.load(sign_ins=SIGN_INS, users=USERS, risky_users=RISKY_USERS,
               risk_detections=RISK_DETECTIONS, role_assignments=ROLE_ASSIGNMENTS)
    return graph


def newest_first(rows: list[dict[str, Any]]) -> list[str]:
    ordered = sorted(rows, key=lambda r: (r["createdDateTime"], r["id"]), reverse=True)
    return [r["id"] for r in ordered]


def interactive(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["isInteractive"]]


async def sdk_sign_ins(graph: GraphEmulator, *, filter: str | None = None, top: int | None = None,
                       version: str = "v1.0") -> tuple[list[Any], int]:
    """Every page through the SDK's typed models; the rows and the number of pages."""
    async with sdk_client(graph.base_url, graph.token, version=version) as client:
        params = SignInsRequestBuilder.SignInsRequestBuilderGetQueryParameters(filter=filter,
                                                                               top=top)
        page = await client.audit_logs.sign_ins.get(
            request_configuration=RequestConfiguration(query_parameters=params))
        rows, pages = list(page.value), 1
        while page.odata_next_link:
            page = await client.audit_logs.sign_ins.with_url(page.odata_next_link).get()
            rows += page.value
            pages += 1
    return rows, pages


def one_row() -> RequestConfiguration[Any]:
    """A sign-ins request for one row: the SDK's typed models parse slowly."""
    params = SignInsRequestBuilder.SignInsRequestBuilderGetQueryParameters(top=1)
    return RequestConfiguration(query_parameters=params)


# Client timeouts here are hang guards, not expectations of speed (httpx's default is 5 s).
HANG_GUARD_S = 60.0


def raw_get(graph: GraphEmulator, path: str, params: dict[str, str] | None = None,
            token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or graph.token}"}
    with httpx.Client(trust_env=False, timeout=HANG_GUARD_S) as http:
        return http.get(f"{graph.base_url}{path}", params=params, headers=headers)


# --- paging and order --------------------------------------------------------------------------

def test_pages_cover_every_interactive_sign_in_once_newest_first(tenant: GraphEmulator) -> None:
    rows, pages = asyncio.run(sdk_sign_ins(tenant, top=17))
    ids = [r.id for r in rows]
    expected = newest_first(interactive(SIGN_INS))
    assert ids == expected
    assert len(set(ids)) == len(ids)
    assert pages == -(-len(expected) // 17)
    assert ids.index("si-tie-b") + 1 == ids.index("si-tie-a")


def test_next_link_alone_carries_the_filter_and_position(tenant: GraphEmulator) -> None:
    first = raw_get(tenant, "/v1.0/auditLogs/signIns",
                    {"$filter": f"userId eq '{ANA['id']}'", "$top": "5"}).json()
    link = first["@odata.nextLink"]
    assert "$skiptoken=" in link and "filter" not in link
    second = httpx.get(link, headers={"Authorization": f"Bearer {tenant.token}"},
                       timeout=HANG_GUARD_S).json()
    assert {r["userId"] for r in second["value"]} == {ANA["id"]}
    ana = newest_first(interactive([r for r in SIGN_INS if r["userId"] == ANA["id"]]))
    assert [r["id"] for r in first["value"] + second["value"]] == ana[:10]
    assert first["@odata.context"].endswith("$metadata#auditLogs/signIns")


def test_select_and_count_options(tenant: GraphEmulator) -> None:
    picked = raw_get(tenant, "/v1.0/auditLogs/signIns", {"$top": "2", "$select": "id,userId"})
    assert [set(r) for r in picked.json()["value"]] == [{"id", "userId"}] * 2
    beta_field = raw_get(tenant, "/v1.0/auditLogs/signIns", {"$select": "id,userAgent"})
    assert beta_field.status_code == 400 and "userAgent" in beta_field.json()["error"]["message"]
    counted = raw_get(tenant, "/v1.0/identityProtection/riskDetections",
                      {"$count": "true", "$top": "2"}).json()
    assert counted["@odata.count"] == len(RISK_DETECTIONS) and len(counted["value"]) == 2
    assert raw_get(tenant, "/v1.0/auditLogs/signIns", {"$orderby": "id"}).status_code == 400


def test_page_size_limits(tenant: GraphEmulator) -> None:
    assert raw_get(tenant, "/v1.0/auditLogs/signIns", {"$top": "1001"}).status_code == 400
    assert raw_get(tenant, "/v1.0/auditLogs/signIns", {"$top": "0"}).status_code == 400
    full = raw_get(tenant, "/v1.0/auditLogs/signIns", {"$top": "1000"}).json()
    assert len(full["value"]) == len(interactive(SIGN_INS)) and "@odata.nextLink" not in full


def test_a_skip_token_from_older_data_is_refused(tenant: GraphEmulator) -> None:
    link = raw_get(tenant, "/v1.0/auditLogs/signIns", {"$top": "3"}).json()["@odata.nextLink"]
    tenant.load(sign_ins=SIGN_INS, users=USERS)
    stale = httpx.get(link, headers={"Authorization": f"Bearer {tenant.token}"},
                      timeout=HANG_GUARD_S)
    assert stale.status_code == 400
    garbled = raw_get(tenant, "/v1.0/auditLogs/signIns", {"$skiptoken": "not-a-token"})
    assert garbled.status_code == 400


# --- filters -----------------------------------------------------------------------------------

def test_time_window_bounds(tenant: GraphEmulator) -> None:
    # both bounds fall on interactive sign-ins (si-0010, si-0030), so inclusivity shows
    lo, hi = START + timedelta(minutes=70), START + timedelta(minutes=210)
    inclusive = f"createdDateTime ge {iso(lo)} and createdDateTime le {iso(hi)}"
    rows, _ = asyncio.run(sdk_sign_ins(tenant, filter=inclusive, top=10))
    expected = [r for r in interactive(SIGN_INS) if iso(lo) <= r["createdDateTime"] <= iso(hi)]
    assert [r.id for r in rows] == newest_first(expected)
    assert {"si-0010", "si-0030"} <= {r["id"] for r in expected}
    exclusive = f"createdDateTime gt {iso(lo)} and createdDateTime lt {iso(hi)}"
    rows, _ = asyncio.run(sdk_sign_ins(tenant, filter=exclusive))
    assert [r.id for r in rows] == newest_first(
        [r for r in expected if iso(lo) < r["createdDateTime"] < iso(hi)])


@pytest.mark.parametrize(("odata", "wanted"), [
    (f"userId eq '{ANA['id']}'", lambda r: r["userId"] == ANA["id"]),
    ("userPrincipalName eq 'o''brien@contoso.com'",
     lambda r: r["userPrincipalName"] == "o'brien@contoso.com"),
    ("userPrincipalName eq 'O''Brien@Contoso.com'",
     lambda r: r["userPrincipalName"] == "o'brien@contoso.com"),
    ("status/errorCode eq 50126", lambda r: r["status"]["errorCode"] == 50126),
    ("ipAddress eq '203.0.113.4'", lambda r: r["ipAddress"] == "203.0.113.4"),
    (f"userId eq '{ADMIN['id']}' and status/errorCode eq 0 and "
     f"createdDateTime ge {iso(START + timedelta(hours=2))}",
     lambda r: r["userId"] == ADMIN["id"] and r["status"]["errorCode"] == 0
     and r["createdDateTime"] >= iso(START + timedelta(hours=2))),
])
def test_each_filter_selects_exactly_its_rows(tenant: GraphEmulator, odata: str,
                                              wanted: Any) -> None:
    rows, _ = asyncio.run(sdk_sign_ins(tenant, filter=odata, top=7))
    expected = newest_first([r for r in interactive(SIGN_INS) if wanted(r)])
    assert expected and [r.id for r in rows] == expected


def test_a_quote_in_a_value_cannot_widen_the_query(tenant: GraphEmulator) -> None:
    hostile = "x' or 1 eq 1"
    naive = f"userPrincipalName eq '{hostile}'"
    with pytest.raises(ODataError) as refused:
        asyncio.run(sdk_sign_ins(tenant, filter=naive))
    assert refused.value.response_status_code == 400
    escaped = "userPrincipalName eq '{}'".format(hostile.replace("'", "''"))
    rows, _ = asyncio.run(sdk_sign_ins(tenant, filter=escaped))
    assert rows == []
    unquoted = raw_get(tenant, "/v1.0/auditLogs/signIns",
                       {"$filter": "userPrincipalName eq 'x' or 1 eq 1"})
    assert unquoted.status_code == 400


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(value=st.one_of(
    st.sampled_from([u["userPrincipalName"] for u in USERS] + ["x' or 1 eq 1", "' or ''='"]),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30),
))
def test_any_escaped_value_matches_only_itself(tenant: GraphEmulator, value: str) -> None:
    escaped = value.replace("'", "''")
    answer = raw_get(tenant, "/v1.0/auditLogs/signIns",
                     {"$filter": f"userPrincipalName eq '{escaped}'"})
    assert answer.status_code == 200
    expected = [r for r in interactive(SIGN_INS)
                if r["userPrincipalName"].lower() == value.lower()]
    assert [r["id"] for r in answer.json()["value"]] == newest_first(expected)


@pytest.mark.parametrize(("odata", "code", "named"), [
    ("riskyBusiness eq 'x'", "Request_UnsupportedQuery", "riskyBusiness"),
    ("userId eq 'abc", "BadRequest", "unterminated"),
    ("userId eq abc", "BadRequest", "literal"),
    ("status/errorCode eq '50126'", "BadRequest", "status/errorCode"),
    ("createdDateTime ge '2025-03-07'", "BadRequest", "createdDateTime"),
    ("createdDateTime ge 2025-13-07T00:00:00Z", "BadRequest", "datetime"),
    ("userId gt 'a'", "Request_UnsupportedQuery", "gt"),
    ("not userId eq 'a'", "Request_UnsupportedQuery", "not"),
    ("userId eq 'a' xor userId eq 'b'", "BadRequest", "xor"),
    ("(userId eq 'a'", "BadRequest", "')'"),
])
def test_unreadable_filters_get_graphs_400(tenant: GraphEmulator, odata: str, code: str,
                                           named: str) -> None:
    answer = raw_get(tenant, "/v1.0/auditLogs/signIns", {"$filter": odata})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == code and named in error["message"]
    assert error["innerError"]["request-id"]


# --- beta and v1.0 ----------------------------------------------------------------------------

def test_v1_drops_beta_fields_and_beta_keeps_them(tenant: GraphEmulator) -> None:
    v1 = raw_get(tenant, "/v1.0/auditLogs/signIns", {"$top": "5"}).json()["value"]
    beta = raw_get(tenant, "/beta/auditLogs/signIns", {"$top": "5"}).json()["value"]
    assert [r["id"] for r in v1] == [r["id"] for r in beta]
    assert all(name not in row for row in v1 for name in BETA_ONLY)
    assert all(name in row for row in beta for name in BETA_ONLY)
    rows, _ = asyncio.run(sdk_sign_ins(tenant, top=5, version="beta"))
    assert rows[0].additional_data["autonomousSystemNumber"] == 3243


def test_event_types_filter_on_beta_only(tenant: GraphEmulator) -> None:
    non_interactive = "signInEventTypes/any(t: t eq 'nonInteractiveUser')"
    rows, _ = asyncio.run(sdk_sign_ins(tenant, filter=non_interactive, version="beta"))
    assert [r.id for r in rows] == newest_first([r for r in SIGN_INS if not r["isInteractive"]])
    both = "signInEventTypes/any(t: t eq 'interactiveUser' or t eq 'nonInteractiveUser')"
    rows, _ = asyncio.run(sdk_sign_ins(tenant, filter=f"{both} and userId eq '{ANA['id']}'",
                                       version="beta"))
    assert [r.id for r in rows] == newest_first([r for r in SIGN_INS if r["userId"] == ANA["id"]])
    on_v1 = raw_get(tenant, "/v1.0/auditLogs/signIns", {"$filter": non_interactive})
    assert on_v1.status_code == 400


# --- throttling, licences, permissions, faults ------------------------------------------------

def test_sign_in_throttle_answers_429_with_retry_after(tenant: GraphEmulator) -> None:
    # The wall-clock throttle: a period no machine outlasts (30 s was outlasted on busy cores).
    tenant.configure(signin_rate=(2, 3600))

    async def three_requests() -> ODataError:
        async with sdk_client(tenant.base_url, tenant.token) as client:
            await client.audit_logs.sign_ins.get(request_configuration=one_row())
            await client.audit_logs.sign_ins.get(request_configuration=one_row())
            try:
                await client.audit_logs.sign_ins.get(request_configuration=one_row())
            except ODataError as exc:
                return exc
        raise AssertionError("the third request in the period was not throttled")

    throttled = asyncio.run(three_requests())
    assert throttled.response_status_code == 429
    assert throttled.error is not None and throttled.error.code == "TooManyRequests"
    headers = {k.lower(): v for k, v in (throttled.response_headers or {}).items()}
    retry_after = headers["retry-after"]
    retry_after = retry_after[0] if isinstance(retry_after, list) else retry_after
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 3600
    assert raw_get(tenant, "/v1.0/identityProtection/riskyUsers").status_code == 200
    assert [c["status"] for c in tenant.calls] == [200, 200, 429, 200]


def test_a_held_query_gets_no_answer_until_released(tenant: GraphEmulator) -> None:
    """hold_path: a worker can be killed while its sign-in query waits, as Graph leaves long
    filtered queries unanswered; other endpoints answer meanwhile."""
    from concurrent.futures import ThreadPoolExecutor

    tenant.configure(hold_path="/auditLogs/signIns")
    held = tenant.faults.held
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(raw_get, tenant, "/v1.0/auditLogs/signIns")
        assert held.wait(HANG_GUARD_S)
        assert not waiting.done()
        assert raw_get(tenant, "/v1.0/identityProtection/riskyUsers").status_code == 200
        tenant.release_held()
        assert waiting.result(timeout=HANG_GUARD_S).status_code == 200
    assert raw_get(tenant, "/v1.0/auditLogs/signIns").status_code == 200  # held no more


def test_identity_protection_throttle_has_no_retry_after(tenant: GraphEmulator) -> None:
    tenant.configure(risk_rate=(1, 3600))
    assert raw_get(tenant, "/v1.0/identityProtection/riskDetections").status_code == 200
    throttled = raw_get(tenant, "/v1.0/identityProtection/riskyUsers")
    assert throttled.status_code == 429
    assert "retry-after" not in throttled.headers
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    assert raw_get(tenant, "/v1.0/auditLogs/signIns", {"$top": "1"}).status_code == 200


def test_chosen_requests_answer_429_whatever_the_pace(tenant: GraphEmulator) -> None:
    tenant.configure(throttle_at={2: "2.128", 3: None, 5: "7"}, throttle_path="/auditLogs/signIns")
    assert raw_get(tenant, f"/v1.0/users/{ANA['id']}").status_code == 200  # not counted
    answers = [raw_get(tenant, "/v1.0/auditLogs/signIns", {"$top": "1"}) for _ in range(6)]
    assert [a.status_code for a in answers] == [200, 429, 429, 200, 429, 200]
    assert [a.headers.get("retry-after") for a in answers] == [None, "2.128", None, None, "7",
                                                               None]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 429} == {
        "TooManyRequests"}


def test_throttle_after_n_requests_uses_each_familys_retry_after(tenant: GraphEmulator) -> None:
    tenant.configure(throttle_at=range(3, 5))  # after 2 requests of any kind, the next 2
    paths = ["/v1.0/auditLogs/signIns", "/v1.0/auditLogs/signIns", "/v1.0/auditLogs/signIns",
             "/v1.0/identityProtection/riskyUsers", "/v1.0/identityProtection/riskyUsers"]
    answers = [raw_get(tenant, path) for path in paths]
    assert [a.status_code for a in answers] == [200, 200, 429, 429, 200]
    assert answers[2].headers["retry-after"] == "1"   # signIns: whole seconds
    assert "retry-after" not in answers[3].headers    # Identity Protection: none


def test_throttle_counts_from_when_it_is_set(tenant: GraphEmulator) -> None:
    for _ in range(3):
        assert raw_get(tenant, "/v1.0/auditLogs/signIns").status_code == 200
    tenant.configure(throttle_at=[1])
    assert raw_get(tenant, "/v1.0/auditLogs/signIns").status_code == 429
    assert raw_get(tenant, "/v1.0/auditLogs/signIns").status_code == 200
    tenant.reset()
    tenant.configure(throttle_at=[2], fail_next=[503])  # throttle_at is checked first
    assert [raw_get(tenant, "/v1.0/auditLogs/signIns").status_code
            for _ in range(3)] == [503, 429, 200]


def test_throttle_switch_over_http_and_its_errors(tenant: GraphEmulator) -> None:
    admin = httpx.post(f"{tenant.base_url}/_emulator/configure", timeout=HANG_GUARD_S,
                       json={"throttle_at": {"1": "0.5"}, "throttle_path": "/beta"})
    assert admin.status_code == 204
    assert raw_get(tenant, "/v1.0/auditLogs/signIns").status_code == 200
    refused = raw_get(tenant, "/beta/auditLogs/signIns")
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "0.5")
    for bad in ([0], ["two"], {"x": "1"}):
        with pytest.raises(ValueError):
            tenant.configure(throttle_at=bad)


def test_tenant_without_premium_gets_403(tenant: GraphEmulator) -> None:
    tenant.configure(premium=False)
    with pytest.raises(ODataError) as refused:
        asyncio.run(sdk_sign_ins(tenant))
    assert refused.value.response_status_code == 403
    assert refused.value.error.code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
    risk = raw_get(tenant, "/v1.0/identityProtection/riskDetections")
    assert risk.status_code == 403 and risk.json()["error"]["code"]
    assert raw_get(tenant, f"/v1.0/users/{ANA['id']}").status_code == 200


def test_missing_permission_gets_authorization_denied(tenant: GraphEmulator) -> None:
    tenant.configure(forbidden_paths=["/roleManagement"])
    denied = raw_get(tenant, "/v1.0/roleManagement/directory/roleAssignments")
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "Authorization_RequestDenied"
    assert raw_get(tenant, "/beta/auditLogs/signIns", {"$top": "1"}).status_code == 200


def test_injected_server_errors_come_in_order_then_service_resumes(tenant: GraphEmulator) -> None:
    tenant.configure(fail_next=[503, 500], fail_path="/auditLogs/signIns")
    assert raw_get(tenant, f"/v1.0/users/{ANA['id']}").status_code == 200
    statuses = [raw_get(tenant, "/v1.0/auditLogs/signIns", {"$top": "1"}).status_code
                for _ in range(3)]
    assert statuses == [503, 500, 200]


def test_sdk_retry_handler_rides_over_one_503(tenant: GraphEmulator) -> None:
    tenant.configure(fail_next=[503])

    async def with_retry() -> list[Any]:
        async with sdk_client(tenant.base_url, tenant.token, retries=2) as client:
            page = await client.audit_logs.sign_ins.get(request_configuration=one_row())
            return list(page.value)

    assert len(asyncio.run(with_retry())) == 1
    assert [c["status"] for c in tenant.calls] == [503, 200]


def test_dropped_connection_then_normal_service(tenant: GraphEmulator) -> None:
    tenant.configure(drop_next=1)

    async def twice() -> tuple[BaseException | None, int]:
        async with sdk_client(tenant.base_url, tenant.token) as client:
            try:
                await client.audit_logs.sign_ins.get(request_configuration=one_row())
                failure = None
            except httpx.TransportError as exc:
                failure = exc
            page = await client.audit_logs.sign_ins.get(request_configuration=one_row())
            return failure, len(page.value)

    failure, rows = asyncio.run(twice())
    assert isinstance(failure, httpx.RemoteProtocolError)
    assert rows == 1
    assert [c["status"] for c in tenant.calls] == [None, 200]


def test_slow_answers_still_answer(tenant: GraphEmulator) -> None:
    tenant.configure(delay_s=0.05)
    assert raw_get(tenant, "/v1.0/auditLogs/signIns", {"$top": "2"}).status_code == 200


def test_unknown_switch_is_a_type_error(graph: GraphEmulator) -> None:
    with pytest.raises(TypeError):
        graph.configure(throttle_everything=True)
    with pytest.raises(ValueError):
        graph.configure(signin_rate=(0, 10))


# --- authentication ----------------------------------------------------------------------------

def test_requests_without_the_token_get_401(tenant: GraphEmulator) -> None:
    async def with_default_hosts() -> None:
        # The SDK's default allowed hosts are Microsoft's: no token goes to 127.0.0.1.
        async with sdk_client(tenant.base_url, tenant.token, allowed_hosts=[
                "graph.microsoft.com"]) as client:
            await client.audit_logs.sign_ins.get()

    with pytest.raises(ODataError) as refused:
        asyncio.run(with_default_hosts())
    assert refused.value.response_status_code == 401
    assert refused.value.error.code == "InvalidAuthenticationToken"
    wrong = raw_get(tenant, "/v1.0/auditLogs/signIns", token="someone-elses-token")
    assert wrong.status_code == 401 and "www-authenticate" in wrong.headers


# --- Identity Protection, roles, users ---------------------------------------------------------

def test_risk_detections_filter_and_paging(tenant: GraphEmulator) -> None:
    since = iso(START + timedelta(hours=2))

    async def detections() -> list[Any]:
        async with sdk_client(tenant.base_url, tenant.token) as client:
            params = RiskDetectionsRequestBuilder.RiskDetectionsRequestBuilderGetQueryParameters(
                filter=f"activityDateTime ge {since} and userId eq '{OBRIEN['id']}'", top=1)
            page = await client.identity_protection.risk_detections.get(
                request_configuration=RequestConfiguration(query_parameters=params))
            rows = list(page.value)
            while page.odata_next_link:
                page = await client.identity_protection.risk_detections.with_url(
                    page.odata_next_link).get()
                rows += page.value
            return rows

    rows = asyncio.run(detections())
    expected = [d["id"] for d in reversed(RISK_DETECTIONS)
                if d["userId"] == OBRIEN["id"] and d["activityDateTime"] >= since]
    assert [r.id for r in rows] == expected and len(expected) == 2


def test_role_assignments_with_expanded_principal(tenant: GraphEmulator) -> None:
    async def admins() -> list[Any]:
        async with sdk_client(tenant.base_url, tenant.token) as client:
            params = RoleAssignmentsRequestBuilder.RoleAssignmentsRequestBuilderGetQueryParameters(
                filter=f"roleDefinitionId eq '{GLOBAL_ADMIN}'", expand=["principal"])
            page = await client.role_management.directory.role_assignments.get(
                request_configuration=RequestConfiguration(query_parameters=params))
            return list(page.value)

    (assignment,) = asyncio.run(admins())
    assert assignment.principal_id == ADMIN["id"]
    assert assignment.principal.odata_type == "#microsoft.graph.user"
    assert assignment.principal.user_principal_name == ADMIN["userPrincipalName"]


def test_remediation_calls_change_the_tenant_and_are_recorded(tenant: GraphEmulator) -> None:
    async def remediate() -> tuple[bool | None, Any]:
        async with sdk_client(tenant.base_url, tenant.token) as client:
            user = client.users.by_user_id(OBRIEN["userPrincipalName"])
            revoked = await user.revoke_sign_in_sessions.post()
            await user.patch(User(account_enabled=False))
            await user.patch(User(password_profile=PasswordProfile(
                force_change_password_next_sign_in=True)))
            await client.identity_protection.risky_users.confirm_compromised.post(
                ConfirmCompromisedPostRequestBody(user_ids=[OBRIEN["id"]]))
            params = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
                select=["id", "accountEnabled", "passwordProfile"])
            after = await user.get(request_configuration=RequestConfiguration(
                query_parameters=params))
            return (revoked.value if revoked else None), after

    revoked, after = asyncio.run(remediate())
    assert revoked is True
    assert after.account_enabled is False
    assert after.password_profile.force_change_password_next_sign_in is True
    calls = tenant.remediation_calls
    assert [(c["method"], c["path"].rsplit("/", 1)[-1]) for c in calls] == [
        ("POST", "revokeSignInSessions"), ("PATCH", "o'brien@contoso.com"),
        ("PATCH", "o'brien@contoso.com"), ("POST", "confirmCompromised")]
    assert {c["userId"] for c in calls} == {OBRIEN["id"]}
    assert calls[1]["body"]["accountEnabled"] is False
    assert calls[3]["body"] == {"userIds": [OBRIEN["id"]]}
    risky = raw_get(tenant, "/v1.0/identityProtection/riskyUsers",
                    {"$filter": f"id eq '{OBRIEN['id']}'"}).json()["value"]
    assert risky[0]["riskState"] == "confirmedCompromised" and risky[0]["riskLevel"] == "high"


def test_unknown_user_is_404(tenant: GraphEmulator) -> None:
    missing = raw_get(tenant, "/v1.0/users/nobody@contoso.com")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "Request_ResourceNotFound"
    with httpx.Client(trust_env=False, timeout=HANG_GUARD_S) as http:
        revoke = http.post(f"{tenant.base_url}/v1.0/users/nobody/revokeSignInSessions",
                           headers={"Authorization": f"Bearer {tenant.token}"})
    assert revoke.status_code == 404
    assert tenant.remediation_calls[-1]["status"] == 404


# --- HTTP behaviour and the command -----------------------------------------------------------

def test_one_connection_serves_many_requests(tenant: GraphEmulator) -> None:
    port = int(tenant.base_url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_GUARD_S)
    headers = {"Authorization": f"Bearer {tenant.token}"}
    try:
        for path in ("/v1.0/auditLogs/signIns?$top=3", "/v1.0/users/nobody",
                     "/beta/auditLogs/signIns?$top=1"):
            conn.request("GET", path, headers=headers)
            reply = conn.getresponse()
            reply.read()
            assert reply.status in (200, 404)
            assert conn.sock is not None
    finally:
        conn.close()


@pytest.mark.parametrize("sign_ins_file", ["signIns.json", "signIns.jsonl"])
def test_command_serves_a_tenant_folder_and_admin_endpoints(tmp_path: Path,
                                                            sign_ins_file: str) -> None:
    if sign_ins_file.endswith(".jsonl"):
        (tmp_path / sign_ins_file).write_text("\n".join(json.dumps(r) for r in SIGN_INS))
    else:
        (tmp_path / sign_ins_file).write_text(json.dumps({"value": SIGN_INS}))
    (tmp_path / "users.json").write_text(json.dumps({"value": USERS}))
    proc = subprocess.Popen([sys.executable, "-m", "local.graph_emulator", "--port", "0",
                             "--tenant", str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        auth = {"Authorization": "Bearer local-dev-token"}
        with httpx.Client(base_url=base_url, trust_env=False, headers=auth,
                          timeout=HANG_GUARD_S) as http:
            page = http.get("/v1.0/auditLogs/signIns", params={"$top": "1000"}).json()
            assert len(page["value"]) == len(interactive(SIGN_INS))
            assert http.get("/v1.0/identityProtection/riskyUsers").json()["value"] == []
            assert http.post("/_emulator/configure", json={"premium": False}).status_code == 204
            assert http.get("/v1.0/auditLogs/signIns").status_code == 403
            assert http.post("/_emulator/configure", json={"nonsense": 1}).status_code == 400
            assert http.post("/_emulator/load", json={"users": {"value": []}}).status_code == 204
            assert http.post("/_emulator/reset").status_code == 204
            assert http.get(f"/v1.0/users/{ANA['id']}").status_code == 404
            calls = http.get("/_emulator/calls").json()["calls"]
            assert [c["status"] for c in calls] == [404]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=HANG_GUARD_S)
    assert proc.returncode == 0


@pytest.mark.parametrize(("path", "odata", "found"), [
    ("identityProtection/riskyUsers", f"id eq '{ANA['id']}'", [ANA["id"]]),
    ("identityProtection/riskyUsers", f"userPrincipalName eq '{ADMIN['userPrincipalName']}'", []),
    ("roleManagement/directory/roleAssignments", f"principalId eq '{ADMIN['id']}'",
     [ADMIN["id"]]),
    ("roleManagement/directory/roleAssignments", f"principalId eq '{ANA['id']}'", [ANA["id"]]),
    ("roleManagement/directory/roleAssignments", "principalId eq 'nobody'", []),
])
def test_one_users_risk_and_roles_filter(tenant: GraphEmulator, path: str, odata: str,
                                         found: list[str]) -> None:
    """The filters a one-user review sends (riskyUsers by id, role assignments by principalId:
    see queries.py for Microsoft's documentation of each) select that user only."""
    answer = raw_get(tenant, f"/v1.0/{path}", {"$filter": odata})
    assert answer.status_code == 200, answer.text
    rows = answer.json()["value"]
    assert [r.get("principalId", r["id"]) for r in rows] == found


def test_a_filter_on_a_property_graph_does_not_filter_is_a_400(tenant: GraphEmulator) -> None:
    answer = raw_get(tenant, "/v1.0/roleManagement/directory/roleAssignments",
                     {"$filter": "principal/userPrincipalName eq 'admin@contoso.com'"})
    assert answer.status_code == 400
