"""POST /api/remediations: a person approved; act, but only on preserved evidence, and once.

Order (each step refuses before the next can touch anything):
1. the caller's bearer token (`auth.authenticate`), then the body;
2. idempotency on the approval id: a finished record is answered again as it was, without Graph;
   the same approval id with a different body is a 409;
3. a "started" record is created with create-only semantics before any Graph call, so of two
   concurrent duplicates exactly one runs the actions; a started record whose worker stopped
   writing for `LEASE` (a crash) is taken over, and the actions without an outcome run again
   (all four are idempotent on Graph's side);
4. the evidence guard (`evidence_guard.py`): the verdict exists, its bundle is the one bundle
   for the user in a blob of its own run, sealed by the run's write-once manifest, and the
   bundle and every page (and context) blob it lists exist and hash to the SHA-256 the manifest
   lists; any doubt (a read or decode error too) refuses the remediation (409), recorded in the
   table and in WORM, and nothing is sent to Graph;
5. the actions, in a fixed order (disable, revoke, reset, confirm), each outcome written as it
   comes: done, failed (Graph's code and message) or not-permitted (Graph's 403, e.g. an admin
   whose account needs a higher directory role to change); steps Graph would refuse are not
   sent and say why: `needs-role` (an administrator's disable or reset while the remediator
   holds no higher role) or `on-premises` (a synced user's, done in on-premises AD);
6. a WORM audit record (evidence blob) with the verdict level a person approved acting on, and
   the final table record, which is the answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

import msgspec
from msgspec.structs import replace

from shared.api.auth import Caller, authenticate
from shared.api.containment import contain
from shared.api.evidence_guard import inspect_evidence
from shared.api.messages import ApiRequest, ApiResponse, json_response
from shared.api.problems import problem
from shared.api.reviews import verdicts_table
from shared.api.validation import RemediationBody, decode_body, remediation_order
from shared.audit import append_remediation_audit
from shared.errors import ConcurrencyConflict, ConflictError
from shared.graph import (
    ActionOutcome,
    GraphConnection,
    confirm_compromised,
    disable_account,
    force_password_reset,
    revoke_sessions,
)
from shared.logs import bound, event
from shared.pipeline.records import (
    ActionResult,
    RemediationAction,
    RemediationRecord,
    VerdictRecord,
    remediation_keys,
)
from shared.remediation_objects import CONTAINMENT
from shared.remediation_plan import plan_step
from shared.services import Services
from shared.store import EntityTable, EvidenceRef, Versioned

LEASE = timedelta(minutes=5)  # longer than an HTTP request may last (230 s)
PARTITION = "approval"
AUDIT_SCHEMA = "remediation-audit/1"


def remediations_table(services: Services) -> EntityTable[RemediationRecord]:
    return services.store.table(services.store.names.remediations, RemediationRecord,
                                remediation_keys)


def create_remediation(services: Services, request: ApiRequest) -> ApiResponse:
    caller = authenticate(services.settings, request.headers)
    order = remediation_order(decode_body(request, RemediationBody))
    with bound(runId=order.run_id, userId=order.user_id, approvalId=order.approval_id):
        table = remediations_table(services)
        now = services.clock()
        claim = table.get_versioned(PARTITION, order.approval_id)
        if claim is None:
            record = started(order, caller, now)
            etag = table.create(record)
            if etag is not None:
                final = carry_out(services, table, Versioned(record, etag))
                return answer(final, request.correlation_id)
            claim = table.get_versioned(PARTITION, order.approval_id)
            if claim is None:  # created and deleted in between: nothing sane to do but refuse
                raise ConflictError(f"approval {order.approval_id} changed while being read")
        return answer(replay(services, table, claim, order, now), request.correlation_id)


def started(order: RemediationBody, caller: Caller, now: datetime) -> RemediationRecord:
    return RemediationRecord(
        approval_id=order.approval_id, run_id=order.run_id, user_id=order.user_id,
        actions=list(order.actions), approver=order.approver, comment=order.comment,
        caller=caller.object_id, requested_at=now, status="started", updated_at=now,
    )


def same_request(record: RemediationRecord, order: RemediationBody) -> bool:
    return (record.run_id, record.user_id, sorted(record.actions), record.approver,
            record.comment) == (order.run_id, order.user_id, sorted(order.actions),
                                order.approver, order.comment)


def replay(services: Services, table: EntityTable[RemediationRecord],
           claim: Versioned[RemediationRecord], order: RemediationBody,
           now: datetime) -> RemediationRecord:
    """The answer for an approval id seen before: the record, a conflict, or a take-over."""
    existing = claim.record
    if not same_request(existing, order):
        raise ConflictError(f"approval {order.approval_id} was already used for a different "
                            f"request; an approval id names one decision")
    if existing.status != "started":
        event("remediation.replayed", status=existing.status)
        return existing
    if now - (existing.updated_at or existing.requested_at) < LEASE:
        raise ConflictError(f"approval {order.approval_id} is being carried out; ask again "
                            f"in a minute for its outcome")
    event("remediation.taken_over", since=str(existing.updated_at))
    taken = replace(existing, updated_at=now)
    try:
        etag = table.update_if_match(taken, claim.etag)
    except ConcurrencyConflict:
        raise ConflictError(f"approval {order.approval_id} is being carried out") from None
    return carry_out(services, table, Versioned(taken, etag))


# --- the guard ------------------------------------------------------------------------------


def guard(services: Services, record: RemediationRecord
          ) -> tuple[VerdictRecord | None, list[EvidenceRef], list[str]]:
    verdict = verdicts_table(services).get(record.run_id, record.user_id)
    if verdict is None:
        return None, [], [f"run {record.run_id} has no verdict for user {record.user_id}"]
    if (verdict.run_id, verdict.user_id) != (record.run_id, record.user_id):
        # the entity's own fields, not only its keys, must name the approved run and user: an
        # entity copied under other keys would bring another user's intact, sealed evidence
        return verdict, [], [f"the verdict stored for run {record.run_id} and user "
                             f"{record.user_id} names run {verdict.run_id[:128]} and user "
                             f"{verdict.user_id[:128]}"]
    checked, problems = inspect_evidence(services.store, verdict)
    return verdict, checked, problems


# --- carrying it out ------------------------------------------------------------------------


def carry_out(services: Services, table: EntityTable[RemediationRecord],
              claim: Versioned[RemediationRecord]) -> RemediationRecord:
    """Guard, act, audit: the final record (already written to the table)."""
    verdict, checked, problems = guard(services, claim.record)
    record = replace(claim.record, evidence_checked=checked,
                     verdict=verdict.verdict if verdict else None)
    etag = claim.etag
    if problems:
        event("remediation.refused", problems=len(problems))
        reason = "evidence guard: " + "; ".join(problems)
        results = [ActionResult(action=a, outcome="refused", message=reason[:2000])
                   for a in record.actions]
        return finish(services, table, replace(record, status="refused", results=results),
                      etag, verdict, problems)
    done = {r.action for r in record.results}  # outcomes of an earlier, interrupted attempt

    def progress(result: ActionResult) -> None:
        nonlocal record, etag
        record = replace(record, results=[*record.results, result],
                         updated_at=services.clock())
        etag = table.update_if_match(record, etag)

    pending = [a for a in record.actions if a not in done]
    for result in not_carried_out(services, verdict, pending):
        progress(result)
        pending.remove(result.action)
    asyncio.run(perform(services, record.user_id, pending, progress, verdict))
    return finish(services, table, replace(record, status=overall(record.results)), etag,
                  verdict, [])


CALLS = {
    "disableAccount": disable_account,
    "revokeSessions": revoke_sessions,
    "forcePasswordReset": force_password_reset,
}


async def perform(services: Services, user_id: str, actions: list[RemediationAction],
                  progress: Callable[[ActionResult], None],
                  verdict: VerdictRecord | None = None) -> None:
    """Each action through the remediator's Graph connection; `progress` after each.
    Containment steps act on the objects the verdict's evidence names (api/containment.py)."""
    if not actions:
        return
    graph: GraphConnection
    async with services.graph("remediator") as graph:
        for action in actions:
            if action in CONTAINMENT:
                assert verdict is not None  # the guard found it
                result = await contain(graph, services.store, verdict, action)
                event("remediation.action", action=action, outcome=result.outcome,
                      status=result.status, graphCode=result.graph_code)
                progress(result)
                continue
            if action == "confirmCompromised":
                outcome = (await confirm_compromised(graph, [user_id]))[0]
            else:
                outcome = await CALLS[action](graph, user_id)
            result = action_result(action, outcome)
            event("remediation.action", action=action, outcome=result.outcome,
                  status=result.status, graphCode=result.graph_code)
            progress(result)


def not_carried_out(services: Services, verdict: VerdictRecord | None,
                    actions: list[RemediationAction]) -> list[ActionResult]:
    """Approved steps Graph would refuse, recorded without a call: a synced user's disable or
    reset (on-premises AD), an administrator's without a higher role for the remediator (its
    roles as configured now, so a role granted since the verdict counts)."""
    if verdict is None:
        return []
    synced = any(s.status == "on-premises" for s in verdict.detail.remediation)
    # the plan read the user's directory roles: one beyond User Administrator's reach (an admin
    # role the review does not count as privileged) is treated as an administrator here too
    beyond = any(s.status == "needs-role" for s in verdict.detail.remediation)
    results = []
    for action in actions:
        step = plan_step(action, privileged=verdict.privileged or beyond, synced=synced,
                         remediator_roles=services.settings.remediator_directory_roles)
        if step.status != "will-run":
            results.append(ActionResult(action=action, outcome=step.status,
                                        message=f"not sent to Graph: {step.note}"[:1000]))
    return results


ON_PREMISES_MASTERED = "on-premises mastered"


def action_result(action: RemediationAction, outcome: ActionOutcome) -> ActionResult:
    """Graph's answer as an outcome: a 400 for an on-premises mastered user says where the step
    must happen instead; a 403 that the remediator is not permitted (a role or a permission)."""
    kind: Literal["done", "failed", "not-permitted", "on-premises"] = (
        "done" if outcome.ok else "not-permitted" if outcome.status == 403
        else "on-premises" if ON_PREMISES_MASTERED in outcome.message.lower() else "failed")
    return ActionResult(action=action, outcome=kind, status=outcome.status,
                        graph_code=outcome.graph_code, message=outcome.message[:1000])


def overall(results: list[ActionResult]) -> Literal["done", "partial", "failed"]:
    done = sum(r.outcome == "done" for r in results)
    return "done" if done == len(results) else ("partial" if done else "failed")


def finish(services: Services, table: EntityTable[RemediationRecord],
           record: RemediationRecord, etag: str, verdict: VerdictRecord | None,
           problems: list[str]) -> RemediationRecord:
    """Write the WORM audit record, then the final table record pointing at it."""
    now = services.clock()
    record = replace(record, updated_at=now)
    audit = {
        "schema": AUDIT_SCHEMA,
        "writtenAt": now,
        "remediation": record,
        "refusal": problems,
        "verdict": None if verdict is None else {
            "level": verdict.verdict, "privileged": verdict.privileged,
            "gotIn": verdict.got_in, "findingTypes": verdict.finding_types,
            "proposedActions": verdict.proposed_actions, "scoredAt": verdict.scored_at,
            "evidence": verdict.evidence,
        },
    }
    ref = append_remediation_audit(services, record.approval_id, record.run_id, audit)
    record = replace(record, audit=ref)
    table.update_if_match(record, etag)
    event("remediation.recorded", status=record.status, audit=ref.name)
    return record


def answer(record: RemediationRecord, correlation_id: str) -> ApiResponse:
    """200 with the record, or 409 with the refusal (the same on every replay)."""
    body = msgspec.to_builtins(record)
    if record.status == "refused":
        detail = record.results[0].message if record.results else "remediation refused"
        return problem(409, detail, correlation_id=correlation_id, extra={"remediation": body})
    return json_response(200, body)
