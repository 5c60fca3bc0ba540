"""Carrying out an approved containment step (shared/remediation_objects.py) for one user.

Runs after the evidence guard has passed. The objects come from the user's write-once evidence
bundle (read back hash-checked), never from the verdict's table entity; each is read again
from Graph through the remediator's connection and must be exactly as the bundle recorded it,
else the step is refused and nothing is sent. Each object's outcome is named in the step's
message; the step is done only when every object was.
"""

from __future__ import annotations

import msgspec

from shared.graph import GraphConnection
from shared.graph.containment import disable_rule, remove_method, revoke_grant
from shared.graph.persistence import user_objects
from shared.logs import event
from shared.model import Finding
from shared.persistence.records import AuthMethod, Followed, InboxRule
from shared.pipeline.records import ActionResult, VerdictRecord
from shared.pipeline.scoring import bundles_in
from shared.remediation_objects import Containment, check_objects
from shared.store import Store


class _Findings(msgspec.Struct):
    findings: list[Finding] = msgspec.field(default_factory=list)


class _Contained(msgspec.Struct):
    """What a bundle records for containment (its other fields are not decoded)."""

    user_id: str = ""
    run_id: str = ""
    verdict: _Findings = msgspec.field(default_factory=_Findings)
    followed: Followed | None = None


def _bundle(store: Store, verdict: VerdictRecord) -> _Contained:
    """The user's one bundle in the verdict's evidence blob (read back hash-checked)."""
    mine = [b for b in bundles_in(store.evidence.read_evidence(verdict.evidence), _Contained)
            if b.user_id == verdict.user_id and b.run_id == verdict.run_id]
    if len(mine) != 1:
        raise ValueError(f"{len(mine)} bundles for the user in {verdict.evidence.name}")
    return mine[0]


def _now(found: object) -> Followed:
    from shared.graph.persistence import UserObjects

    assert isinstance(found, UserObjects)
    return Followed(
        methods=found.methods.value if found.methods.available else None,
        rules=found.rules.value if found.rules.available else None,
        grants=found.grants.value if found.grants.available else None,
        unread=found.unread())


async def contain(graph: GraphConnection, store: Store, verdict: VerdictRecord,
                  action: Containment) -> ActionResult:
    """Check the step's objects against the evidence and Graph, then act on each."""
    try:
        bundle = _bundle(store, verdict)
    except Exception as exc:  # any doubt on the way to an action is a refusal
        return ActionResult(action=action, outcome="refused",
                            message=f"the evidence bundle could not be read: {exc}"[:1000])
    now = _now(await user_objects(graph, verdict.user_id))
    ready, problems = check_objects(action, bundle.verdict.findings, bundle.followed, now)
    if problems:
        event("remediation.containment_refused", action=action, problems=len(problems))
        return ActionResult(action=action, outcome="refused",
                            message=("refused, nothing sent: " + "; ".join(problems))[:1000])
    notes: list[str] = []
    failed = None
    for item in ready:
        if isinstance(item, AuthMethod):
            outcome = await remove_method(graph, verdict.user_id, item)
            what = f"method {item.label} ({item.id})"
        elif isinstance(item, InboxRule):
            outcome = await disable_rule(graph, verdict.user_id, item.id)
            what = f"rule '{item.display_name or item.id}' ({item.id})"
        else:
            outcome = await revoke_grant(graph, verdict.user_id, item.id)
            what = f"grant {item.id} of {item.client_id}"
        notes.append(f"{what}: " + ("done" if outcome.ok else
                                    f"failed ({outcome.status} {outcome.graph_code or ''} "
                                    f"{outcome.message})".strip()))
        if not outcome.ok and failed is None:
            failed = outcome
    message = "; ".join(notes)[:1000]
    if failed is None:
        return ActionResult(action=action, outcome="done", status=204, message=message)
    return ActionResult(action=action,
                        outcome="not-permitted" if failed.status == 403 else "failed",
                        status=failed.status, graph_code=failed.graph_code, message=message)
