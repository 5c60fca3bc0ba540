"""Containment over real HTTP: an approved removeMethods / disableInboxRules / revokeGrants acts
on exactly the objects the verdict's evidence bundle names, after the evidence guard, and only
while each is as the bundle recorded it; an object gone, changed or never recorded is refused
and nothing is sent to Graph for that step."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec

from shared.api.remediation import remediations_table
from shared.model import Finding, ObjectRef, UserStats, UserVerdict
from shared.persistence.records import AuthMethod, Followed, InboxRule, PermissionGrant
from shared.pipeline.records import VerdictRecord, verdict_keys
from shared.store import JSON, page_name, user_bundle_name
from tests.fixtures.api import ALICE, USERS, ApiClient, new_run_id, seal_run

OWN = {"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
       "id": "m-own", "displayName": "Pixel 7", "createdDateTime": "2024-09-03T09:15:00Z"}
ATTACKER = {"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
            "id": "m-attacker", "displayName": "SM-A515F",
            "createdDateTime": "2025-03-15T23:14:12Z"}
PASSWORD = {"@odata.type": "#microsoft.graph.passwordAuthenticationMethod",
            "id": "28c10230-6103-485e-b985-444c60001490"}
RULE = {"id": "r-fwd", "displayName": ".", "sequence": 1, "isEnabled": True,
        "actions": {"forwardTo": [{"emailAddress": {"address": "accounts.ledger@proton.me"}}]}}
GRANT = {"id": "g-mail", "clientId": "sp-mail", "consentType": "Principal", "principalId": ALICE,
         "resourceId": "sp-graph", "scope": "Mail.Read offline_access"}
FINDINGS = [
    Finding(type="persistence", severity="high", summary="An authenticator was registered.",
            sign_in_ids=["s1"], got_in=True,
            objects=[ObjectRef("method", "m-attacker", "microsoftAuthenticator (SM-A515F)")]),
    Finding(type="persistence", severity="high", summary="A rule forwards mail outside.",
            sign_in_ids=["s1"], got_in=True, objects=[ObjectRef("rule", "r-fwd", ".")]),
    Finding(type="persistence", severity="high", summary="A mail app was consented.",
            sign_in_ids=["s1"], got_in=True,
            objects=[ObjectRef("grant", "g-mail", "Mail Backup Pro")]),
]
CONTAIN = ["removeMethods", "disableInboxRules", "revokeGrants"]


def seed(api: ApiClient, *, findings: list[Finding] = FINDINGS) -> str:
    """A sealed run whose verdict's bundle records the findings and what followed."""
    services = api.services
    run_id = new_run_id()
    evidence = services.store.evidence
    page = evidence.put_evidence(page_name(run_id, "s000", 0),
                                 msgspec.json.encode({"value": [{"id": "s1"}]}),
                                 content_type=JSON)
    detail = UserVerdict(user_id=ALICE, user_principal_name="alice@contoso.com", verdict="high",
                         privileged=False, findings=findings, reasons=["seeded"],
                         stats=UserStats(sign_ins=1), got_in=True,
                         proposed_actions=["revokeSessions", *CONTAIN])
    followed = Followed(
        audit_read=True,
        methods=msgspec.convert([PASSWORD, OWN, ATTACKER], list[AuthMethod]),
        rules=msgspec.convert([RULE], list[InboxRule]),
        grants=msgspec.convert([GRANT], list[PermissionGrant]))
    bundle = msgspec.json.encode({"run_id": run_id, "user_id": ALICE, "verdict": detail,
                                  "pages": [page], "context": None, "followed": followed})
    ref = evidence.put_evidence(user_bundle_name(run_id, ALICE), bundle, content_type=JSON)
    record = VerdictRecord(run_id=run_id, user_id=ALICE, user_principal_name="alice@contoso.com",
                           verdict="high", privileged=False, got_in=True,
                           finding_types=["persistence"], proposed_actions=detail.proposed_actions,
                           detail=detail, evidence=ref, pages=[page],
                           scored_at=datetime.now(UTC))
    services.store.table(services.store.names.verdicts, VerdictRecord, verdict_keys).upsert(record)
    seal_run(services, run_id)
    return run_id


def load(api: ApiClient, *, attacker: dict[str, Any] = ATTACKER,
         rule: dict[str, Any] = RULE) -> None:
    owned = [{**m, "_owner": ALICE} for m in (PASSWORD, OWN, attacker)]
    api.graph.load(users=[dict(u) for u in USERS], authentication_methods=owned,
                   message_rules=[{**rule, "_owner": ALICE}], permission_grants=[GRANT])


def approve(api: ApiClient, run_id: str, actions: list[str]) -> Any:
    return api.remediate({"runId": run_id, "userId": ALICE, "actions": actions,
                          "approver": "sec-lead@contoso.com",
                          "approvalId": "ap-" + uuid.uuid4().hex[:10]})


def test_containment_removes_exactly_the_named_objects(api: ApiClient) -> None:
    load(api)
    run_id = seed(api)
    answer = approve(api, run_id, ["revokeGrants", "removeMethods", "revokeSessions",
                                   "disableInboxRules"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [r["action"] for r in body["results"]] == [
        "revokeSessions", "removeMethods", "disableInboxRules", "revokeGrants"]
    assert all(r["outcome"] == "done" for r in body["results"]), \
        [r["message"] for r in body["results"]]
    assert "method microsoftAuthenticator (SM-A515F) (m-attacker): done" in \
        body["results"][1]["message"]
    directory = api.graph.tenant().directory
    assert [m["id"] for m in directory.methods] == [PASSWORD["id"], "m-own"]
    assert directory.rules[0]["isEnabled"] is False
    assert directory.grants == []
    paths = [(c["method"], c["path"]) for c in api.graph.remediation_calls]
    assert ("DELETE", f"/v1.0/users/{ALICE}/authentication/microsoftAuthenticatorMethods/"
                      "m-attacker") in paths
    assert ("DELETE", "/v1.0/oauth2PermissionGrants/g-mail") in paths


def test_an_object_changed_since_the_review_is_refused_and_left_alone(api: ApiClient) -> None:
    load(api, attacker={**ATTACKER, "displayName": "Pixel 9"},  # not what the review saw
         rule={**RULE, "isEnabled": False})  # someone disabled it already
    run_id = seed(api)
    answer = approve(api, run_id, CONTAIN)
    assert answer.status_code == 200, answer.text
    results = {r["action"]: r for r in answer.json()["results"]}
    assert results["removeMethods"]["outcome"] == "refused"
    assert "m-attacker (microsoftAuthenticator (SM-A515F)): changed since the review" in \
        results["removeMethods"]["message"]
    assert results["disableInboxRules"]["outcome"] == "refused"
    assert results["revokeGrants"]["outcome"] == "done"
    assert len(api.graph.tenant().directory.methods) == 3
    sent = [c["path"] for c in api.graph.remediation_calls]
    assert not [p for p in sent if "authentication" in p or "messageRules" in p]
    record = remediations_table(api.services).get("approval", answer.json()["approvalId"])
    assert record is not None and record.status == "partial"


def test_an_object_gone_or_never_recorded_is_refused(api: ApiClient) -> None:
    owned = [{**m, "_owner": ALICE} for m in (PASSWORD, OWN)]  # the attacker's method is gone
    api.graph.load(users=[dict(u) for u in USERS], authentication_methods=owned,
                   message_rules=[{**RULE, "_owner": ALICE}], permission_grants=[GRANT])
    run_id = seed(api, findings=[*FINDINGS[:1], Finding(
        type="persistence", severity="high", summary="A rule the evidence does not hold.",
        sign_in_ids=["s1"], objects=[ObjectRef("rule", "r-other", "other")])])
    results = {r["action"]: r for r in approve(api, run_id, CONTAIN[:2]).json()["results"]}
    assert "gone since the review" in results["removeMethods"]["message"]
    assert "r-other: not recorded in the verdict's evidence" in \
        results["disableInboxRules"]["message"]
    assert {r["outcome"] for r in results.values()} == {"refused"}
    assert api.graph.remediation_calls == []
