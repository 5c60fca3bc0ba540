"""Containment: remove what the attacker left, and only that, only as the evidence recorded it.

A `high` verdict whose `persistence` findings name objects (shared/detect/persistence.py) is
proposed three more steps, after the account steps (disable, revoke, reset, confirm), in the
order responders use (CIPP's compromised-account remediation: reset, disable, revoke sessions,
remove authentication methods, disable inbox rules):

- `removeMethods`: the authentication methods registered after the suspicious sign-in;
- `disableInboxRules`: the inbox rules that forward, delete or hide mail;
- `revokeGrants`: the consented application's delegated grant for this user.

The approval mail names each object (`describe`), so the approver sees exactly which method and
which rule will go. When the approval arrives, after the evidence guard has passed, each object
is checked against what the user's evidence bundle recorded and what Graph says now
(`check_objects`): an object the evidence does not hold, that is gone, or that differs in any
field from the recorded one is refused, never guessed; the step is refused whole when any of
its objects is (the approver approved a set of objects, not "whatever is there now").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import msgspec

from shared.model import Finding, ObjectKind, ObjectRef
from shared.persistence.records import AuthMethod, Followed, InboxRule, PermissionGrant

Containment = Literal["removeMethods", "disableInboxRules", "revokeGrants"]
CONTAINMENT: dict[Containment, ObjectKind] = {
    "removeMethods": "method", "disableInboxRules": "rule", "revokeGrants": "grant",
}
WORDS: dict[str, str] = {
    "removeMethods": "remove the authentication methods the attacker registered",
    "disableInboxRules": "disable the suspicious inbox rules",
    "revokeGrants": "revoke the consented application's grant",
}
Recorded = AuthMethod | InboxRule | PermissionGrant


def named_objects(findings: Sequence[Finding]) -> list[ObjectRef]:
    """Every object the active persistence findings name, once each, in finding order."""
    found: dict[tuple[str, str], ObjectRef] = {}
    for finding in findings:
        if finding.type == "persistence" and not finding.context:
            for ref in finding.objects:
                found.setdefault((ref.kind, ref.id), ref)
    return list(found.values())


def containment_actions(findings: Sequence[Finding]) -> list[str]:
    """The containment steps the findings' objects call for, in CONTAINMENT order."""
    kinds = {ref.kind for ref in named_objects(findings)}
    return [action for action, kind in CONTAINMENT.items() if kind in kinds]


def describe(findings: Sequence[Finding]) -> list[str]:
    """One line per object for the approver: "remove the method microsoftAuthenticator
    (SM-A515F)", "disable the inbox rule '.'", "revoke the grant of Mail Backup Pro (...)"."""
    lines = []
    for ref in named_objects(findings):
        if ref.kind == "method":
            lines.append(f"remove the authentication method {ref.label} (id {ref.id})")
        elif ref.kind == "rule":
            lines.append(f"disable the inbox rule '{ref.label}' (id {ref.id})")
        else:
            lines.append(f"revoke the delegated grant of {ref.label} (id {ref.id})")
    return lines


def recorded(followed: Followed | None, ref: ObjectRef) -> Recorded | None:
    """The object as the evidence recorded it, or None when the evidence does not hold it."""
    if followed is None:
        return None
    return next((item for item in _of_kind(followed, ref.kind) or () if item.id == ref.id), None)


def _of_kind(followed: Followed, kind: ObjectKind) -> Sequence[Recorded] | None:
    if kind == "method":
        return followed.methods
    if kind == "rule":
        return followed.rules
    return followed.grants


def check_objects(action: Containment, findings: Sequence[Finding], followed: Followed | None,
                  now: Followed) -> tuple[list[Recorded], list[str]]:
    """The objects `action` may act on, and the reasons to refuse it (any reason refuses the
    whole step): each named object must be in the evidence and, read again now, unchanged."""
    kind = CONTAINMENT[action]
    refs = [ref for ref in named_objects(findings) if ref.kind == kind]
    if not refs:
        return [], [f"{action}: the verdict's evidence names no {kind} to act on"]
    current = _of_kind(now, kind)
    if current is None:
        why = now.unread.get({"method": "methods", "rule": "rules", "grant": "grants"}[kind])
        return [], [f"{action}: the user's {kind}s could not be read again to check them"
                    + (f" ({why})" if why else "")]
    ready: list[Recorded] = []
    problems: list[str] = []
    for ref in refs:
        then = recorded(followed, ref)
        there = next((item for item in current if item.id == ref.id), None)
        if then is None:
            problems.append(f"{kind} {ref.id}: not recorded in the verdict's evidence")
        elif there is None:
            problems.append(f"{kind} {ref.id} ({ref.label}): gone since the review")
        elif msgspec.json.encode(there) != msgspec.json.encode(then):
            problems.append(f"{kind} {ref.id} ({ref.label}): changed since the review")
        else:
            ready.append(then)
    return (ready if not problems else []), problems
