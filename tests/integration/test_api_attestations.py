"""Sign-offs of a privileged-account review over HTTP (Azurite, the real routes): recorded once,
write-once and chained after the run's manifest, checked by verify-evidence; refused when
malformed, duplicated, addressed to an account the review does not list, or to a run that is not
a finished privileged-account review. The approvers' door takes the reviewer from the platform's
sign-in, and only where that sign-in is on."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from msgspec.structs import replace

from shared.api import ApiRequest, handle
from shared.audit import verify_run
from shared.audit.attestations import attestation_name, run_attestations
from shared.model import (
    PrivilegedAccount,
    PrivilegedReview,
    ReviewResult,
    RoleHolding,
    TenantSummary,
    Window,
)
from shared.pipeline.runs import Tables
from shared.report import render_json
from shared.services import Services
from tests.fixtures.api import (
    ADMIN,
    APPROVER_GROUP,
    APPROVER_OID,
    ApiClient,
    new_run_id,
    overwrite_blob,
    seal_run,
    seed_run,
    signed_in_approver,
)

OTHER_GROUP = "0e1e0000-0000-4000-8000-0000000000e1"

QUARTER = Window(start=datetime(2026, 7, 1, tzinfo=UTC),
                 end=datetime(2026, 9, 30, 23, 59, 59, tzinfo=UTC))
DORMANT = "d0000000-0000-4000-8000-000000000004"


def account(user_id: str, upn: str, *, dormant: bool = False) -> PrivilegedAccount:
    return PrivilegedAccount(
        user_id=user_id, user_principal_name=upn, roles=[RoleHolding("Global Administrator")],
        sign_ins=0 if dormant else 40, successful_sign_ins=0 if dormant else 40, by_month=[],
        last_successful_sign_in=None, dormant=dormant, countries=[], networks=[], devices=[],
        applications=[], single_factor_sign_ins=0, legacy_protocol_sign_ins=0,
        legacy_protocols={}, unmanaged_device_sign_ins=0, device_state_unknown_sign_ins=0,
        failures=0, lockouts=0, findings=[], anomalous_weeks=[], verdict="none", reasons=[],
        attention=["dormant: no sign-in at all in the period"] if dormant else [],
        proposal=["remove the assignment of Global Administrator"] if dormant else ["keep"])


def privileged_run(services: Services, *, privileged: bool = True) -> str:
    """A finished run with its JSON report (write-once) and manifest, as finalize leaves it."""
    run_id = new_run_id()
    review = PrivilegedReview(period=QUARTER, read=QUARTER, read_detail="the whole period",
                              accounts=[account(DORMANT, "old.admin@contoso.com", dormant=True),
                                        account(ADMIN, "admin@contoso.com")])
    result = ReviewResult(window=QUARTER, tenant=TenantSummary(sign_ins=40, users=1), users=[],
                          privileged_review=review if privileged else None)
    ref = services.store.evidence.put_evidence(f"runs/{run_id}/report.json",
                                               render_json(result), content_type="application/json")
    html = services.store.evidence.put_evidence(f"runs/{run_id}/report.html", b"<p>sealed</p>",
                                                content_type="text/html")
    seed_run(services, run_id)
    Tables.of(services.store).change_run(run_id, lambda r: replace(
        r, kind="privileged" if privileged else "tenant", reports={"json": ref, "html": html}))
    seal_run(services, run_id)
    return run_id


def attest(api: ApiClient, run_id: str, body: object, **kw: object):  # type: ignore[no-untyped-def]
    return api.call("POST", f"/api/privileged-reviews/{run_id}/attestations", json=body, **kw)


def test_sign_offs_are_recorded_once_chained_and_verified(api: ApiClient) -> None:
    run_id = privileged_run(api.services)
    kept = attest(api, run_id, {"account": "ADMIN@contoso.com", "decision": "keep",
                                "reviewer": "Ana Lopez", "comment": "daily admin, MFA"})
    assert kept.status_code == 201, kept.text
    assert kept.json()["status"] == "recorded" and kept.json()["userId"] == ADMIN
    removed = attest(api, run_id, {"account": DORMANT, "decision": "remove-role",
                                   "reviewer": "Ana Lopez"})
    assert removed.status_code == 201
    again = attest(api, run_id, {"account": "admin@contoso.com", "decision": "remove-role",
                                 "reviewer": "Someone Else"})
    assert again.status_code == 409 and "already signed off by Ana Lopez" in again.text
    signed = run_attestations(api.services.store, run_id)
    assert sorted(a.decision for a in signed) == ["keep", "remove-role"]
    check = verify_run(api.services.store, run_id)
    assert check.ok, check.problems
    assert check.attestations_checked == 2
    assert "admin@contoso.com: keep by Ana Lopez" in check.attestations
    report = api.call("GET", f"/api/reviews/{run_id}/report")
    assert report.status_code == 200 and "X-Report-Record" in report.headers
    assert "keep by Ana Lopez" in report.text and "remove-role by Ana Lopez" in report.text
    assert "Every account is signed off." in report.text


def test_refused_when_malformed_unknown_or_not_a_privileged_review(api: ApiClient) -> None:
    run_id = privileged_run(api.services)
    for body, field in (({"account": "admin@contoso.com", "decision": "approve",
                          "reviewer": "Ana"}, "decision"),
                        ({"account": "admin@contoso.com", "decision": "keep"}, "reviewer"),
                        ({"account": "not an account", "decision": "keep",
                          "reviewer": "Ana"}, "account"),
                        ({"account": "admin@contoso.com", "decision": "keep", "reviewer": "Ana",
                          "extra": 1}, "extra")):
        answer = attest(api, run_id, body)
        assert answer.status_code == 400, (body, answer.text)
        assert field in answer.text
    stranger = attest(api, run_id, {"account": "alice@contoso.com", "decision": "keep",
                                    "reviewer": "Ana"})
    assert stranger.status_code == 400
    assert "is not one of the 2 privileged accounts" in stranger.text
    assert attest(api, new_run_id(), {"account": "admin@contoso.com", "decision": "keep",
                                      "reviewer": "Ana"}).status_code == 404
    weekend = privileged_run(api.services, privileged=False)
    answer = attest(api, weekend, {"account": "admin@contoso.com", "decision": "keep",
                                   "reviewer": "Ana"})
    assert answer.status_code == 409 and "not a privileged-account review" in answer.text
    assert run_attestations(api.services.store, run_id) == []
    assert attest(api, run_id, {"account": "admin@contoso.com", "decision": "keep",
                                "reviewer": "Ana"}, key=False, check=False).status_code == 401


def test_verify_evidence_names_an_altered_sign_off(api: ApiClient) -> None:
    run_id = privileged_run(api.services)
    assert attest(api, run_id, {"account": "admin@contoso.com", "decision": "keep",
                                "reviewer": "Ana"}).status_code == 201
    (signed,) = run_attestations(api.services.store, run_id)
    name = attestation_name(run_id, signed.key)
    assert signed.audit is not None and signed.audit.name == name
    original = api.services.store.evidence.read_evidence(signed.audit)
    overwrite_blob(api.services, name, original.replace(b'"keep"', b'"remove-role"'))
    try:
        check = verify_run(api.services.store, run_id)
    finally:  # the chain is the session's: later entries link back through this one
        overwrite_blob(api.services, name, original)
    assert not check.ok
    assert any("sign-off of admin@contoso.com by Ana was altered" in p.sentence
               for p in check.problems), check.problems


def test_approvers_door_takes_the_signed_in_reviewer(api: ApiClient) -> None:
    run_id = privileged_run(api.services)
    signed_in = {**signed_in_approver(), "content-type": "application/json"}
    body = msgspec.json.encode({"account": "admin@contoso.com", "decision": "investigate"})
    forged = api.call("POST", f"/api/approvals/privileged-reviews/{run_id}/attestations",
                      body=body, headers=signed_in, key=False)
    assert forged.status_code == 401  # the platform's sign-in is off here: the header is forged
    platform = Services(replace(api.services.settings, platform_auth_enabled=True,
                                approver_group_id=APPROVER_GROUP),
                        store_prefix=api.services.store_prefix)

    def post(headers: dict[str, str], payload: bytes) -> int:
        request = ApiRequest("POST", "http://127.0.0.1/api/approvals/privileged-reviews/x",
                             route_params={"runId": run_id}, query={}, headers=headers,
                             body=payload)
        return handle(platform, "create_approver_attestation", request).status

    with_reviewer = msgspec.json.encode({"account": "admin@contoso.com", "decision": "keep",
                                         "reviewer": "Mallory"})
    assert post(signed_in, with_reviewer) == 400
    assert post({"content-type": "application/json"}, body) == 401
    assert post({**signed_in_approver(group=OTHER_GROUP), "content-type": "application/json"},
                body) == 403  # signed in, but not an approver
    assert post({"x-ms-client-principal-id": APPROVER_OID, "content-type": "application/json"},
                body) == 401  # the id header alone is not the platform's sign-in
    assert post(signed_in, body) == 201
    (signed,) = run_attestations(api.services.store, run_id)
    assert (signed.reviewer, signed.decision) == ("approver@contoso.com", "investigate")
    assert signed.caller == "5f0c7a52-0000-4000-8000-00000000a001"
    check = verify_run(api.services.store, run_id)
    assert check.ok, check.problems
