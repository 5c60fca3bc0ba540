"""The pipeline's entry points, one per trigger. Each decodes its message, binds the run's ids to
the logs, does its step, and decides what comes next.

Fetch slices run one at a time per tenant: Graph's sign-in throttle belongs to the app and tenant,
so a second fetcher would only trade throughput for 429s. The fetch step holds a blob lease while
it calls Graph; a delivery that finds the lease taken is put back for later, not counted as a
failure.

Failure rules:
- A malformed message is rejected with a logged reason and not retried (retrying cannot fix it).
- Graph answering 401/403 (licence or permission) fails the slice at once with that reason: the run
  goes on with what it can read and ends `partial`, naming it.
- Other faults (throttling beyond the budget, 5xx, storage outages) are recorded on the slice and
  raised, so the host redelivers the message; after host.json's maxDequeueCount it lands in the
  `-poison` queue, whose trigger (`on_poison`) settles the slice or batch as failed with the last
  recorded reason. A run never ends `complete` with a slice or batch missing.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from math import ceil
from typing import TypeVar

from msgspec.structs import replace

from shared.analysis import roles_of
from shared.detect.tenant_baseline import TenantCounter
from shared.errors import (
    GraphUnavailable,
    InputError,
    NotFoundError,
    SigninReviewError,
    SourceUnavailable,
)
from shared.graph.signins import WindowTooSlow
from shared.logs import bound, event
from shared.model import DataSource, Window
from shared.pipeline import fetch, finalize, scoring
from shared.pipeline.records import FetchSlice, RunReady, RunRecord, ScoreUsers, SliceRecord
from shared.pipeline.runs import Tables, batch_settled, slice_settled, start_run, with_source
from shared.pipeline.window import (
    quarterly_window,
    scheduled_window,
    settle_wait,
    settling_note,
)
from shared.risk_inventory import RiskySignIns
from shared.services import Services
from shared.sources import gap_sources
from shared.store import QueueMessage, decode_message

__all__ = ["fetch_slice", "on_poison", "on_privileged_timer", "on_timer", "plan_scoring",
           "score_users", "start_run"]


def on_timer(services: Services, *, past_due: bool = False) -> RunRecord | None:
    """The business-morning timer: send again any approval request that failed in the past week,
    then start the run for the window that just closed, if any."""
    now = services.clock()
    finalize.retry_approvals(services)
    window = scheduled_window(now, services.settings)
    if window is None:
        event("timer.nothing_to_review", now=now.isoformat(), pastDue=past_due)
        return None
    return start_run(services, window=window, kind="scheduled")


def on_privileged_timer(services: Services, *, past_due: bool = False) -> RunRecord | None:
    """The quarterly timer: on the first business morning of a quarter, the privileged-account
    review of the quarter just ended (its id from its window, so a second firing finds it)."""
    window = quarterly_window(services.clock(), services.settings)
    if window is None:
        event("timer.no_quarter_to_review", now=services.clock().isoformat(), pastDue=past_due)
        return None
    return start_run(services, window=window, kind="privileged", keyed=True,
                     requested_by="quarterly schedule")


M = TypeVar("M", bound=QueueMessage)

FETCH_LEASE = "fetch-sign-ins"  # one fetcher at a time per tenant (storage account)
FETCH_DEFER_S = 20  # a slice that finds the lease taken comes back this much later
SETTLE_DEFER_MAX_S = 3600  # a slice waiting for its sign-ins to settle looks again at least hourly


def _decode(body: bytes, kind: type[M], queue: str) -> M | None:
    try:
        return decode_message(body, kind, queue=queue)
    except InputError as exc:
        event("message.rejected", queue=queue, reason=exc.message)
        return None


# --- fetch ----------------------------------------------------------------------------------


def fetch_slice(services: Services, body: bytes, *, dequeue_count: int = 1,
                message_id: str | None = None) -> None:
    with bound(correlationId=message_id):
        _fetch_slice(services, body, dequeue_count)


def _fetch_slice(services: Services, body: bytes, dequeue_count: int) -> None:
    message = _decode(body, FetchSlice, "signin-slices")
    if message is None:
        return
    tables = Tables.of(services.store)
    with bound(runId=message.run_id, sliceId=message.slice_id):
        try:
            run = tables.run(message.run_id)
            record = tables.slice(message.run_id, message.slice_id)
        except NotFoundError as exc:
            event("message.rejected", queue="signin-slices", reason=exc.message)
            return
        if record.status == "pending":
            if _settling(services, tables, run, record, message):
                return
            lease = services.store.try_lease(FETCH_LEASE)
            if lease is None:  # another instance is fetching: Graph's budget is the tenant's
                services.store.queues.send(services.store.names.signin_slices, message,
                                           delay_s=FETCH_DEFER_S)
                event("fetch.deferred", delayS=FETCH_DEFER_S)
                return
            try:
                with lease:
                    record = fetch.fetch_slice(services, run, record, on_page=lease.renew)
            except fetch.SliceTaken as exc:
                event("fetch.slice_taken", reason=exc.message)
                return
            except (GraphUnavailable, SourceUnavailable) as exc:
                _settle_slice(services, tables, message, failure=_unavailable(exc))
                return
            except WindowTooSlow as exc:
                if fetch.split_slice(services, record):
                    return
                _record_slice_error(tables, message, exc.message, dequeue_count)
                raise
            except SigninReviewError as exc:
                _record_slice_error(tables, message, exc.message, dequeue_count)
                raise
            tables.change_slice(message.run_id, message.slice_id,
                                lambda r: replace(r, status="done"))
            _note_gaps(tables, record)
            _settle_slice(services, tables, message)
        elif record.status == "split":  # a redelivery after a split: its halves go on
            fetch.send_halves(services, message.run_id, record.split_into)
        else:  # a redelivery after the slice settled: make sure fan-in happened
            failure = (record.last_error or "failed") if record.status == "failed" else None
            _settle_slice(services, tables, message, failure=failure)


def _settling(services: Services, tables: Tables, run: RunRecord, record: SliceRecord,
              message: FetchSlice) -> bool:
    """Sign-ins arrive late: a scheduled run's Graph slice ending less than
    SIGNIN_SETTLE_MINUTES ago goes back on its queue until they have settled (True). A run asked
    for by a person (tenant or privileged, ending now) is read at once, and its sources say its
    last minutes may be incomplete, as a one-user review's do."""
    now = services.clock()
    hold = settle_wait(record.end, now, services.settings) if run.source == "graph" else 0.0
    if hold <= 0:
        return False
    if run.kind != "scheduled":
        note = settling_note(Window(start=run.window_start, end=run.window_end), now,
                             services.settings)
        if note is not None:
            tables.change_run(run.run_id,
                              lambda r: replace(r, sources=with_source(r.sources, note)))
        return False
    delay = min(ceil(hold), SETTLE_DEFER_MAX_S)
    services.store.queues.send(services.store.names.signin_slices, message, delay_s=delay)
    event("fetch.settling", delayS=delay, sliceEnd=record.end.isoformat())
    return True


def _note_gaps(tables: Tables, record: SliceRecord) -> None:
    """What the source could not read in the slice goes on the run, for its report."""
    entries = gap_sources(record.slice_id, record.gaps)
    if entries:
        def noted(run: RunRecord) -> RunRecord:
            sources = run.sources
            for entry in entries:
                sources = with_source(sources, entry)
            return replace(run, sources=sources)

        tables.change_run(record.run_id, noted)
        event("fetch.gaps", gaps=len(record.gaps))


def _unavailable(exc: GraphUnavailable | SourceUnavailable) -> str:
    if isinstance(exc, SourceUnavailable):
        return f"sign-in logs unavailable: {exc.message}"
    if exc.reason == "licence":
        return ("sign-in logs unavailable: the tenant has no Entra ID P1/P2 licence "
                f"(Graph: {exc.code})")
    return f"sign-in logs unavailable: permission missing (Graph {exc.status}: {exc.code})"


def _record_slice_error(tables: Tables, message: FetchSlice, reason: str, attempt: int) -> None:
    try:
        tables.change_slice(message.run_id, message.slice_id,
                            lambda r: replace(r, attempts=attempt, last_error=reason))
    except SigninReviewError as exc:  # storage may be the fault: the retry records it
        event("fetch.error_not_recorded", reason=exc.message)
    event("fetch.slice_error", reason=reason, attempt=attempt)


def _settle_slice(services: Services, tables: Tables, message: FetchSlice, *,
                  failure: str | None = None) -> None:
    if failure is not None:
        tables.change_slice(message.run_id, message.slice_id,
                            lambda r: replace(r, status="failed", last_error=failure))
    run, last = slice_settled(tables, message.run_id, message.slice_id, failure=failure)
    if failure is not None and failure.startswith("sign-in logs unavailable"):
        missing = DataSource("signIns", False, failure)
        tables.change_run(run.run_id,
                          lambda r: replace(r, sources=with_source(r.sources, missing)))
    if last or (run.slices_settled and not run.scoring_planned):
        services.store.queues.send(services.store.names.run_ready, RunReady(run_id=run.run_id))


# --- plan scoring ---------------------------------------------------------------------------


def plan_scoring(services: Services, body: bytes, *, dequeue_count: int = 1,
                 message_id: str | None = None) -> None:
    with bound(correlationId=message_id):
        _plan_scoring(services, body, dequeue_count)


def _plan_scoring(services: Services, body: bytes, dequeue_count: int) -> None:
    message = _decode(body, RunReady, "run-ready")
    if message is None:
        return
    tables = Tables.of(services.store)
    with bound(runId=message.run_id):
        try:
            run = tables.run(message.run_id)
        except NotFoundError as exc:
            event("message.rejected", queue="run-ready", reason=exc.message)
            return
        if run.scoring_planned:
            _resend_batches(services, run)
            return
        store = services.store
        reader = store.shards.reader(run.run_id)
        users = list(reader.users())
        with ThreadPoolExecutor(max_workers=1) as pool:
            # Every user is scored unless the run is a privileged-account review (role holders
            # only, known once the context is read): the users' histories are read meanwhile.
            early = None if run.kind == "privileged" else pool.submit(
                contextvars.copy_context().run, scoring.plan_histories, services, run, users)
            risky_sign_ins = RiskySignIns()
            trusted = scoring.read_trusted(services)
            stored_tenant = scoring.stored_tenant_baseline(store)
            counter = TenantCounter() if stored_tenant is None else None
            signals = scoring.tenant_signals(
                (row for group in scoring.batches(users, 500)
                 for rows in reader.rows_for_users(group).values() for row in rows),
                risky_sign_ins, trusted[0], counter)
            tenant_baseline = stored_tenant if counter is None \
                else counter.result(from_window=True)
            context = scoring.build_context(services, run, signals, risky_sign_ins, trusted,
                                            tenant_baseline)
            context.histories = early.result() if early is not None else \
                scoring.plan_histories(services, run, _scored(run, context, users),
                                       context.history_days)
        ref, context = scoring.store_context(services, context)  # a retry adopts the first
        users = _scored(run, context, users)
        groups = scoring.batches(users, services.settings.scoring_batch_users)
        batch_ids = [f"b{n:05d}" for n in range(len(groups))]
        store.shards.put_batch_indexes(run.run_id, dict(zip(batch_ids, groups, strict=True)),
                                       reader.indexes())

        def planned(current: RunRecord) -> RunRecord:
            sources = current.sources
            for source in context.sources:
                sources = with_source(sources, source)
            return replace(current, scoring_planned=True, status="scoring", batch_ids=batch_ids,
                           context=ref, audit_pages=context.audit_pages, sources=sources,
                           users=len(users),
                           sign_ins=signals.sign_ins)

        before, run = tables.change_run(run.run_id, planned)
        if before.scoring_planned:
            return  # another delivery planned it meanwhile
        event("score.planned", users=len(users), batches=len(groups),
              spraySources=len(signals.sources))
        if not groups:
            finalize.finalize(services, run.run_id, context)
            return
        for batch_id, group in zip(batch_ids, groups, strict=True):
            store.queues.send(store.names.user_scoring,
                              ScoreUsers(run_id=run.run_id, batch_id=batch_id, user_ids=group))


def _scored(run: RunRecord, context: scoring.ScoringContext, users: list[str]) -> list[str]:
    """The users a run scores: everyone, or role holders only in a privileged-account review."""
    if run.kind == "privileged":
        return [u for u in users if roles_of(context.privileged, u, None)]
    return users


def _resend_batches(services: Services, run: RunRecord) -> None:
    """A redelivered run-ready after planning: re-send batches not yet settled, or finalize."""
    if run.batches_settled:
        if run.status not in ("complete", "partial"):
            finalize.finalize(services, run.run_id, scoring.stored_context(services, run))
        return
    context = scoring.stored_context(services, run)
    users = list(services.store.shards.reader(run.run_id).users())
    groups = scoring.batches(_scored(run, context, users) if context else users,
                             services.settings.scoring_batch_users)
    settled = set(run.batches_done) | set(run.batches_failed)
    for batch_id, group in zip(run.batch_ids, groups, strict=False):
        if batch_id not in settled:
            services.store.queues.send(services.store.names.user_scoring,
                                       ScoreUsers(run_id=run.run_id, batch_id=batch_id,
                                                  user_ids=group))


# --- score users ----------------------------------------------------------------------------


def score_users(services: Services, body: bytes, *, dequeue_count: int = 1,
                message_id: str | None = None) -> None:
    with bound(correlationId=message_id):
        _score_users(services, body, dequeue_count)


def _score_users(services: Services, body: bytes, dequeue_count: int) -> None:
    message = _decode(body, ScoreUsers, "user-scoring")
    if message is None:
        return
    tables = Tables.of(services.store)
    with bound(runId=message.run_id, batchId=message.batch_id):
        try:
            run = tables.run(message.run_id)
        except NotFoundError as exc:
            event("message.rejected", queue="user-scoring", reason=exc.message)
            return
        if message.batch_id not in run.batches_done:
            context = scoring.stored_context(services, run)
            if context is None:
                event("message.rejected", queue="user-scoring", reason="run has no context")
                return
            verdicts = scoring.score_batch(services, run, context, run.context, message.user_ids,
                                           message.batch_id)
            event("score.batch_done", users=len(verdicts),
                  flagged=sum(1 for v in verdicts if v.verdict != "none"))
        _settle_batch(services, tables, message.run_id, message.batch_id)


def _settle_batch(services: Services, tables: Tables, run_id: str, batch_id: str, *,
                  failure: str | None = None) -> None:
    run, last = batch_settled(tables, run_id, batch_id, failure=failure)
    if last or (run.batches_settled and run.status not in ("complete", "partial")):
        finalize.finalize(services, run_id, scoring.stored_context(services, run))


# --- poison ---------------------------------------------------------------------------------


def on_poison(services: Services, queue: str, body: bytes, *,
              message_id: str | None = None) -> None:
    with bound(correlationId=message_id):
        _on_poison(services, queue, body)


def _on_poison(services: Services, queue: str, body: bytes) -> None:
    """A message failed every delivery: settle its slice, batch or run as failed, with why."""
    tables = Tables.of(services.store)
    kinds: dict[str, type[QueueMessage]] = {
        "signin-slices": FetchSlice, "run-ready": RunReady, "user-scoring": ScoreUsers}
    message = _decode(body, kinds[queue], queue + "-poison")
    if message is None:
        return
    try:
        if isinstance(message, FetchSlice):
            record = tables.slice(message.run_id, message.slice_id)
            if record.status == "split":  # its halves settle the run: send them once more
                with bound(runId=message.run_id, sliceId=message.slice_id):
                    event("fetch.split_poisoned", halves=record.split_into)
                    fetch.send_halves(services, message.run_id, record.split_into)
                return
            reason = (f"fetch failed after {record.attempts} attempts: "
                      f"{record.last_error or 'no reason recorded'}")
            with bound(runId=message.run_id, sliceId=message.slice_id):
                event("fetch.slice_poisoned", reason=reason)
                _settle_slice(services, tables, message, failure=reason)
        elif isinstance(message, ScoreUsers):
            with bound(runId=message.run_id, batchId=message.batch_id):
                event("score.batch_poisoned")
                _settle_batch(services, tables, message.run_id, message.batch_id,
                              failure="scoring failed on every delivery")
        elif isinstance(message, RunReady):
            with bound(runId=message.run_id):
                event("score.planning_poisoned")
                tables.change_run(message.run_id, lambda r: replace(
                    r, slices_failed={**r.slices_failed, "planning": "scoring could not be "
                                      "planned: every delivery failed"}))
                finalize.finalize(services, message.run_id, None)
    except NotFoundError as exc:
        event("message.rejected", queue=queue + "-poison", reason=exc.message)
