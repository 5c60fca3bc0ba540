"""Which remediation steps Graph will carry out, per kind of user and remediator role: named
cases side by side (REFERENCE.md, "What real tenants do")."""

from __future__ import annotations

import pytest

from shared.model import UserStats, UserVerdict
from shared.remediation_plan import apply_plan, plan, summary

HIGH = ["revokeSessions", "forcePasswordReset", "confirmCompromised", "disableAccount"]
USER_ADMIN = ("User Administrator",)
PAA = ("Privileged Authentication Administrator",)

CASES = {
    # name: (privileged, synced, remediator roles, expected status per action)
    "ordinary_user": (False, False, USER_ADMIN, {a: "will-run" for a in HIGH}),
    "admin_without_higher_role": (True, False, USER_ADMIN, {
        "revokeSessions": "will-run", "confirmCompromised": "will-run",
        "forcePasswordReset": "needs-role", "disableAccount": "needs-role"}),
    "admin_with_privileged_authentication_admin": (True, False, PAA,
                                                   {a: "will-run" for a in HIGH}),
    "admin_with_no_role_at_all": (True, False, (), {
        "revokeSessions": "will-run", "confirmCompromised": "will-run",
        "forcePasswordReset": "needs-role", "disableAccount": "needs-role"}),
    "synced_user": (False, True, PAA, {
        "revokeSessions": "will-run", "confirmCompromised": "will-run",
        "forcePasswordReset": "on-premises", "disableAccount": "on-premises"}),
    "synced_admin_even_with_global_admin": (True, True, ("Global Administrator",), {
        "revokeSessions": "will-run", "confirmCompromised": "will-run",
        "forcePasswordReset": "on-premises", "disableAccount": "on-premises"}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_plan(name: str) -> None:
    privileged, synced, roles, expected = CASES[name]
    steps = plan(HIGH, privileged=privileged, synced=synced, remediator_roles=roles)
    assert {s.action: s.status for s in steps} == expected
    assert [s.action for s in steps][:2] == ["revokeSessions", "confirmCompromised"]
    assert all(s.note for s in steps if s.status != "will-run")


def test_verdict_offers_only_what_runs_and_names_the_rest() -> None:
    verdict = UserVerdict(user_id="u", user_principal_name="admin@contoso.com", verdict="high",
                          privileged=True, findings=[], reasons=[], stats=UserStats(),
                          proposed_actions=["revokeSessions", "forcePasswordReset",
                                            "disableAccount"])
    planned = apply_plan(verdict, synced=False, remediator_roles=USER_ADMIN)
    assert planned.proposed_actions == ["revokeSessions"]
    assert [s.status for s in planned.remediation] == ["will-run", "needs-role", "needs-role"]
    text = summary(planned.remediation)
    assert text.startswith("Will run here once approved: revoke sessions.")
    assert "needs the remediator to hold Privileged Authentication Administrator" in text
    investigate = UserVerdict(user_id="u", user_principal_name=None, verdict="medium",
                              privileged=True, findings=[], reasons=[], stats=UserStats(),
                              proposed_actions=["investigate"])
    assert apply_plan(investigate, synced=True, remediator_roles=()) == investigate
