"""Which remediation steps Graph will carry out for a user, and which it will refuse.

Graph refuses some steps for reasons no approval can change (REFERENCE.md, "What real tenants
do"; https://learn.microsoft.com/en-us/graph/api/resources/users#who-can-perform-sensitive-actions):

- Revoking sessions and confirming compromise work for every user.
- Disabling an account or forcing a password reset changes sensitive properties
  (accountEnabled, passwordProfile). For an administrator, an app may do that only while it holds
  a higher-privileged directory role (Privileged Authentication Administrator, or Global
  Administrator): otherwise 403 Authorization_RequestDenied.
- For a synced user (onPremisesSyncEnabled, mastered in on-premises AD) Entra ID refuses those
  changes for everyone (400 Request_BadRequest): they are made in on-premises AD.

So a proposal, the approval request and the outcome each say which steps run here
(`will-run`), which need a role the remediator lacks (`needs-role`) and which must be done
on-premises (`on-premises`); only `will-run` steps are offered for approval. Pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from msgspec.structs import replace

from shared.model import PlannedStep, UserVerdict

ACTIONS = ("revokeSessions", "confirmCompromised", "forcePasswordReset", "disableAccount")
SENSITIVE = frozenset({"disableAccount", "forcePasswordReset"})
ADMIN_CHANGERS = ("Privileged Authentication Administrator", "Global Administrator")
WORDS = {"revokeSessions": "revoke sessions", "confirmCompromised": "confirm compromised",
         "forcePasswordReset": "force a password reset", "disableAccount": "disable the account"}


def can_change_admins(remediator_roles: Iterable[str]) -> bool:
    held = {role.strip().lower() for role in remediator_roles}
    return any(role.lower() in held for role in ADMIN_CHANGERS)


def plan_step(action: str, *, privileged: bool, synced: bool,
              remediator_roles: Sequence[str]) -> PlannedStep:
    """Whether Graph will carry out `action` for this user with the remediator's roles."""
    if action not in SENSITIVE:
        return PlannedStep(action, "will-run")
    if synced:
        return PlannedStep(action, "on-premises", (
            f"{WORDS[action]} in on-premises AD: the account is synced from there and Entra ID "
            "refuses the change"))
    if privileged and not can_change_admins(remediator_roles):
        held = ", ".join(remediator_roles) or "no directory role"
        return PlannedStep(action, "needs-role", (
            f"{WORDS[action]} needs the remediator to hold Privileged Authentication "
            f"Administrator (it holds {held}): an administrator's account is changed only by "
            "a higher role; do it by hand or grant the role"))
    return PlannedStep(action, "will-run")


def plan(actions: Sequence[str], *, privileged: bool, synced: bool,
         remediator_roles: Sequence[str]) -> list[PlannedStep]:
    """Every remediation action of a proposal (not "investigate"), in a proportionate order:
    what works for everyone first."""
    chosen = [a for a in ACTIONS if a in actions]
    return [plan_step(a, privileged=privileged, synced=synced,
                      remediator_roles=remediator_roles) for a in chosen]


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


def apply_plan(verdict: UserVerdict, *, synced: bool, remediator_roles: Sequence[str]
               ) -> UserVerdict:
    """The verdict with its remediation planned: `remediation` lists every step and its status,
    `proposed_actions` keeps only what Graph will carry out (and "investigate")."""
    steps = plan(verdict.proposed_actions, privileged=verdict.privileged, synced=synced,
                 remediator_roles=remediator_roles)
    if not steps:
        return verdict
    others = [a for a in verdict.proposed_actions if a not in ACTIONS]
    return replace(verdict, proposed_actions=runnable(steps) + others, remediation=steps)


def needs_facts(verdict: UserVerdict) -> bool:
    """Whether planning this verdict depends on the user being synced."""
    return any(a in SENSITIVE for a in verdict.proposed_actions)
