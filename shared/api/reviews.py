"""Ad-hoc reviews for ticketing systems, and reading runs, verdicts and reports back.

POST /api/reviews for one user queues the review (the run record exists, `queued`, before the
answer) and answers 200 with the verdict when the `review-user` queue function ends it within
ADHOC_SYNC_SECONDS (below the platform's 230 s HTTP limit), else 202 with `Location` and
`Retry-After`, as for a tenant or privileged review, which starts a run and answers 202 at
once. The GET routes read the `runs` and
`verdicts` tables and the evidence container; nothing here touches Graph directly.
"""

from __future__ import annotations

from typing import Any

import msgspec

from shared.api.approvers import approver
from shared.api.messages import HTML, ApiRequest, ApiResponse, json_response
from shared.api.problems import problem
from shared.api.validation import (
    ReviewBody,
    ReviewOrder,
    decode_body,
    review_order,
    route_param,
    safe_id,
    user_key,
)
from shared.audit.attestations import run_attestations
from shared.audit.verify import remediation_records
from shared.errors import ConfigError, ConflictError, NotFoundError
from shared.logs import bound, event
from shared.pipeline.finalize import live_report
from shared.pipeline.records import RunRecord, VerdictRecord, run_keys, verdict_keys
from shared.services import Services
from shared.store import EntityTable, EvidenceRef

API = "/api"
FINISHED = ("complete", "partial")
# The HTML report is self-contained (inline styles, data: images, no script): forbid the rest.
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def runs_table(services: Services) -> EntityTable[RunRecord]:
    return services.store.table(services.store.names.runs, RunRecord, run_keys)


def verdicts_table(services: Services) -> EntityTable[VerdictRecord]:
    return services.store.table(services.store.names.verdicts, VerdictRecord, verdict_keys)


def run_url(run_id: str) -> str:
    return f"{API}/reviews/{run_id}"


def verdict_url(run_id: str, user_id: str) -> str:
    from urllib.parse import quote

    return f"{run_url(run_id)}/users/{quote(user_id, safe='@')}"


# --- POST /api/reviews ----------------------------------------------------------------------


def create_review(services: Services, request: ApiRequest) -> ApiResponse:
    order = review_order(decode_body(request, ReviewBody), services.clock(),
                         services.settings.signin_source)
    if order.source is not None:
        require_source(services, order.source)
    if order.user is not None:
        return review_one_user(services, request, order)
    from shared.pipeline import steps

    run = steps.start_run(services, window=order.window, kind=order.kind,
                          ticket_id=order.ticket_id, requested_by=order.requested_by,
                          source=order.source)
    return accepted(request, run.run_id, run.status, order.kind, ticket_id=order.ticket_id)


def review_one_user(services: Services, request: ApiRequest, order: ReviewOrder) -> ApiResponse:
    """Queue the review (the run record exists, `queued`, before anything else), then read the
    run record until it ends or ADHOC_SYNC_SECONDS are spent: 200 with the verdict, the failure
    as a problem, or 202 with where to watch it. The review itself runs in the `review-user`
    queue function, never in this worker."""
    from shared.pipeline import user_reviews

    assert order.user is not None
    run = user_reviews.enqueue(services, user=order.user, window=order.window,
                               ticket_id=order.ticket_id, requested_by=order.requested_by,
                               source=order.source)
    run = user_reviews.wait(services, run.run_id, services.settings.adhoc_sync_seconds)
    if run.status == "complete" and run.user_id is not None:
        verdict = verdicts_table(services).get(run.run_id, run.user_id)
        if verdict is not None:
            return json_response(200, verdict_document(verdict))
    if run.status == "failed":
        return problem(502, f"the review of run {run.run_id} failed: {run.failure}",
                       correlation_id=request.correlation_id, extra={"runId": run.run_id})
    # Graph is slow, the tenant's budget is busy or the queue is behind: answer before the
    # platform's 230 s limit cuts the connection; the run's status says when it ends.
    return accepted(request, run.run_id, run.status, order.kind, ticket_id=order.ticket_id)


# How long a client should wait before reading a run's status again (the 202's Retry-After).
RETRY_AFTER_S = 10


def accepted(request: ApiRequest, run_id: str, status: str, kind: str, *,
             ticket_id: str | None = None) -> ApiResponse:
    """202 with where to watch the run (the asynchronous request-reply pattern)."""
    status_url = run_url(run_id)
    with bound(runId=run_id):
        event("api.review_started", kind=kind, ticketId=ticket_id, status=status)
    return json_response(
        202, {"runId": run_id, "status": status, "statusUrl": status_url},
        headers={"Location": request.origin + status_url, "Retry-After": str(RETRY_AFTER_S)},
    )


def require_source(services: Services, name: str) -> None:
    """A source a request names must be set up in this deployment. The request itself is valid
    (the document lists every source), so the answer is 409, the deployment's state, naming what
    is missing; a source that does not exist at all is the schema's 400."""
    from shared.sources import open_source

    try:
        open_source(services, name)
    except ConfigError as exc:
        raise ConflictError(f"sign-in source {name!r} is not set up in this deployment: "
                            f"{exc.message}") from None


# --- GET /api/reviews/{runId}[/users/{userId} | /report] ------------------------------------


def get_review(services: Services, request: ApiRequest) -> ApiResponse:
    run = find_run(services, safe_id(route_param(request, "runId"), field="runId"))
    return json_response(200, run_document(run))


def get_user_verdict(services: Services, request: ApiRequest) -> ApiResponse:
    run_id = safe_id(route_param(request, "runId"), field="runId")
    user_id = user_key(route_param(request, "userId"), field="userId")
    verdict = verdicts_table(services).get(run_id, user_id)
    if verdict is None:
        raise NotFoundError(f"run {run_id} has no verdict for this user", run_id=run_id)
    return json_response(200, verdict_document(verdict))


def get_report(services: Services, request: ApiRequest) -> ApiResponse:
    run = find_run(services, safe_id(route_param(request, "runId"), field="runId"))
    ref = run.reports.get("html")
    if run.status not in FINISHED or ref is None:
        raise NotFoundError(f"run {run.run_id} has no report yet (it is {run.status})",
                            run_id=run.run_id)
    html = services.store.evidence.read_evidence(ref)  # refuses a report that was altered
    headers = {
        "Content-Type": HTML,
        "Content-Security-Policy": REPORT_CSP,
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
    }
    records = remediation_records(services.store, run.run_id)
    signed = run.kind == "privileged" and bool(run_attestations(services.store, run.run_id))
    if records or signed:  # what was done or signed off since: rendered now, the write-once
        by_user: dict[str, list[dict[str, Any]]] = {}  # report stays as it is
        for record in records:
            by_user.setdefault(record.user_id, []).append(msgspec.to_builtins(record))
        html = live_report(services, run, by_user)
        headers["X-Report-Record"] = f"{ref.name} sha256={ref.sha256}"
    return ApiResponse(200, html, headers)


def get_approver_report(services: Services, request: ApiRequest) -> ApiResponse:
    """The report for an approver following the approval mail's link: only for a member of the
    approvers' group signed in through the platform's authentication (`approvers.approver`)."""
    who = approver(services.settings, request.headers)
    run_id = safe_id(route_param(request, "runId"), field="runId")
    event("report.opened", by=who.object_id, byName=who.name, runId=run_id)
    return get_report(services, request)


def find_run(services: Services, run_id: str) -> RunRecord:
    run = runs_table(services).get(run_id, "run")
    if run is None:
        raise NotFoundError(f"run {run_id} does not exist", run_id=run_id)
    return run


# --- documents ------------------------------------------------------------------------------


def evidence_links(refs: list[tuple[str, EvidenceRef]]) -> list[dict[str, Any]]:
    return [{"kind": kind, "name": ref.name, "sha256": ref.sha256, "size": ref.size}
            for kind, ref in refs]


def verdict_document(verdict: VerdictRecord) -> dict[str, Any]:
    """The `analyze` user entry, plus where it came from and the evidence behind it."""
    document: dict[str, Any] = msgspec.to_builtins(verdict.detail)
    document.update({
        "runId": verdict.run_id,
        "scoredAt": msgspec.to_builtins(verdict.scored_at),
        "evidence": evidence_links([("bundle", verdict.evidence)]
                                   + [("page", ref) for ref in verdict.pages]),
        "links": {"self": verdict_url(verdict.run_id, verdict.user_id),
                  "run": run_url(verdict.run_id)},
    })
    return document


def _progress(ids: list[str], done: list[str], failed: dict[str, str]) -> dict[str, Any]:
    return {
        "total": len(ids),
        "done": len(set(done)),
        "failed": [{"id": key, "reason": reason} for key, reason in sorted(failed.items())],
    }


def run_document(run: RunRecord) -> dict[str, Any]:
    links = {"self": run_url(run.run_id)}
    if run.status in FINISHED and "html" in run.reports:
        links["report"] = f"{run_url(run.run_id)}/report"
    if run.user_id:
        links["user"] = verdict_url(run.run_id, run.user_id)
    document = {
        "runId": run.run_id,
        "kind": run.kind,
        "status": run.status,
        "window": {"start": run.window_start, "end": run.window_end},
        "createdAt": run.created_at,
        "finishedAt": run.finished_at,
        "failure": run.failure,
        "attempts": run.attempts,
        "lastError": run.last_error,
        "ticketId": run.ticket_id,
        "requestedBy": run.requested_by,
        "userId": run.user_id,
        "graphApiVersion": run.api_version,
        "counts": {"signIns": run.sign_ins, "users": run.users, "verdicts": run.verdicts},
        "slices": _progress(run.slice_ids, run.slices_done, run.slices_failed),
        "batches": _progress(run.batch_ids, run.batches_done, run.batches_failed),
        "sources": {
            "used": [{"name": s.name, "detail": s.detail} for s in run.sources if s.available],
            "missing": [{"name": s.name, "detail": s.detail}
                        for s in run.sources if not s.available],
        },
        "reports": {kind: {"name": ref.name, "sha256": ref.sha256, "size": ref.size}
                    for kind, ref in sorted(run.reports.items())},
        "links": links,
    }
    built: dict[str, Any] = msgspec.to_builtins(document)
    return built
