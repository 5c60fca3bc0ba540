"""Which remediation steps Graph will carry out for a user, and which it will refuse.

Graph refuses some steps for reasons no approval can change (REFERENCE.md, "What real tenants
do"; https://learn.microsoft.com/en-us/graph/api/resources/users#who-can-perform-sensitive-actions):

- Confirming compromise works for every user (Identity Protection, not a directory role).
- Disabling an account or forcing a password reset changes sensitive properties
  (accountEnabled, passwordProfile); Microsoft's table of who may act on whom decides: User
  Administrator may act on users without a directory role and on Helpdesk, Password and User
  Administrators and Directory Readers; any other administrator needs Privileged Authentication
  Administrator (or Global Administrator): otherwise 403 Authorization_RequestDenied.
- Revoking sessions follows the same table: it has been refused for administrators to app-only
  callers without such a role (Azure-Sentinel #783, microsoft-365-docs #12853), so it is not
  promised for everyone.
- For a synced user (onPremisesSyncEnabled, mastered in on-premises AD) Entra ID refuses those
  changes for everyone (400 Request_BadRequest): they are made in on-premises AD.

So a proposal, the approval request and the outcome each say which steps run here
(`will-run`), which need a role the remediator lacks (`needs-role`) and which must be done
on-premises (`on-premises`); only `will-run` steps are offered for approval. Pure functions.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from msgspec.structs import replace

from shared.model import PlannedStep, UserVerdict
from shared.remediation_objects import CONTAINMENT
from shared.remediation_objects import WORDS as CONTAINMENT_WORDS

ACTIONS = ("revokeSessions", "confirmCompromised", "forcePasswordReset", "disableAccount",
           *CONTAINMENT)
SENSITIVE = frozenset({"disableAccount", "forcePasswordReset"})
# Steps Graph carries out on an administrator only for a remediator whose role may act on them.
ROLE_BOUND = SENSITIVE | {"revokeSessions"}
ADMIN_CHANGERS = ("Privileged Authentication Administrator", "Global Administrator")
USER_ADMINISTRATOR = "User Administrator"
# Roles (template ids, the same in every tenant) whose holders User Administrator may act on:
# Microsoft's "who can reset passwords / update sensitive attributes" table
# (https://learn.microsoft.com/en-us/graph/api/resources/users#who-can-perform-sensitive-actions;
# REFERENCE.md).
LIMITED_ADMINS: dict[str, str] = {
    "729827e3-9c14-49f7-bb1b-9608f156bbb8": "Helpdesk Administrator",
    "966707d0-3269-4727-9be2-8c3a10f19b9d": "Password Administrator",
    "fe930be7-5e62-47db-91af-98c3a49a38b1": "User Administrator",
    "88d8e3e3-8f55-4a1e-953a-9b9898b8876b": "Directory Readers",
}
# Markers `shared.graph.directory_roles` adds to a user's roles: a member of a role-assignable
# group (isAssignableToRole) is protected like an administrator, whatever roles the group holds
# ("Only Privileged Authentication Administrator and Global Administrator can reset passwords
# or update sensitive attributes of members of role-assignable groups",
# https://learn.microsoft.com/en-us/entra/identity/role-based-access-control/privileged-roles-permissions;
# REFERENCE.md, "Who may act on whom"); and a user whose memberships could not be read is
# taken to be one (a doubt is a refusal). Neither is within User Administrator's reach.
ROLE_GROUP_MEMBER = "member of a role-assignable group"
MEMBERSHIP_UNREAD = "role-assignable group memberships not read"
WORDS = {"revokeSessions": "revoke sessions", "confirmCompromised": "confirm compromised",
         "forcePasswordReset": "force a password reset", "disableAccount": "disable the account",
         **CONTAINMENT_WORDS}


def can_change_admins(remediator_roles: Iterable[str]) -> bool:
    held = {role.strip().lower() for role in remediator_roles}
    return any(role.lower() in held for role in ADMIN_CHANGERS)


def may_act_on(remediator_roles: Iterable[str], target_roles: Collection[str] | None, *,
               privileged: bool) -> bool:
    """Whether a remediator holding `remediator_roles` may act on a user holding
    `target_roles` (role template ids, active or eligible) per Microsoft's table. Without the
    target's roles (None), a privileged user is taken to hold a role beyond User
    Administrator's reach and any other user to hold none."""
    if can_change_admins(remediator_roles):
        return True
    if target_roles is None:
        return not privileged
    if not target_roles:
        return True
    held = {role.strip().lower() for role in remediator_roles}
    return USER_ADMINISTRATOR.lower() in held and \
        all(role.lower() in LIMITED_ADMINS for role in target_roles)


def plan_step(action: str, *, privileged: bool, synced: bool,
              remediator_roles: Sequence[str],
              target_roles: Collection[str] | None = None) -> PlannedStep:
    """Whether Graph will carry out `action` for this user with the remediator's roles
    (`target_roles`: the user's directory roles, when read; see `may_act_on`)."""
    if action not in ROLE_BOUND:
        return PlannedStep(action, "will-run")
    if synced and action in SENSITIVE:
        return PlannedStep(action, "on-premises", (
            f"{WORDS[action]} in on-premises AD: the account is synced from there and Entra ID "
            "refuses the change"))
    if not may_act_on(remediator_roles, target_roles, privileged=privileged):
        held = ", ".join(remediator_roles) or "no directory role"
        whom = "administrator"
        if target_roles and MEMBERSHIP_UNREAD in target_roles:
            whom = "user, whose role-assignable group memberships could not be read"
        elif target_roles and ROLE_GROUP_MEMBER in target_roles:
            whom = "member of a role-assignable group"
        return PlannedStep(action, "needs-role", (
            f"{WORDS[action]} needs the remediator to hold Privileged Authentication "
            f"Administrator (it holds {held}): Graph lets only a higher role act on this "
            f"{whom}; do it by hand or grant the role"))
    return PlannedStep(action, "will-run")


def plan(actions: Sequence[str], *, privileged: bool, synced: bool,
         remediator_roles: Sequence[str],
         target_roles: Collection[str] | None = None) -> list[PlannedStep]:
    """Every remediation action of a proposal (not "investigate"), in a proportionate order:
    what works for everyone first."""
    chosen = [a for a in ACTIONS if a in actions]
    return [plan_step(a, privileged=privileged, synced=synced,
                      remediator_roles=remediator_roles, target_roles=target_roles)
            for a in chosen]


def runnable(steps: Sequence[PlannedStep]) -> list[str]:
    return [s.action for s in steps if s.status == "will-run"]


def summary(steps: Sequence[PlannedStep]) -> str:
    """One paragraph for the approver: what runs here, what needs a role, what is on-premises."""
    parts = []
    runs = [WORDS[s.action] for s in steps if s.status == "will-run"]
    if runs:
        parts.append("Will run here once approved: " + ", ".join(runs) + ".")
    parts += [f"Not offered (needs a role): {s.note}." for s in steps if s.status == "needs-role"]
    parts += [f"Not offered (on-premises): {s.note}." for s in steps
              if s.status == "on-premises"]
    return " ".join(parts)


def apply_plan(verdict: UserVerdict, *, synced: bool, remediator_roles: Sequence[str],
               target_roles: Collection[str] | None = None) -> UserVerdict:
    """The verdict with its remediation planned: `remediation` lists every step and its status,
    `proposed_actions` keeps only what Graph will carry out (and "investigate")."""
    steps = plan(verdict.proposed_actions, privileged=verdict.privileged, synced=synced,
                 remediator_roles=remediator_roles, target_roles=target_roles)
    if not steps:
        return verdict
    others = [a for a in verdict.proposed_actions if a not in ACTIONS]
    return replace(verdict, proposed_actions=runnable(steps) + others, remediation=steps)


def needs_facts(verdict: UserVerdict) -> bool:
    """Whether planning this verdict depends on the user being synced."""
    return any(a in SENSITIVE for a in verdict.proposed_actions)


def needs_roles(verdict: UserVerdict) -> bool:
    """Whether planning this verdict depends on the user's directory roles."""
    return any(a in ROLE_BOUND for a in verdict.proposed_actions)
