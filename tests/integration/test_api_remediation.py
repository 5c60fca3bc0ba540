"""POST /api/remediations over real HTTP: the evidence guard, idempotent approvals, outcomes per
action, and the table and WORM records, with the Graph calls the emulator recorded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from shared.api.remediation import remediations_table
from shared.errors import EvidenceError, StorageError
from shared.model import PlannedStep
from shared.pipeline.records import ActionResult, RemediationRecord, VerdictRecord
from shared.store import (
    EvidenceRef,
    EvidenceStore,
    bundles_name,
    manifest_name,
    page_name,
    remediation_name,
)
from tests.fixtures.api import (
    ADMIN,
    ALICE,
    BOB,
    ApiClient,
    new_run_id,
    overwrite_blob,
    seal_run,
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


def verdicts(api: ApiClient) -> Any:
    return api.services.store.table(api.services.store.names.verdicts, VerdictRecord,
                                    lambda v: (v.run_id, v.user_id))


def bundles_blob(api: ApiClient, run_id: str, bundles: list[dict[str, Any]]) -> EvidenceRef:
    """A write-once blob of bundles under the run, as scoring stores them."""
    data = msgspec.json.encode({"bundles": bundles})
    return api.services.store.evidence.put_evidence(bundles_name(run_id, sha256(data)), data,
                                                    content_type="application/json")


def bundle(run_id: str, user_id: str, pages: list[EvidenceRef]) -> dict[str, Any]:
    return {"run_id": run_id, "user_id": user_id, "pages": pages, "context": None}


def sealed_with_bundle_blob(api: ApiClient, *users: str) -> tuple[VerdictRecord, EvidenceRef]:
    """ALICE's verdict pointing at a blob of bundles of `users` (ALICE's listing her pages),
    the run sealed afterwards: the manifest lists the blob as her bundle."""
    run_id = new_run_id()
    verdict = seed_verdict(api.services, run_id, ALICE, seal=False)
    blob = bundles_blob(api, run_id, [bundle(run_id, u, verdict.pages if u == ALICE else [])
                                      for u in users])
    verdict = msgspec.structs.replace(verdict, evidence=blob)
    verdicts(api).upsert(verdict)
    seal_run(api.services, run_id)
    return verdict, blob


def test_page_listed_in_a_blob_of_bundles_is_checked(api: ApiClient) -> None:
    """Scoring stores bundles several users to a blob: the guard reads the user's own bundle
    out of it, and the pages it lists."""
    verdict, _ = sealed_with_bundle_blob(api, BOB, ALICE)
    run_id = verdict.run_id
    pages = msgspec.convert(msgspec.json.decode(api.services.store.evidence.read_evidence(
        verdict.evidence))["bundles"][1]["pages"], list[EvidenceRef])
    overwrite_blob(api.services, pages[1].name, None)
    answer = api.remediate(approval(run_id))
    assert answer.status_code == 409
    assert f"{pages[1].name}: missing" in answer.json()["detail"]
    assert api.graph.remediation_calls == []


def test_blob_of_bundles_without_the_user_is_refused(api: ApiClient) -> None:
    verdict, _ = sealed_with_bundle_blob(api, BOB)
    answer = api.remediate(approval(verdict.run_id))
    assert answer.status_code == 409
    assert "holds no evidence bundle for this user" in answer.json()["detail"]
    assert api.graph.remediation_calls == []


def test_intact_blob_of_bundles_is_carried_out(api: ApiClient) -> None:
    verdict, blob = sealed_with_bundle_blob(api, BOB, ALICE)
    answer = api.remediate(approval(verdict.run_id, actions=["revokeSessions"]))
    assert answer.status_code == 200, answer.json()
    assert answer.json()["evidenceChecked"][0]["name"] == blob.name


# --- the guard fails closed (issue: red-team cases, each 200 before the guard was rewritten) -


def refused(api: ApiClient, run_id: str, *expected: str) -> str:
    answer = api.remediate(approval(run_id))
    assert answer.status_code == 409, answer.json()
    detail: str = answer.json()["detail"]
    for text in expected:
        assert text in detail, detail
    assert api.graph.remediation_calls == [] and api.graph.calls == []
    return detail


def point_at(api: ApiClient, verdict: VerdictRecord, ref: EvidenceRef) -> None:
    """What someone who can write the verdict table does: point the verdict elsewhere, and
    (so the manifest check alone does not decide) seal the run with that pointer."""
    verdicts(api).upsert(msgspec.structs.replace(verdict, evidence=ref))
    seal_run(api.services, verdict.run_id)


def test_intact_non_json_blob_of_the_run_is_refused(api: ApiClient) -> None:
    run_id = new_run_id()
    verdict = seed_verdict(api.services, run_id, ALICE, seal=False)
    report = api.services.store.evidence.put_evidence(
        f"runs/{run_id}/report.html", b"<html><p>report</p></html>", content_type="text/html")
    point_at(api, verdict, report)
    refused(api, run_id, f"runs/{run_id}/report.html: not a readable evidence bundle")


def test_intact_empty_array_blob_is_refused(api: ApiClient) -> None:
    run_id = new_run_id()
    verdict = seed_verdict(api.services, run_id, ALICE, seal=False)
    empty = api.services.store.evidence.put_evidence(
        f"runs/{run_id}/bundles/{sha256(b'[]')}.json", b"[]", content_type="application/json")
    point_at(api, verdict, empty)
    refused(api, run_id, "not a readable evidence bundle")


READ_ERRORS = {
    "vanished": lambda name: EvidenceError(f"evidence {name} is missing"),
    "storage": lambda name: StorageError(f"reading evidence {name} failed: (ServerBusy) x"),
}


@pytest.mark.parametrize("kind", sorted(READ_ERRORS))
def test_read_error_after_the_bundle_was_verified_is_refused(
    api: ApiClient, monkeypatch: pytest.MonkeyPatch, kind: str,
) -> None:
    """verify_evidence passes, then reading the bundle fails (the blob went in between, or a
    storage error): injected on the read itself, no timing involved."""
    run_id = new_run_id()
    verdict = seed_verdict(api.services, run_id, ALICE)
    read = EvidenceStore.read_evidence

    def failing(self: EvidenceStore, ref: EvidenceRef) -> bytes:
        if ref.name == verdict.evidence.name:
            raise READ_ERRORS[kind](ref.name)
        return read(self, ref)

    monkeypatch.setattr(EvidenceStore, "read_evidence", failing)
    refused(api, run_id, f"{verdict.evidence.name}: not a readable evidence bundle")


def test_two_bundles_for_the_user_in_one_blob_are_refused(api: ApiClient) -> None:
    """An empty first bundle must not hide a second one that lists an altered page."""
    run_id = new_run_id()
    verdict = seed_verdict(api.services, run_id, ALICE, seal=False)
    blob = bundles_blob(api, run_id, [bundle(run_id, ALICE, []),
                                      bundle(run_id, ALICE, verdict.pages)])
    verdicts(api).upsert(msgspec.structs.replace(verdict, evidence=blob))
    seal_run(api.services, run_id)
    overwrite_blob(api.services, verdict.pages[0].name, b'{"value": []}')
    refused(api, run_id, "holds 2 evidence bundles for this user")


def test_another_runs_bundle_is_refused(api: ApiClient) -> None:
    """Run R2's verdict pointing at run R1's intact bundle."""
    r1, r2 = new_run_id(), new_run_id()
    earlier = seed_verdict(api.services, r1, ALICE)
    later = seed_verdict(api.services, r2, ALICE, seal=False)
    point_at(api, later, earlier.evidence)
    refused(api, r2, f"{earlier.evidence.name}: is not evidence of run {r2}")


def test_bundle_naming_another_run_is_refused(api: ApiClient) -> None:
    """Even under the verdict's run, a bundle copied from another run says so."""
    r1, r2 = new_run_id(), new_run_id()
    earlier = seed_verdict(api.services, r1, ALICE)
    later = seed_verdict(api.services, r2, ALICE, seal=False)
    copied = bundles_blob(api, r2, [bundle(r1, ALICE, earlier.pages)])
    point_at(api, later, copied)
    refused(api, r2, f"the bundle names run {r1}, not {r2}")


def test_verdict_copied_under_another_users_keys_is_refused(api: ApiClient) -> None:
    """BOB's intact, sealed verdict of run R1 stored as ALICE's verdict in run R2: its
    evidence checks out, but it is not a verdict about the approved run and user."""
    r1, r2 = new_run_id(), new_run_id()
    bobs = seed_verdict(api.services, r1, BOB, upn="o'brien@contoso.com")
    copied = api.services.store.table(api.services.store.names.verdicts, VerdictRecord,
                                      lambda v: (r2, ALICE))
    copied.upsert(bobs)
    refused(api, r2, f"names run {r1} and user {BOB}")


def test_unsealed_run_is_refused(api: ApiClient) -> None:
    run_id = new_run_id()
    seed_verdict(api.services, run_id, ALICE, seal=False)
    refused(api, run_id, f"run {run_id} has no audit manifest")


def test_bundle_the_manifest_does_not_list_is_refused(api: ApiClient) -> None:
    """The verdict entity changed after the run was sealed: the manifest is the record."""
    run_id = new_run_id()
    verdict = seed_verdict(api.services, run_id, ALICE)
    other = bundles_blob(api, run_id, [bundle(run_id, ALICE, verdict.pages)])
    verdicts(api).upsert(msgspec.structs.replace(verdict, evidence=other))
    refused(api, run_id, f"does not list {other.name}")


def test_page_the_manifest_does_not_list_is_refused(api: ApiClient) -> None:
    run_id = new_run_id()
    verdict = seed_verdict(api.services, run_id, ALICE)
    extra = api.services.store.evidence.put_evidence(
        page_name(run_id, "s001", 0), b'{"value": []}', content_type="application/json")
    verdicts(api).upsert(msgspec.structs.replace(verdict, pages=[*verdict.pages, extra]))
    refused(api, run_id, f"{extra.name}: not listed in the run's manifest")


def test_altered_manifest_is_refused(api: ApiClient) -> None:
    run_id = new_run_id()
    seed_verdict(api.services, run_id, ALICE)
    overwrite_blob(api.services, manifest_name(run_id), b"{}")
    refused(api, run_id, f"{manifest_name(run_id)}: not a readable audit manifest")


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
    # revoke too: Graph refuses it for administrators (Azure-Sentinel #783, m365-docs #12853)
    assert outcomes["revokeSessions"]["outcome"] == "needs-role"
    assert record["status"] == "failed"
    assert api.graph.remediation_calls == []  # nothing was sent
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


def test_a_user_the_plan_found_beyond_user_administrators_reach_is_not_sent(
        api: ApiClient) -> None:
    """A user not counted as privileged whose directory roles (read when the verdict was
    planned) put them beyond User Administrator's reach, e.g. an Intune Administrator: the
    approved revoke is named, not sent (who-can-act table; Azure-Sentinel #783)."""
    run_id = new_run_id()
    steps = [PlannedStep("revokeSessions", "needs-role", "needs Privileged Authentication "
                                                         "Administrator")]
    seed_verdict(api.services, run_id, ALICE, remediation=steps)
    record = api.remediate(approval(run_id, ALICE, actions=["revokeSessions"])).json()
    assert {r["action"]: r["outcome"] for r in record["results"]} == \
        {"revokeSessions": "needs-role"}
    assert api.graph.remediation_calls == []


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
