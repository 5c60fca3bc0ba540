"""An ad-hoc review of one user ("a user reported a strange MFA prompt"): the work itself, run by
the `review-user` queue function for the HTTP API (shared/pipeline/user_reviews.py) or in
process by the command line.

It is a run of its own (kind "user") with the same records as a scheduled one: the user's pages
go to write-once evidence, the context (roles, Identity Protection data) too, then one verdict
with its evidence bundle. It does not update the user's stored baseline: the scheduled runs own
that, and an ad-hoc window may overlap theirs.

It reads and keeps only what this user's review needs: the user's sign-ins in the window; the
user's own history before it only when there is no stored baseline and something to score,
never further back than Graph keeps sign-ins; the user's own risk (riskyUsers and
riskDetections filtered on the user) and the user's own role assignments (filtered on
principalId). The stored context holds that user's data, not the tenant's.

Run in process (`review_user`), a failure of any kind once the run record exists (Graph,
storage, a name the store refuses) ends the run `failed` with the reason before the error goes
on to the caller. On the queue, the platform retries first; the last failure, the poison queue
or the stranded-run timer ends it `failed` (shared/pipeline/stranded.py): a one-user run is
never left in a working state.

Whatever the source could not read (an archive hour without a blob, or too recent to be
complete) is named in the run's sources, as a scheduled run's slices name theirs.

Tenant-wide spray signals need every user's failures, which a one-user query does not read; the
run's sources say so.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from contextlib import aclosing
from datetime import datetime, timedelta

from msgspec.structs import replace

from shared.audit import record_manifest
from shared.detect.context import TenantSignalsBuilder
from shared.errors import SigninReviewError
from shared.graph import (
    DirectoryResult,
    odata,
    privileged_roles_of,
    risk_detections,
    risky_users,
)
from shared.logs import bound, event
from shared.model import DataSource, RiskDetection, RiskyUser, SignIn, Window
from shared.pipeline.fetch import put_page
from shared.pipeline.followed import read_audit_log
from shared.pipeline.records import RunRecord, RunStatus, SliceRecord, VerdictRecord
from shared.pipeline.runs import Tables, refuse_unreadable
from shared.pipeline.scoring import (
    ScoringContext,
    UserInput,
    baselines_table,
    graph_retention,
    history_window,
    read_domains,
    read_trusted,
    score,
    store_context,
)
from shared.pipeline.window import run_id_for, settling_note
from shared.services import Services
from shared.sources import Gap, gap_sources, open_source
from shared.store import EvidenceRef, page_name

# Graph keeps sign-ins 30 days with P1/P2 (what reading them at all needs); the licence read
# before a history is fetched says how long (shared/graph/retention.py)
RETENTION = timedelta(days=30)
NO_SPRAY_PASS = DataSource(
    "tenantSignals", False,
    "a one-user review does not read other users' failures: password spray across the tenant "
    "is judged only by scheduled and tenant runs")
NO_OBJECT_ID: DirectoryResult[dict[str, list[str]]] = DirectoryResult(
    {}, available=False, reason="not looked up",
    detail="no sign-in gave the user's object id, which role assignments are filtered on")

FINAL = ("complete", "partial", "failed")  # run statuses nothing changes any more
Directory = tuple[dict[str, list[str]], list[RiskyUser], list[RiskDetection], list[DataSource]]


def history_span(window: Window, now: datetime, retention_days: int = RETENTION.days
                 ) -> Window | None:
    """The retention period before the window that Graph can still answer for, if any."""
    return history_window(window.start, now, retention_days)


async def _fetch(services: Services, run: RunRecord, user: str, span: Window, first: int,
                 gaps: list[Gap]) -> tuple[list[SignIn], list[EvidenceRef]]:
    """The user's sign-ins in `span` from the run's sign-in source, each page written to
    evidence (numbered from `first`); what the source could not read is added to `gaps`."""
    rows: list[SignIn] = []
    refs: list[EvidenceRef] = []
    stream = open_source(services, run.source).pages(span, user=user)
    async with aclosing(stream):
        async for page in stream:
            for gap in page.gaps:
                event("review.gap", kind=gap.kind, what=gap.what, detail=gap.detail)
                if gap not in gaps:
                    gaps.append(gap)
            if page.body is None:
                continue
            name = page_name(run.run_id, "s000", first + len(refs))
            ref, _ = put_page(services.store.evidence, name, page.body)
            refs.append(ref)
            rows.extend(page.sign_ins)
    return rows, refs


async def _directory(services: Services, window: Window, user: str) -> Directory:
    """This user's privileged roles and Identity Protection data, each with its availability."""
    async with services.graph() as graph:
        roles = await privileged_roles_of(graph, user) if odata.is_guid(user) else NO_OBJECT_ID
        risky = await risky_users(graph, user)
        detections = await risk_detections(graph, window, user)
    sources = [roles.source("privilegedRoles"), risky.source("riskyUsers"),
               detections.source("riskDetections")]
    return roles.value, risky.value, detections.value, sources


def user_run_id(window: Window) -> str:
    """A fresh id for a one-user run (a ticket may ask again for the same window)."""
    return f"{run_id_for(window, 'user')}-{uuid.uuid4().hex[:8]}"


def new_run(
    services: Services,
    *,
    user: str,
    window: Window,
    ticket_id: str | None = None,
    requested_by: str | None = None,
    run_id: str | None = None,
    source: str | None = None,
    status: RunStatus = "fetching",
) -> RunRecord:
    """The run record of a one-user review (not yet stored), after the checks a request gets
    before anything is written: the user is an object id or a UPN, the source is set up."""
    odata.user_clause(user)  # refuses anything that is neither an object id nor a UPN
    reader = open_source(services, source)
    refuse_unreadable(window, reader.name, services.clock())
    return RunRecord(
        run_id=run_id or user_run_id(window), kind="user",
        window_start=window.start, window_end=window.end, status=status,
        created_at=services.clock(), api_version=services.settings.graph_api_version,
        ticket_id=ticket_id, requested_by=requested_by, user_id=user, slice_ids=["s000"],
        source=reader.name, sources=[reader.describe(), NO_SPRAY_PASS],
    )


def review_user(
    services: Services,
    *,
    user: str,
    window: Window,
    ticket_id: str | None = None,
    requested_by: str | None = None,
    run_id: str | None = None,
    source: str | None = None,
) -> VerdictRecord:
    """Fetch, score and record one user's window from the named sign-in source (default: the
    SIGNIN_SOURCE setting), here and now (the command line); the stored verdict. The HTTP API
    queues the review instead (shared/pipeline/user_reviews.py)."""
    tables = Tables.of(services.store)
    run = new_run(services, user=user, window=window, ticket_id=ticket_id,
                  requested_by=requested_by, run_id=run_id, source=source)
    tables.runs.create(run)
    with bound(runId=run.run_id):
        try:
            return run_review(services, tables, run)
        except Exception as exc:
            fail(services, tables, run.run_id, exc)
            raise


def run_review(services: Services, tables: Tables, run: RunRecord) -> VerdictRecord:
    """Review the stored run's user and window and complete the run; the verdict. An error
    goes on to the caller, which decides whether the run has failed or is tried again."""
    assert run.user_id is not None
    window = Window(start=run.window_start, end=run.window_end)
    return _review(services, tables, run, run.user_id, window)


def _review(services: Services, tables: Tables, run: RunRecord, user: str, window: Window
            ) -> VerdictRecord:
    run_id = run.run_id
    gaps: list[Gap] = []  # hours or ranges the source could not read, for the run's report
    timeline, pages = asyncio.run(_fetch(services, run, user, window, 0, gaps))
    user_id = next((s.user_id for s in timeline if s.user_id), user.lower())
    baseline = baselines_table(services.store).get("baseline", user_id)
    kept = RETENTION.days
    history_notes: list[DataSource] = []
    if timeline and baseline is None and run.source == "graph":  # the licence says how far back
        kept, history_notes = asyncio.run(graph_retention(services))
    span = history_span(window, services.clock(), kept) if timeline and baseline is None \
        else None
    history: list[SignIn] = []
    if span is not None:  # no stored profile: learn one from the user's own recent history
        key = user_id if odata.is_guid(user_id) else user
        history, older = asyncio.run(_fetch(services, run, key, span, len(pages), gaps))
        pages += older
    tables.slices.create(SliceRecord(
        run_id=run_id, slice_id="s000", start=(span or window).start, end=window.end,
        status="done", pages=pages, rows=len(timeline) + len(history), gaps=gaps))
    timeline.sort(key=lambda s: (s.created_date_time, s.id))
    history.sort(key=lambda s: (s.created_date_time, s.id))
    known = user_id if odata.is_guid(user_id) else user
    roles, risky, detections, sources = asyncio.run(_directory(services, window, known))
    # a review ending now: its last minutes may not be in the log yet
    settling = settling_note(window, services.clock(), services.settings)
    notes = [*history_notes, *([settling] if settling is not None else [])]
    trusted, trusted_source = read_trusted(services)
    domains, domains_source = read_domains(services)
    # read by initiator: an admin's change to the user is not in it, so the user's methods are
    # read whatever it holds (the context's audit_complete stays False)
    audit = read_audit_log(services, run_id, window.start, max(window.end, services.clock()),
                           user=known, source=run.source)
    sources = [*sources, audit.source]
    context = ScoringContext(
        run_id=run_id, window=window,
        signals=TenantSignalsBuilder(trusted=trusted).add_all(timeline).build(),
        privileged=roles, risky_users=risky, risk_detections=detections,
        sources=[*sources, trusted_source, domains_source, *notes], trusted=trusted,
        tenant_domains=domains,
        identity_protection=all(s.available for s in sources
                                if s.name in ("riskyUsers", "riskDetections")),
        holidays=list(services.settings.holidays), audit_events=audit.events,
        audit_pages=audit.pages,
    )
    context_ref, context = store_context(services, context)
    user_input = UserInput(user_id=user_id, timeline=timeline, pages=pages, history=history,
                           baseline=baseline)
    (verdict,) = score(services, context, context_ref, [user_input], learn=False)

    def complete(current: RunRecord) -> RunRecord:
        return replace(current, status="complete", slices_done=["s000"], scoring_planned=True,
                       context=context_ref, audit_pages=context.audit_pages,
                       sources=[*current.sources, *sources, trusted_source, domains_source,
                                *notes, *gap_sources("s000", gaps)],
                       users=1,
                       user_id=user_id, sign_ins=len(timeline), verdicts={verdict.verdict: 1},
                       finished_at=current.finished_at or services.clock())

    record_manifest(services, tables, complete(tables.run(run_id)), [verdict])
    tables.change_run(run_id, complete)
    event("review.user_done", verdict=verdict.verdict, signIns=len(timeline))
    return verdict


def failure_reason(error: Exception) -> str:
    """What a run's `failure` says of an error: what a problem document would say (an
    unexpected error's detail stays in the logs)."""
    said = error.message if isinstance(error, SigninReviewError) else "see the logs"
    return f"{type(error).__name__}: {said}"[:1000]


def fail(services: Services, tables: Tables, run_id: str, error: Exception | str) -> None:
    """End the run `failed` with the reason (an error, or a reason already written)."""
    kind = type(error).__name__ if isinstance(error, Exception) else "reason"
    reason = failure_reason(error) if isinstance(error, Exception) else error[:1000]
    event("review.user_failed", logging.WARNING, error=kind, reason=reason)

    def failed(current: RunRecord) -> RunRecord:
        if current.status in FINAL:  # finished meanwhile (a late sweep, a redelivery)
            return current
        return replace(current, status="failed", failure=reason,
                       finished_at=current.finished_at or services.clock())

    try:
        tables.change_run(run_id, failed)
    except SigninReviewError as again:  # storage is gone as well: the log line is what is left
        event("review.user_failure_unrecorded", logging.ERROR, error=type(again).__name__)
