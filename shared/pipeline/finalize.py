"""Finalize a run: the report (HTML, CSV, JSON) to write-once storage, the status, and the request
for approval of medium/high verdicts sent to the Logic App.

Runs when the last scoring batch settles (or straight after planning when nobody signed in). It is
idempotent: reports are write-once and a retry that finds them uses them; the approval request is
sent at most once per run (a flag set under optimistic concurrency before sending).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import msgspec
from msgspec.structs import replace

from shared.audit import record_manifest
from shared.audit.attestations import run_attestations
from shared.audit.trail import run_slices
from shared.errors import EvidenceError
from shared.logs import event
from shared.model import (
    LEVELS,
    PrivilegedReview,
    ReviewResult,
    RiskInventory,
    SignIn,
    TenantSummary,
    UserVerdict,
    Window,
    level_rank,
)
from shared.pipeline.approval_mail import attestations_url, mail_html, report_url, review_request
from shared.pipeline.records import RunRecord, VerdictRecord
from shared.pipeline.runs import Tables
from shared.pipeline.scoring import ScoringContext, stored_context, stored_timelines
from shared.privileged.pipeline import run_review, with_sign_offs
from shared.remediation_plan import summary as remediation_summary
from shared.services import Services
from shared.store import EvidenceRef

REPORT_TYPES = {"html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8",
                "json": "application/json", "riskCsv": "text/csv; charset=utf-8"}
REPORT_FILES = {"html": "report.html", "csv": "report.csv", "json": "report.json",
                "riskCsv": "report-risk.csv"}  # the risk inventory, one row per sign-in/detection
APPROVAL_TIMEOUT_S = 20
APPROVAL_RETRY_DAYS = 7  # a failed approval request is sent again on mornings within a week
BUNDLE_READERS = 8


def review_result(run: RunRecord, context: ScoringContext | None,
                  verdicts: Sequence[VerdictRecord]) -> ReviewResult:
    users = sorted((v.detail for v in verdicts),
                   key=lambda u: (-level_rank(u.verdict), not u.got_in,
                                  (u.user_principal_name or u.user_id).lower()))
    signals = context.signals if context else None
    return ReviewResult(
        window=Window(start=run.window_start, end=run.window_end),
        tenant=TenantSummary(
            sign_ins=signals.sign_ins if signals else 0,
            users=signals.users if signals else 0,
            spraying_sources=[s.as_spraying_source() for s in signals.sources] if signals else [],
        ),
        users=users,
        sources=list(run.sources),
        risk_inventory=context.risk_inventory if context else RiskInventory(),
        campaigns=[c.summary() for c in signals.campaigns] if signals else [],
    )


def flagged_timelines(services: Services, verdicts: Sequence[VerdictRecord]
                      ) -> dict[str, list[SignIn]]:
    """Timelines of flagged users, read back from their (hash-checked) evidence bundles: each
    blob once, however many users' bundles it holds."""
    flagged = [v for v in verdicts if v.verdict != "none"]
    blobs = {v.evidence.name: v.evidence for v in flagged}
    with ThreadPoolExecutor(max_workers=BUNDLE_READERS) as pool:
        stored = pool.map(services.store.evidence.read_evidence, blobs.values())
        timelines = {(user_id, name): timeline
                     for name, data in zip(blobs, stored, strict=True)
                     for user_id, timeline in stored_timelines(data).items()}
    missing = [v.user_id for v in flagged if (v.user_id, v.evidence.name) not in timelines]
    if missing:
        raise EvidenceError(f"evidence bundles of {len(missing)} users are not in the blobs "
                            f"their verdicts name (first: {missing[0]})", run_id=flagged[0].run_id)
    return {v.user_id: timelines[v.user_id, v.evidence.name] for v in flagged}


def report_title(run: RunRecord) -> str:
    return (f"Sign-in review {run.window_start:%Y-%m-%d %H:%M} to "
            f"{run.window_end:%Y-%m-%d %H:%M} UTC")


def live_report(services: Services, run: RunRecord,
                remediations: Mapping[str, list[dict[str, Any]]]) -> bytes:
    """The run's HTML report as of now, with each user's remediation status: what people read
    once approvals have been acted on. The report written at finalize stays the audit record."""
    from shared.report import render_review

    verdicts = Tables.of(services.store).verdicts.query_partition(run.run_id)
    result = review_result(run, stored_context(services, run), verdicts)
    if "json" in run.reports:  # the privileged review as sealed, with the sign-offs since
        sealed = msgspec.json.decode(services.store.evidence.read_evidence(run.reports["json"]),
                                     type=ReviewResult).privileged_review
        if sealed is not None:
            result.privileged_review = with_sign_offs(
                sealed, run_attestations(services.store, run.run_id))
    timelines = flagged_timelines(services, verdicts)
    return render_review(result, timelines, remediations=remediations,
                         title=report_title(run)).encode()


def render_reports(result: ReviewResult, timelines: dict[str, list[SignIn]], title: str
                   ) -> dict[str, bytes]:
    from shared.report import render_csv, render_json, render_review, render_risk_csv

    return {
        "html": render_review(result, timelines, title=title).encode(),
        "csv": render_csv(result).encode(),
        "json": render_json(result),
        "riskCsv": render_risk_csv(result).encode(),
    }


def store_reports(services: Services, run_id: str, reports: dict[str, bytes]
                  ) -> dict[str, EvidenceRef]:
    evidence = services.store.evidence
    return {kind: evidence.put_or_adopt(f"runs/{run_id}/{REPORT_FILES[kind]}", body,
                                        content_type=REPORT_TYPES[kind])[0]
            for kind, body in reports.items()}


def final_status(run: RunRecord) -> str:
    return "partial" if run.slices_failed or run.batches_failed else "complete"


def finalize(services: Services, run_id: str, context: ScoringContext | None) -> RunRecord:
    tables = Tables.of(services.store)
    run = tables.run(run_id)
    verdicts = tables.verdicts.query_partition(run_id)
    result = review_result(run, context, verdicts)
    if not run.reports:
        if run.kind == "privileged":
            result.privileged_review = run_review(services, run, context, verdicts,
                                                  run_slices(tables, run))
        timelines = flagged_timelines(services, verdicts)
        reports = store_reports(services, run_id,
                                render_reports(result, timelines, report_title(run)))
    else:
        reports = run.reports
    counts = {level: sum(1 for v in verdicts if v.verdict == level) for level in LEVELS}
    status = final_status(run)

    def complete(current: RunRecord) -> RunRecord:
        return replace(current, status=status, reports=reports, verdicts=counts,
                       users=len(verdicts), sign_ins=result.tenant.sign_ins,
                       finished_at=current.finished_at or services.clock())

    record_manifest(services, tables, complete(run), verdicts)  # the audit chain's next entry
    _, run = tables.change_run(run_id, complete)
    event("run.finalized", status=run.status, users=run.users, verdicts=counts,
          manifestSha256=run.manifest.sha256 if run.manifest else None)
    request_approval(services, tables, run, result.users, result.privileged_review)
    return run


class _Sealed(msgspec.Struct, rename="camel"):
    privileged_review: PrivilegedReview | None = None


def sealed_review(services: Services, run: RunRecord) -> PrivilegedReview | None:
    """A privileged run's review as its JSON report seals it (hash-checked on read); None for
    other runs, or when the report is missing or does not match its hash (then no review request
    goes out on a guess: the run's approval error says why)."""
    if run.kind != "privileged" or "json" not in run.reports:
        return None
    data = services.store.evidence.read_evidence(run.reports["json"])
    return msgspec.json.decode(data, type=_Sealed).privileged_review


def approval_payload(run: RunRecord, users: Sequence[UserVerdict],
                     public_base_url: str | None = None,
                     review: PrivilegedReview | None = None) -> dict[str, object]:
    """The approval webhook's body: one approval per medium/high verdict and, for a
    privileged-account review (`review`), `privilegedReview`, the request to sign it off."""
    flagged = [u for u in users if level_rank(u.verdict) >= level_rank("medium")]
    link = report_url(public_base_url, run.run_id)
    extra: dict[str, object] = {}
    if review is not None:
        extra["privilegedReview"] = review_request(
            review, run.run_id, link, attestations_url(public_base_url, run.run_id))
    return {**extra,
        "runId": run.run_id,
        "window": {"start": run.window_start.isoformat(), "end": run.window_end.isoformat()},
        "reportUrl": link,
        # Published outside storage, so the newest audit entry cannot be rewritten unnoticed.
        "manifest": {"name": run.manifest.name, "sha256": run.manifest.sha256}
        if run.manifest else None,
        "verdicts": [{
            "userId": u.user_id, "userPrincipalName": u.user_principal_name,
            "verdict": u.verdict, "privileged": u.privileged, "gotIn": u.got_in,
            "reasons": u.reasons, "proposedActions": u.proposed_actions,
            "mailHtml": mail_html(u, run.run_id, link),
            # What the approver reads: which steps run here, which need a role, which must be
            # done on-premises (only those that run here are in proposedActions).
            "remediation": [msgspec.to_builtins(step) for step in u.remediation],
            "remediationNote": remediation_summary(u.remediation),
        } for u in flagged],
    }


def request_approval(services: Services, tables: Tables, run: RunRecord,
                     users: Sequence[UserVerdict],
                     review: PrivilegedReview | None = None) -> None:
    """POST medium/high verdicts to the approval webhook, once per run; a privileged-account
    review's run always asks (its sign-off request), even when the quarter was quiet. The
    review is the one just built, or the one the run's JSON report seals."""
    url = services.settings.approval_webhook_url
    flagged = len([u for u in users if level_rank(u.verdict) >= level_rank("medium")])
    privileged = run.kind == "privileged" and bool(run.reports)
    if not url or not (flagged or privileged) or run.approval_requested:
        return
    before, _ = tables.change_run(run.run_id, lambda r: replace(r, approval_requested=True))
    if before.approval_requested:
        return  # another delivery got there first
    error = None
    if privileged and review is None:
        try:
            review = sealed_review(services, run)
        except EvidenceError as exc:
            error = f"the privileged review could not be read for its sign-off request: {exc}"
        if review is None and error is None:
            error = "the privileged review is not in the run's JSON report"
    payload = approval_payload(run, users, services.settings.public_base_url, review)
    if error is None and not url.startswith(("https://", "http://127.0.0.1",
                                             "http://localhost")):
        error = "APPROVAL_WEBHOOK_URL must be an https URL"
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",  # noqa: S310
                                     headers={"Content-Type": "application/json"})
    try:
        if error:
            raise urllib.error.URLError(error)
        with urllib.request.urlopen(request, timeout=APPROVAL_TIMEOUT_S) as answer:  # noqa: S310
            event("approval.requested", status=answer.status, users=flagged,
                  privilegedReview=review is not None)
    except (urllib.error.URLError, OSError) as exc:
        error = f"the approval webhook failed: {exc}"
        event("approval.failed", reason=str(exc))
    if error:
        tables.change_run(run.run_id, lambda r: replace(r, approval_requested=False,
                                                         approval_error=error))
    elif run.approval_error:
        tables.change_run(run.run_id, lambda r: replace(r, approval_error=None))


def retry_approvals(services: Services, *, days: int = APPROVAL_RETRY_DAYS) -> int:
    """Send again the approval requests that failed for runs finished in the last `days`
    (the timer calls this every business morning); the number of runs retried."""
    tables = Tables.of(services.store)
    since = services.clock() - timedelta(days=days)
    pending = [run for run in tables.runs.query("RowKey eq 'run' and approval_requested eq false")
               if run.approval_error and run.finished_at and run.finished_at >= since]
    for run in pending:
        verdicts = tables.verdicts.query_partition(run.run_id)
        event("approval.retry", runId=run.run_id, lastError=run.approval_error)
        request_approval(services, tables, run, [v.detail for v in verdicts])
    return len(pending)
