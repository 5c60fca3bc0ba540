"""POST /api/remediations over real HTTP: the evidence guard, idempotent approvals, outcomes per
action, and the table and WORM records, with the Graph calls the emulator recorded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from shared.api.remediation import remediations_table
from shared.model import PlannedStep
from shared.pipeline.records import ActionResult, RemediationRecord
from shared.store import EvidenceRef, bundles_name, remediation_name
from tests.fixtures.api import (
    ADMIN,
    ALICE,
    BOB,
    ApiClient,
    new_run_id,
    overwrite_blob,
    seed_verdict,
    sha256,
)


def approval(run_id: str, user_id: str = ALICE, **changes: Any) -> dict[str, Any]:
    body = {"runId": run_id, "userId": user_id, "actions": ["revokeSessions", "disableAccount"],
            "approver": "sec-lead@contoso.com", "approvalId": "ap-" + uuid.uuid4().hex[:10],
            "comment": "approved in the Monday review"}
    body.update(changes)
    return body


def stored(api: ApiClient, approval_id: str) -> RemediationRecord | None:
    return remediations_table(api.services).get("approval", approval_id)


def audit_of(api: ApiClient, record: RemediationRecord) -> dict[str, Any]:
    assert record.audit is not None
    data = api.services.store.evidence.read_evidence(record.audit)
    return msgspec.json.decode(data)  # type: ignore[no-any-return]


def test_approved_remediation_runs_each_action_and_records_it(api: ApiClient) -> None:
    run_id = new_run_id()
    seed_verdict(api.services, run_id, ALICE)
    body = approval(run_id)
    answer = api.remediate(body)
    assert answer.status_code == 200
    record = answer.json()
    assert record["status"] == "done"
    assert [(r["action"], r["outcome"]) for r in record["results"]] == [
        ("disableAccount", "done"), ("revokeSessions", "done")]  # disable first, then revoke
    assert [(c["method"], c["path"]) for c in api.graph.remediation_calls] == [
        ("PATCH", f"/v1.0/users/{ALICE}"), ("POST", f"/v1.0/users/{ALICE}/revokeSignInSessions")]
    assert api.graph.user(ALICE)["accountEnabled"] is False  # type: ignore[index]
    kept = stored(api, body["approvalId"])
    assert kept is not None and msgspec.to_builtins(kept) == record
    assert kept.caller == "10c1a000-0000-4000-8000-00000000a991"
    assert len(kept.evidence_checked) == 3  # bundle and two pages
    audit = audit_of(api, kept)
    assert audit["remediation"]["status"] == "done"
    assert audit["verdict"]["level"] == "high"
    assert kept.audit is not None and kept.audit.name == remediation_name(body["approvalId"])


def test_same_approval_twice_calls_graph_once(api: ApiClient) -> None:
    run_id = new_run_id()
    seed_verdict(api.services, run_id, ALICE)
    body = approval(run_id, actions=["revokeSessions"])
    first = api.remediate(body)
    second = api.remediate(body)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.content == second.content
    assert len(api.graph.remediation_calls) == 1


def test_same_approval_id_with_another_body_is_a_conflict(api: ApiClient) -> None:
    run_id = new_run_id()
    seed_verdict(api.services, run_id, ALICE)
    body = approval(run_id, actions=["revokeSessions"])
    assert api.remediate(body).status_code == 200
    changed = api.remediate({**body, "actions": ["disableAccount"]})
    assert changed.status_code == 409
    assert "different request" in changed.json()["detail"]
    assert len(api.graph.remediation_calls) == 1


def test_tampered_page_blocks_remediation_and_is_recorded(api: ApiClient) -> None:
    run_id = new_run_id()
    verdict = seed_verdict(api.services, run_id, ALICE)
    overwrite_blob(api.services, verdict.pages[1].name, b'{"value": []}')
    body = approval(run_id)
    answer = api.remediate(body)
    assert answer.status_code == 409
    problem = answer.json()
    assert verdict.pages[1].name in problem["detail"] and "altered" in problem["detail"]
    assert problem["remediation"]["status"] == "refused"
    assert api.graph.remediation_calls == [] and api.graph.calls == []
    kept = stored(api, body["approvalId"])
    assert kept is not None and kept.status == "refused"
    assert {r.outcome for r in kept.results} == {"refused"}
    assert audit_of(api, kept)["refusal"]
    again = api.remediate(body)  # a refused approval stays refused: a new approval is needed
    assert again.status_code == 409 and api.graph.remediation_calls == []


def test_missing_bundle_blocks_remediation(api: ApiClient) -> None:
    run_id = new_run_id()
    verdict = seed_verdict(api.services, run_id, ALICE)
    overwrite_blob(api.services, verdict.evidence.name, None)
    answer = api.remediate(approval(run_id))
    assert answer.status_code == 409
    assert f"{verdict.evidence.name}: missing" in answer.json()["detail"]
    assert api.graph.calls == []


def test_page_listed_only_in_the_bundle_is_checked_too(api: ApiClient) -> None:
    run_id = new_run_id()
    verdict = seed_verdict(api.services, run_id, ALICE)
    table = api.services.store.table(api.services.store.names.verdicts, type(verdict),
                                     lambda v: (v.run_id, v.user_id))
    table.upsert(msgspec.structs.replace(verdict, pages=[]))  # the entity lists no page
    overwrite_blob(api.services, verdict.pages[0].name, None)
    answer = api.remediate(approval(run_id))
    assert answer.status_code == 409
    assert verdict.pages[0].name in answer.json()["detail"]


def test_page_listed_in_a_blob_of_bundles_is_checked_and_the_user_must_be_in_it(
    api: ApiClient,
) -> None:
    """Scoring stores bundles several users to a blob: the guard reads the user's own bundle
    out of it (and the pages it lists), and refuses a blob that holds none for the user."""
    run_id = new_run_id()
    verdict = seed_verdict(api.services, run_id, ALICE)
    table = api.services.store.table(api.services.store.names.verdicts, type(verdict),
                                     lambda v: (v.run_id, v.user_id))
    evidence = api.services.store.evidence

    def bundles_for(*user_ids: str) -> EvidenceRef:
        data = msgspec.json.encode({"bundles": [
            {"user_id": u, "pages": verdict.pages if u == ALICE else [], "context": None}
            for u in user_ids]})
        return evidence.put_evidence(bundles_name(run_id, sha256(data)), data,
                                     content_type="application/json")

    table.upsert(msgspec.structs.replace(verdict, pages=[], evidence=bundles_for(BOB, ALICE)))
    overwrite_blob(api.services, verdict.pages[1].name, None)
    answer = api.remediate(approval(run_id))
    assert answer.status_code == 409
    assert f"{verdict.pages[1].name}: missing" in answer.json()["detail"]
    table.upsert(msgspec.structs.replace(verdict, evidence=bundles_for(BOB)))
    answer = api.remediate(approval(run_id))
    assert answer.status_code == 409
    assert "holds no evidence bundle for this user" in answer.json()["detail"]
    assert api.graph.remediation_calls == []


def test_missing_verdict_blocks_remediation(api: ApiClient) -> None:
    answer = api.remediate(approval(new_run_id()))
    assert answer.status_code == 409
    assert "has no verdict" in answer.json()["detail"]
    assert api.graph.calls == []


def test_graph_403_is_not_permitted_and_the_rest_still_runs(api: ApiClient) -> None:
    run_id = new_run_id()
    seed_verdict(api.services, run_id, ADMIN, upn="admin@contoso.com")
    api.graph.configure(forbidden_paths=[f"users/{ADMIN}"])
    body = approval(run_id, ADMIN, actions=["disableAccount", "confirmCompromised"])
    record = api.remediate(body).json()
    assert record["status"] == "partial"
    outcomes = {r["action"]: r for r in record["results"]}
    assert outcomes["disableAccount"]["outcome"] == "not-permitted"
    assert outcomes["disableAccount"]["graphCode"] == "Authorization_RequestDenied"
    assert outcomes["confirmCompromised"]["outcome"] == "done"


def test_unknown_user_at_graph_is_a_failed_outcome(api: ApiClient) -> None:
    run_id = new_run_id()
    ghost = "00000000-dead-4000-8000-000000000000"
    seed_verdict(api.services, run_id, ghost)
    record = api.remediate(approval(run_id, ghost, actions=["revokeSessions"])).json()
    assert record["status"] == "failed"
    assert record["results"][0]["status"] == 404
    assert record["results"][0]["graphCode"] == "Request_ResourceNotFound"


def test_low_verdict_is_carried_out_and_its_level_recorded(api: ApiClient) -> None:
    run_id = new_run_id()
    seed_verdict(api.services, run_id, ALICE, level="low")
    body = approval(run_id, actions=["revokeSessions"])
    record = api.remediate(body).json()
    assert (record["status"], record["verdict"]) == ("done", "low")
    kept = stored(api, body["approvalId"])
    assert kept is not None and audit_of(api, kept)["verdict"]["level"] == "low"


def _started(run_id: str, body: dict[str, Any], age: timedelta) -> RemediationRecord:
    then = datetime.now(UTC) - age
    return RemediationRecord(
        approval_id=body["approvalId"], run_id=run_id, user_id=ALICE,
        actions=["disableAccount", "revokeSessions"], approver=body["approver"],
        comment=body["comment"], requested_at=then, status="started", updated_at=then,
    )


def test_remediation_in_progress_is_not_run_twice(api: ApiClient) -> None:
    run_id = new_run_id()
    seed_verdict(api.services, run_id, ALICE)
    body = approval(run_id)
    remediations_table(api.services).create(_started(run_id, body, timedelta(seconds=5)))
    answer = api.remediate(body)
    assert answer.status_code == 409 and "being carried out" in answer.json()["detail"]
    assert api.graph.remediation_calls == []


def test_abandoned_remediation_is_taken_over_and_finished(api: ApiClient) -> None:
    run_id = new_run_id()
    seed_verdict(api.services, run_id, ALICE)
    body = approval(run_id)
    crashed = _started(run_id, body, timedelta(minutes=20))
    done_before = ActionResult(action="disableAccount", outcome="done", status=204)
    crashed = msgspec.structs.replace(crashed, results=[done_before])
    remediations_table(api.services).create(crashed)
    api.services.store.evidence.put_evidence(  # the crashed worker got as far as its audit
        remediation_name(body["approvalId"]), b"{}", content_type="application/json")
    record = api.remediate(body).json()
    assert record["status"] == "done"
    assert [c["path"] for c in api.graph.remediation_calls] == [
        f"/v1.0/users/{ALICE}/revokeSignInSessions"]  # only what had no outcome yet
    assert record["audit"]["name"] == remediation_name(body["approvalId"] + ".2")


def test_remediation_body_is_validated(api: ApiClient) -> None:
    run_id = new_run_id()
    cases = [
        (approval(run_id, extra="x"), 400, "extra"),
        (approval(run_id, actions=[]), 400, "actions"),
        (approval(run_id, actions=["revokeSessions", "revokeSessions"]), 400, "actions"),
        (approval(run_id, actions=["wipeDevice"]), 400, "actions[0]"),
        (approval(run_id, approvalId="../etc"), 400, "approvalId"),
        (approval(run_id, runId="a..b"), 400, "runId"),
        (approval(run_id, userId="x' or 1 eq 1"), 400, "userId"),
        (approval(run_id, userId="<script>alert(1)</script>@x.com"), 400, "userId"),
        (approval(run_id, approver="a" * 300), 400, "approver"),
        (approval(run_id, approver="eve\r\nX-Injected: 1"), 400, "approver"),
    ]
    for body, status, field in cases:
        answer = api.remediate(body)
        assert (answer.status_code, answer.json().get("field")) == (status, field), body
    assert api.graph.calls == []


def test_content_type_and_size_are_checked(api: ApiClient) -> None:
    token = api.issuer.mint()
    as_text = api.call("POST", "/api/remediations", body=b"{}", token=token,
                       headers={"Content-Type": "text/plain"})
    assert as_text.status_code == 415
    huge = api.call("POST", "/api/remediations", body=b"{" + b" " * 70_000 + b"}", token=token,
                    headers={"Content-Type": "application/json"})
    assert huge.status_code == 413
    broken = api.call("POST", "/api/remediations", body=b'{"runId": ', token=token,
                      headers={"Content-Type": "application/json"})
    assert (broken.status_code, broken.json()["field"]) == (400, "body")


def test_evidence_ref_round_trips_in_answers(api: ApiClient) -> None:
    run_id = new_run_id()
    verdict = seed_verdict(api.services, run_id, ALICE)
    record = api.remediate(approval(run_id, actions=["revokeSessions"])).json()
    checked = [msgspec.convert(r, EvidenceRef) for r in record["evidenceChecked"]]
    assert checked[0] == verdict.evidence


# --- what Graph will carry out (REFERENCE.md, "What real tenants do") ------------------------

def test_admin_disable_without_a_higher_role_is_named_not_sent(api: ApiClient) -> None:
    run_id = new_run_id()
    seed_verdict(api.services, run_id, ADMIN, upn="admin@contoso.com", privileged=True)
    record = api.remediate(approval(run_id, ADMIN, actions=["disableAccount",
                                                            "revokeSessions"])).json()
    outcomes = {r["action"]: r for r in record["results"]}
    assert outcomes["disableAccount"]["outcome"] == "needs-role"
    assert "Privileged Authentication Administrator" in outcomes["disableAccount"]["message"]
    assert outcomes["revokeSessions"]["outcome"] == "done"
    assert record["status"] == "partial"
    assert [c["method"] for c in api.graph.remediation_calls] == ["POST"]  # no PATCH was sent
    assert api.graph.user(ADMIN)["accountEnabled"] is True  # type: ignore[index]


def test_synced_user_reset_is_on_premises_not_sent(api: ApiClient) -> None:
    run_id = new_run_id()
    steps = [PlannedStep("revokeSessions", "will-run"),
             PlannedStep("forcePasswordReset", "on-premises", "in on-premises AD")]
    seed_verdict(api.services, run_id, ALICE, remediation=steps)
    record = api.remediate(approval(run_id, ALICE, actions=["forcePasswordReset",
                                                            "revokeSessions"])).json()
    outcomes = {r["action"]: r["outcome"] for r in record["results"]}
    assert outcomes == {"forcePasswordReset": "on-premises", "revokeSessions": "done"}
    assert [c["method"] for c in api.graph.remediation_calls] == ["POST"]


def test_graph_refusing_a_synced_user_says_on_premises(api: ApiClient) -> None:
    run_id = new_run_id()
    seed_verdict(api.services, run_id, BOB, upn="o'brien@contoso.com")  # verdict did not know
    api.graph.load(users=[{"id": BOB, "userPrincipalName": "o'brien@contoso.com",
                           "accountEnabled": True, "onPremisesSyncEnabled": True}])
    record = api.remediate(approval(run_id, BOB, actions=["disableAccount"])).json()
    (result,) = record["results"]
    assert (result["outcome"], result["status"], result["graphCode"]) == \
        ("on-premises", 400, "Request_BadRequest")
    assert record["status"] == "failed"
