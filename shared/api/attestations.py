"""POST /api/privileged-reviews/{runId}/attestations: a reviewer signs off one account.

Two doors, one handler: the function-key route (a ticketing or GRC tool names the `reviewer`),
and /api/approvals/privileged-reviews/{runId}/attestations behind the platform's sign-in, which
only the approvers' group can complete (as the approvers' report route; site-auth.bicep): there
the reviewer is whoever signed in (checked as on the report route: `approvers.approver`), and a
`reviewer` in the body is refused (an unknown field).

Refused, each before anything is written: a malformed body (400), a run that does not exist
(404), a run that is not a finished privileged-account review (409), an account that is not in
the review (400, `account`), and an account already signed off in this run (409: a sign-off is
write-once; a second opinion is a new review). The row is created once before the chain entry is
written; a try that stopped in between leaves a `recording` row that `verify-evidence` names.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec.structs import replace

from shared.api.approvers import approver
from shared.api.messages import ApiRequest, ApiResponse, json_response
from shared.api.reviews import find_run
from shared.api.validation import (
    Comment,
    PersonName,
    UserKey,
    decode_body,
    route_param,
    safe_id,
    user_key,
)
from shared.audit.attestations import (
    AttestationRecord,
    account_key,
    append_attestation_audit,
    attestations_table,
)
from shared.errors import ConflictError, InputError
from shared.logs import bound, event
from shared.model import PrivilegedAccount, ReviewResult
from shared.pipeline.records import RunRecord
from shared.services import Services

FINISHED = ("complete", "partial")


class ApproverAttestationBody(msgspec.Struct, forbid_unknown_fields=True, rename="camel",
                              kw_only=True):
    """One account's sign-off by the approver signed in (who is the reviewer)."""

    account: UserKey  # the account's object id or UPN, as the review lists it
    decision: Literal["keep", "remove-role", "investigate"]
    comment: Comment = ""


class AttestationBody(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """One account's sign-off through the function-key door, naming the reviewer."""

    account: UserKey
    decision: Literal["keep", "remove-role", "investigate"]
    reviewer: PersonName
    comment: Comment = ""


def create_attestation(services: Services, request: ApiRequest) -> ApiResponse:
    """The function-key door: the body names the reviewer."""
    body = decode_body(request, AttestationBody)
    return _attest(services, request, body, body.reviewer, caller="function-key")


def create_approver_attestation(services: Services, request: ApiRequest) -> ApiResponse:
    """The approvers' door: the reviewer is the person the platform signed in."""
    who = approver(services.settings, request.headers)  # the approvers' group, signed in
    body = decode_body(request, ApproverAttestationBody)
    return _attest(services, request, body, who.name.strip() or who.object_id,
                   caller=who.object_id)


def _attest(services: Services, request: ApiRequest,
            body: AttestationBody | ApproverAttestationBody, reviewer: str, *,
            caller: str) -> ApiResponse:
    run = find_run(services, safe_id(route_param(request, "runId"), field="runId"))
    wanted = user_key(body.account, field="account")
    with bound(runId=run.run_id):
        account = review_account(services, run, wanted)
        key = account_key(account.user_id)
        table = attestations_table(services.store)
        record = AttestationRecord(
            run_id=run.run_id, key=key, user_id=account.user_id,
            user_principal_name=account.user_principal_name, decision=body.decision,
            reviewer=reviewer, comment=body.comment, caller=caller,
            recorded_at=services.clock())
        etag = table.create(record)
        if etag is None:
            existing = table.get(run.run_id, f"attestation-{key}")
            who = f" by {existing.reviewer} ({existing.decision}, " \
                  f"{existing.recorded_at:%Y-%m-%d %H:%M} UTC)" if existing else ""
            raise ConflictError(f"account {body.account} of run {run.run_id} is already signed "
                                f"off{who}; a sign-off is recorded once", run_id=run.run_id)
        seen = msgspec.to_builtins(account)
        ref = append_attestation_audit(services, record, seen)
        record = replace(record, status="recorded", audit=ref)
        table.update_if_match(record, etag)
        event("attestation.recorded", decision=record.decision, audit=ref.name)
    return json_response(201, msgspec.to_builtins(record))


def review_account(services: Services, run: RunRecord, wanted: str) -> PrivilegedAccount:
    """The account's entry in the run's (hash-checked) JSON report; refuses runs that are not
    finished privileged-account reviews and accounts they do not list."""
    ref = run.reports.get("json")
    if run.status not in FINISHED or ref is None:
        raise ConflictError(f"run {run.run_id} has no report to sign off yet (it is "
                            f"{run.status})", run_id=run.run_id)
    result = msgspec.json.decode(services.store.evidence.read_evidence(ref), type=ReviewResult)
    review = result.privileged_review
    if review is None:
        raise ConflictError(f"run {run.run_id} is not a privileged-account review",
                            run_id=run.run_id)
    for account in review.accounts:
        if wanted in (account.user_id.lower(), (account.user_principal_name or "").lower()):
            return account
    raise InputError(f"is not one of the {len(review.accounts)} privileged accounts of run "
                     f"{run.run_id}", source="account")
