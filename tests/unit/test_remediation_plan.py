"""Which remediation steps Graph will carry out, per kind of user and remediator role: named
cases side by side (REFERENCE.md, "What real tenants do")."""

from __future__ import annotations

import pytest

from shared.model import UserStats, UserVerdict
from shared.remediation_plan import (
    MEMBERSHIP_UNREAD,
    ROLE_GROUP_MEMBER,
    apply_plan,
    plan,
    summary,
)

HIGH = ["revokeSessions", "forcePasswordReset", "confirmCompromised", "disableAccount"]
USER_ADMIN = ("User Administrator",)
PAA = ("Privileged Authentication Administrator",)

CASES = {
    # name: (privileged, synced, remediator roles, expected status per action)
    "ordinary_user": (False, False, USER_ADMIN, {a: "will-run" for a in HIGH}),
    # revoke is refused for administrators too (Azure-Sentinel #783, microsoft-365-docs #12853)
    "admin_without_higher_role": (True, False, USER_ADMIN, {
        "revokeSessions": "needs-role", "confirmCompromised": "will-run",
        "forcePasswordReset": "needs-role", "disableAccount": "needs-role"}),
    "admin_with_privileged_authentication_admin": (True, False, PAA,
                                                   {a: "will-run" for a in HIGH}),
    "admin_with_no_role_at_all": (True, False, (), {
        "revokeSessions": "needs-role", "confirmCompromised": "will-run",
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


HELPDESK = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
PASSWORD_ADMIN = "966707d0-3269-4727-9be2-8c3a10f19b9d"
USER_ADMIN_ROLE = "fe930be7-5e62-47db-91af-98c3a49a38b1"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
INTUNE_ADMIN = "3a2c62db-5318-420d-8d74-23affee5d9d5"

# Microsoft's who-can-act table (users#who-can-perform-sensitive-actions; REFERENCE.md): the
# target's roles as read from Graph, the remediator's roles, and what runs.
WHO_CAN_ACT = {
    # name: (target roles, remediator roles, status of revoke/reset/disable)
    "user_admin_on_a_user_without_roles": (set(), USER_ADMIN, "will-run"),
    "user_admin_on_a_helpdesk_admin": ({HELPDESK}, USER_ADMIN, "will-run"),
    "user_admin_on_password_and_user_admins": ({PASSWORD_ADMIN, USER_ADMIN_ROLE}, USER_ADMIN,
                                               "will-run"),
    "user_admin_on_an_intune_admin": ({INTUNE_ADMIN}, USER_ADMIN, "needs-role"),
    "user_admin_on_a_global_admin": ({GLOBAL_ADMIN}, USER_ADMIN, "needs-role"),
    "user_admin_on_helpdesk_and_global": ({HELPDESK, GLOBAL_ADMIN}, USER_ADMIN, "needs-role"),
    "paa_on_a_global_admin": ({GLOBAL_ADMIN}, PAA, "will-run"),
    "no_role_on_a_helpdesk_admin": ({HELPDESK}, (), "needs-role"),
    # members of role-assignable groups: only PAA or Global Administrator (privileged-roles-
    # permissions); memberships that could not be read are a refusal
    "user_admin_on_a_role_group_member": ({ROLE_GROUP_MEMBER}, USER_ADMIN, "needs-role"),
    "user_admin_on_a_helpdesk_in_a_role_group": ({HELPDESK, ROLE_GROUP_MEMBER}, USER_ADMIN,
                                                 "needs-role"),
    "user_admin_on_unread_memberships": ({MEMBERSHIP_UNREAD}, USER_ADMIN, "needs-role"),
    "paa_on_a_role_group_member": ({ROLE_GROUP_MEMBER}, PAA, "will-run"),
}


@pytest.mark.parametrize("name", sorted(WHO_CAN_ACT))
def test_who_can_act_on_whom(name: str) -> None:
    target, roles, status = WHO_CAN_ACT[name]
    for privileged in (False, True):  # the roles read decide, not the privileged flag
        steps = plan(HIGH, privileged=privileged, synced=False, remediator_roles=roles,
                     target_roles=target)
        expected = {a: status for a in HIGH} | {"confirmCompromised": "will-run"}
        assert {s.action: s.status for s in steps} == expected
    assert all(s.note for s in steps if s.status != "will-run")


def test_verdict_offers_only_what_runs_and_names_the_rest() -> None:
    verdict = UserVerdict(user_id="u", user_principal_name="admin@contoso.com", verdict="high",
                          privileged=True, findings=[], reasons=[], stats=UserStats(),
                          proposed_actions=["revokeSessions", "forcePasswordReset",
                                            "disableAccount"])
    planned = apply_plan(verdict, synced=False, remediator_roles=USER_ADMIN,
                         target_roles={HELPDESK})
    assert planned.proposed_actions == ["revokeSessions", "forcePasswordReset", "disableAccount"]
    planned = apply_plan(verdict, synced=False, remediator_roles=USER_ADMIN)
    assert planned.proposed_actions == []  # nothing Graph would refuse is proposed
    assert [s.status for s in planned.remediation] == ["needs-role"] * 3
    planned = apply_plan(verdict, synced=True, remediator_roles=USER_ADMIN,
                         target_roles=set())
    assert planned.proposed_actions == ["revokeSessions"]
    text = summary(planned.remediation)
    assert text.startswith("Will run here once approved: revoke sessions.")
    assert "on-premises AD" in text
    text = summary(apply_plan(verdict, synced=False, remediator_roles=USER_ADMIN).remediation)
    assert "needs the remediator to hold Privileged Authentication Administrator" in text
    investigate = UserVerdict(user_id="u", user_principal_name=None, verdict="medium",
                              privileged=True, findings=[], reasons=[], stats=UserStats(),
                              proposed_actions=["investigate"])
    assert apply_plan(investigate, synced=True, remediator_roles=()) == investigate
