"""What an outside test of `make serve` found, each pinned down: bodies that are not UTF-8, UPNs
longer than Entra ID allows, links that must lead to the stored verdict, a one-user review that
reads and keeps only that user's data, and methods a route does not declare."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from shared.graph.directory import PRIVILEGED_ROLES
from shared.pipeline.adhoc import RETENTION
from shared.pipeline.records import RunRecord, run_keys
from tests.fixtures.api import ADMIN, ALICE, USERS, ApiClient

GLOBAL_ADMIN = next(iter(PRIVILEGED_ROLES))
# 261 characters, each label a valid DNS label: past Entra ID's 113 (48 after the "@").
LONG_UPN = "alice@" + ("c" * 62 + ".") * 4 + "com"


@pytest.mark.parametrize(("path", "body"), [
    ("/api/reviews", b'{"user":"\xff\xfe@contoso.com"}'),
    ("/api/reviews", b'{"scope":"tenant","ticketId":"INC\xc3"}'),
    ("/api/remediations", b'{"runId":"\xff"}'),
    ("/api/remediations", b'{"\xff":1}'),
])
def test_a_body_that_is_not_utf8_is_a_400_naming_the_body(api: ApiClient, path: str,
                                                          body: bytes) -> None:
    answer = api.call("POST", path, body=body, headers={"Content-Type": "application/json"},
                      token=api.issuer.mint())
    problem = answer.json()
    assert (answer.status_code, problem["field"]) == (400, "body"), problem
    assert "UTF-8" in problem["detail"]
    assert api.graph.calls == []


def test_a_upn_longer_than_entra_allows_is_refused_before_graph(api: ApiClient) -> None:
    review = api.call("POST", "/api/reviews", json={"user": LONG_UPN})
    assert (review.status_code, review.json()["field"]) == (400, "user"), review.json()
    remediation = api.remediate({"runId": "r1", "userId": LONG_UPN, "actions": ["revokeSessions"],
                                 "approver": "soc", "approvalId": "a1"})
    assert (remediation.status_code, remediation.json()["field"]) == (400, "userId")
    path = api.call("GET", f"/api/reviews/r1/users/{LONG_UPN}")
    assert (path.status_code, path.json()["field"]) == (400, "userId")
    assert api.graph.calls == []


def test_links_user_of_a_review_started_with_a_upn_leads_to_the_verdict(api: ApiClient) -> None:
    api.graph.load(users=[dict(u) for u in USERS], sign_ins=[sign_in(ALICE, "alice@contoso.com")])
    verdict = api.call("POST", "/api/reviews", json={"user": "Alice@Contoso.com"})
    assert verdict.status_code == 200, verdict.json()
    run = api.call("GET", verdict.json()["links"]["run"]).json()
    assert run["status"] == "complete" and run["userId"] == ALICE
    linked = api.call("GET", run["links"]["user"])
    assert linked.status_code == 200 and linked.json()["userId"] == ALICE


def test_a_one_user_review_reads_and_keeps_only_that_users_data(api: ApiClient) -> None:
    """Sign-ins of the user within Graph's retention; the user's risk and roles, filtered at
    Graph; a context holding none of the other users' data."""
    api.graph.load(
        users=[dict(u) for u in USERS],
        sign_ins=[sign_in(ALICE, "alice@contoso.com"), sign_in(ADMIN, "admin@contoso.com")],
        risky_users=[risky(ALICE, "alice@contoso.com"), risky(ADMIN, "admin@contoso.com")],
        risk_detections=[detection(ALICE, "alice@contoso.com"),
                         detection(ADMIN, "admin@contoso.com")],
        role_assignments=[role(ALICE), role(ADMIN)],
    )
    answer = api.call("POST", "/api/reviews", json={"user": "alice@contoso.com",
                                                    "lookbackHours": 720})
    assert answer.status_code == 200, answer.json()
    filters: dict[str, list[str]] = {}
    probes = []
    for call in api.graph.calls:
        path = call["path"].split("/v1.0/")[-1]
        if path == "auditLogs/signIns" and call["query"].get("$top") == "1":
            # The tenant's history reach (shared.graph.retention.history_reach): one row of
            # anyone's, read for its presence only and kept nowhere (the context check below).
            probes.append(call["query"]["$filter"])
            continue
        filters.setdefault(path, []).append(call["query"].get("$filter", ""))
    assert len(probes) <= 1, probes
    # Read for the privileged roles and again by the remediation plan (who may act on whom):
    # every read is filtered on the user.
    assert set(filters["roleManagement/directory/roleAssignments"]) == {
        f"principalId eq '{ALICE}'"}
    assert filters["identityProtection/riskyUsers"] == [f"id eq '{ALICE}'"]
    (risk,) = filters["identityProtection/riskDetections"]
    assert risk.endswith(f" and userId eq '{ALICE}'")
    for query in filters["auditLogs/signIns"]:
        assert "alice@contoso.com" in query or ALICE in query
        start = query.split("createdDateTime ge ")[1].split(" ")[0]
        oldest = datetime.now(UTC) - RETENTION - timedelta(minutes=5)  # the review ran earlier
        assert datetime.fromisoformat(start.replace("Z", "+00:00")) >= oldest, query
    context = stored_context(api, answer.json()["runId"])
    assert set(context["privileged"]) == {ALICE}
    assert [r["id"] for r in context["risky_users"]] == [ALICE]
    assert {d["userId"] for d in context["risk_detections"]} == {ALICE}
    assert ADMIN not in msgspec.json.encode(context).decode()


@pytest.mark.parametrize("method", ["TRACE", "OPTIONS", "HEAD", "PUT", "DELETE", "PROPFIND"])
def test_an_undeclared_method_is_a_405_with_allow(api: ApiClient, method: str) -> None:
    for path, allowed in (("/api/reviews", "POST"), ("/api/health", "GET"),
                          ("/api/reviews/r1/users/alice@contoso.com", "GET")):
        answer = api.http.request(method, api.server.base_url + path)
        assert (answer.status_code, answer.headers.get("allow")) == (405, allowed), path


# --- what the emulator is loaded with -------------------------------------------------------


def ago(hours: int) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def sign_in(user_id: str, upn: str) -> dict[str, Any]:
    when = ago(2)
    return {"id": f"s-{user_id[:4]}", "createdDateTime": when, "userId": user_id,
            "userPrincipalName": upn, "appDisplayName": "Office 365", "ipAddress": "203.0.113.9",
            "clientAppUsed": "Browser", "isInteractive": True, "status": {"errorCode": 0},
            "location": {"city": "Oslo", "countryOrRegion": "NO"}}


def risky(user_id: str, upn: str) -> dict[str, Any]:
    return {"id": user_id, "userPrincipalName": upn, "riskLevel": "medium",
            "riskState": "atRisk", "riskDetail": "none",
            "riskLastUpdatedDateTime": "2026-01-01T00:00:00Z"}


def detection(user_id: str, upn: str) -> dict[str, Any]:
    when = ago(3)
    return {"id": f"d-{user_id[:4]}", "userId": user_id, "userPrincipalName": upn,
            "riskEventType": "unfamiliarFeatures", "riskLevel": "medium", "riskState": "atRisk",
            "detectionTimingType": "realtime", "activityDateTime": when, "detectedDateTime": when}


def role(user_id: str) -> dict[str, Any]:
    return {"id": f"ra-{user_id[:4]}", "principalId": user_id, "roleDefinitionId": GLOBAL_ADMIN,
            "directoryScopeId": "/"}


def stored_context(api: ApiClient, run_id: str) -> dict[str, Any]:
    run = api.call("GET", f"/api/reviews/{run_id}").json()
    assert run["status"] == "complete"
    table = api.services.store.table(api.services.store.names.runs, RunRecord, run_keys)
    record = table.get(run_id, "run")
    assert record is not None and record.context is not None
    found: dict[str, Any] = msgspec.json.decode(
        api.services.store.evidence.read_evidence(record.context))
    return found

