"""An ad-hoc review of one user, answered synchronously ("a user reported a strange MFA prompt").

It is a run of its own (kind "user") with the same records as a scheduled one: the user's pages
for the window and the retention period before it go to write-once evidence, the context (roles,
Identity Protection data) too, then one verdict with its evidence bundle. It does not update the
user's stored baseline: the scheduled runs own that, and an ad-hoc window may overlap theirs.

Tenant-wide spray signals need every user's failures, which a one-user query does not read; the
run's sources say so.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from msgspec.structs import replace

from shared.audit import record_manifest
from shared.detect.context import TenantSignalsBuilder
from shared.graph import odata, sign_in_source, stream_sign_ins
from shared.logs import bound, event
from shared.model import DataSource, SignIn, Window
from shared.pipeline.fetch import put_page
from shared.pipeline.records import RunRecord, SliceRecord, VerdictRecord
from shared.pipeline.runs import Tables
from shared.pipeline.scoring import (
    HISTORY_DAYS,
    ScoringContext,
    UserInput,
    baselines_table,
    directory_data,
    score,
    store_context,
)
from shared.pipeline.window import run_id_for
from shared.services import Services
from shared.store import EvidenceRef, page_name

NO_SPRAY_PASS = DataSource(
    "tenantSignals", False,
    "a one-user review does not read other users' failures: password spray across the tenant "
    "is judged only by scheduled and tenant runs")


async def _fetch(services: Services, run_id: str, user: str, span: Window
                 ) -> tuple[list[SignIn], list[EvidenceRef]]:
    rows: list[SignIn] = []
    refs: list[EvidenceRef] = []
    async with services.graph() as graph:
        async for page in stream_sign_ins(graph, span, user=user):
            ref, _ = put_page(services.store.evidence, page_name(run_id, "s000", len(refs)),
                              page.body)
            refs.append(ref)
            rows.extend(page.sign_ins)
    return rows, refs


def user_run_id(window: Window) -> str:
    """A fresh id for a one-user run (a ticket may ask again for the same window)."""
    return f"{run_id_for(window, 'user')}-{uuid.uuid4().hex[:8]}"


def review_user(
    services: Services,
    *,
    user: str,
    window: Window,
    ticket_id: str | None = None,
    requested_by: str | None = None,
    run_id: str | None = None,
) -> VerdictRecord:
    """Fetch, score and record one user's window; the stored verdict. `run_id` (from
    `user_run_id`) lets a caller name the run before it starts."""
    odata.user_clause(user)  # refuses anything that is neither an object id nor a UPN
    tables = Tables.of(services.store)
    run_id = run_id or user_run_id(window)
    span = Window(start=window.start - timedelta(days=HISTORY_DAYS), end=window.end)
    run = RunRecord(
        run_id=run_id, kind="user", window_start=window.start, window_end=window.end,
        status="fetching", created_at=services.clock(),
        api_version=services.settings.graph_api_version, ticket_id=ticket_id,
        requested_by=requested_by, user_id=user, slice_ids=["s000"],
        sources=[sign_in_source(services.settings.graph_api_version), NO_SPRAY_PASS],
    )
    tables.runs.create(run)
    with bound(runId=run_id):
        rows, pages = asyncio.run(_fetch(services, run_id, user, span))
        tables.slices.create(SliceRecord(run_id=run_id, slice_id="s000", start=span.start,
                                         end=span.end, status="done", pages=pages,
                                         rows=len(rows)))
        rows.sort(key=lambda s: (s.created_date_time, s.id))
        history = [s for s in rows if s.created_date_time < window.start]
        timeline = [s for s in rows if s.created_date_time >= window.start]
        user_id = next((s.user_id for s in rows if s.user_id), user.lower())
        roles, risky, detections, sources = asyncio.run(
            directory_data(services, window, user=user_id))
        signals = TenantSignalsBuilder().add_all(timeline).build()
        context = ScoringContext(
            run_id=run_id, window=window, signals=signals, privileged=roles, risky_users=risky,
            risk_detections=detections, sources=sources,
            identity_protection=all(s.available for s in sources if s.name != "privilegedRoles"),
        )
        context_ref, context = store_context(services, context)
        user_input = UserInput(
            user_id=user_id, timeline=timeline, pages=pages, history=history,
            baseline=baselines_table(services.store).get("baseline", user_id))
        (verdict,) = score(services, context, context_ref, [user_input], learn=False)
        counts = {verdict.verdict: 1}

        def complete(current: RunRecord) -> RunRecord:
            return replace(current, status="complete", slices_done=["s000"],
                           scoring_planned=True, context=context_ref,
                           sources=current.sources + sources, users=1,
                           sign_ins=len(timeline), verdicts=counts,
                           finished_at=current.finished_at or services.clock())

        record_manifest(services, tables, complete(tables.run(run_id)), [verdict])
        tables.change_run(run_id, complete)
        event("review.user_done", verdict=verdict.verdict, signIns=len(timeline))
    return verdict
