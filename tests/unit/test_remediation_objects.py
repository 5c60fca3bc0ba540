"""Containment proposed only for what the evidence shows, named in the approval mail, and
checked object by object against the evidence and Graph now (benign and hostile side by
side)."""

from __future__ import annotations

import msgspec
import pytest

from shared.analysis import score_user
from shared.model import Finding, ObjectRef, UserStats, UserVerdict
from shared.persistence.records import AuthMethod, Followed
from shared.pipeline.approval_mail import mail_html
from shared.remediation_objects import check_objects, containment_actions, describe
from shared.remediation_plan import apply_plan
from tests.unit.detect_sequences import build, cases
from tests.unit.persistence_sequences import followed

CASES = {c["name"]: c for c in cases("persistence")}
ATTACKER = {"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
            "id": "m-attacker", "displayName": "SM-A515F",
            "createdDateTime": "2025-03-08T23:14:00Z"}


def _verdict(name: str) -> UserVerdict:
    sign_ins, context = build(CASES[name])
    return score_user(sign_ins, msgspec.structs.replace(context, followed=followed(CASES[name])))


def test_the_aitm_user_is_proposed_to_lose_exactly_the_attackers_method() -> None:
    verdict = _verdict("aitm_registers_authenticator_same_address")
    assert verdict.verdict == "high"
    assert verdict.proposed_actions[-1] == "removeMethods"
    assert "disableInboxRules" not in verdict.proposed_actions
    planned = apply_plan(verdict, synced=False, remediator_roles=[])
    assert "removeMethods" in planned.proposed_actions
    html = mail_html(planned, "run-1", None)
    assert "remove the authentication method microsoftAuthenticator (SM-A515F) (id m-attacker)" \
        in html
    assert "Pixel 7" not in html  # the user's own method is not named


@pytest.mark.parametrize("name", ["new_phone_at_home", "new_phone_from_home_after_foreign_sign_in",
                                  "self_service_reset_at_home", "filing_rule_only",
                                  "helpdesk_registers_from_trusted_office"])
def test_benign_changes_propose_no_containment(name: str) -> None:
    verdict = _verdict(name)
    assert not {"removeMethods", "disableInboxRules", "revokeGrants"} & \
        set(verdict.proposed_actions)


def test_a_medium_verdict_proposes_investigation_not_containment() -> None:
    finding = Finding(type="persistence", severity="medium", summary="x.", sign_in_ids=[],
                      objects=[ObjectRef("method", "m1", "phone")])
    assert containment_actions([finding]) == ["removeMethods"]
    verdict = UserVerdict(user_id="u1", user_principal_name=None, verdict="medium",
                          privileged=False, findings=[finding], reasons=[],
                          stats=UserStats(), proposed_actions=["investigate"])
    assert "removeMethods" not in apply_plan(verdict, synced=False,
                                             remediator_roles=[]).proposed_actions
    assert describe([msgspec.structs.replace(finding, context=True)]) == []


def _methods(*rows: dict) -> Followed:
    return Followed(methods=msgspec.convert(list(rows), list[AuthMethod]))


FINDING = Finding(type="persistence", severity="high", summary="x.", sign_in_ids=[],
                  objects=[ObjectRef("method", "m-attacker", "microsoftAuthenticator")])


@pytest.mark.parametrize(("now", "problem"), [
    (_methods(ATTACKER), None),
    (_methods({**ATTACKER, "displayName": "Pixel 9"}), "changed since the review"),
    (_methods(), "gone since the review"),
    (Followed(unread={"methods": "permission: denied"}), "could not be read again"),
])
def test_each_object_is_checked_against_the_evidence_and_graph_now(now, problem) -> None:
    ready, problems = check_objects("removeMethods", [FINDING], _methods(ATTACKER), now)
    if problem is None:
        assert [m.id for m in ready] == ["m-attacker"] and problems == []
    else:
        assert ready == [] and problem in problems[0]


def test_an_object_the_evidence_does_not_hold_is_refused() -> None:
    ready, problems = check_objects("removeMethods", [FINDING], Followed(), _methods(ATTACKER))
    assert ready == [] and "not recorded in the verdict's evidence" in problems[0]
    ready, problems = check_objects("disableInboxRules", [FINDING], None, Followed(rules=[]))
    assert problems == ["disableInboxRules: the verdict's evidence names no rule to act on"]
