"""Run bookkeeping: tables, starting a run, and the fan-in decisions.

"The last slice is done" and "the last batch is scored" are decided with optimistic concurrency on
the run entity (`EntityTable.modify`), never by timing: exactly one writer sees the count reach
the total. A redelivered message re-checks the same condition, so a crash between the update and
the next enqueue is repaired by the retry.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from msgspec.structs import replace

from shared.errors import InputError, NotFoundError
from shared.logs import event
from shared.model import DataSource, Window
from shared.pipeline.records import (
    FetchSlice,
    RunKind,
    RunReady,
    RunRecord,
    SliceRecord,
    VerdictRecord,
    run_keys,
    slice_keys,
    verdict_keys,
)
from shared.pipeline.window import run_id_for, slices
from shared.services import Services
from shared.sources import open_source
from shared.store import EntityTable, Store


@dataclass
class Tables:
    """The typed tables the pipeline uses, for one store."""

    runs: EntityTable[RunRecord]
    slices: EntityTable[SliceRecord]
    verdicts: EntityTable[VerdictRecord]

    @classmethod
    def of(cls, store: Store) -> Tables:
        names = store.names
        return cls(
            runs=store.table(names.runs, RunRecord, run_keys),
            slices=store.table(names.runs, SliceRecord, slice_keys),
            verdicts=store.table(names.verdicts, VerdictRecord, verdict_keys),
        )

    def run(self, run_id: str) -> RunRecord:
        found = self.runs.get(run_id, "run")
        if found is None:
            raise NotFoundError(f"run {run_id} does not exist", run_id=run_id)
        return found

    def slice(self, run_id: str, slice_id: str) -> SliceRecord:
        found = self.slices.get(run_id, f"slice-{slice_id}")
        if found is None:
            raise NotFoundError(f"slice {slice_id} of run {run_id} does not exist", run_id=run_id)
        return found

    def change_run(self, run_id: str, change: Callable[[RunRecord], RunRecord]
                   ) -> tuple[RunRecord, RunRecord]:
        """Apply a pure change to the run entity under optimistic concurrency: (before, after)."""

        def apply(current: RunRecord | None) -> RunRecord:
            if current is None:
                raise NotFoundError(f"run {run_id} does not exist", run_id=run_id)
            return change(current)

        modified = self.runs.modify(run_id, "run", apply)
        assert modified.before is not None
        return modified.before, modified.after


    def change_slice(self, run_id: str, slice_id: str,
                     change: Callable[[SliceRecord], SliceRecord]) -> SliceRecord:
        """Apply a pure change to a slice entity under optimistic concurrency: the result."""

        def apply(current: SliceRecord | None) -> SliceRecord:
            if current is None:
                raise NotFoundError(f"slice {slice_id} of run {run_id} does not exist",
                                    run_id=run_id)
            return change(current)

        return self.slices.modify(run_id, f"slice-{slice_id}", apply).after


def start_run(
    services: Services,
    *,
    window: Window,
    kind: RunKind,
    ticket_id: str | None = None,
    requested_by: str | None = None,
    source: str | None = None,
    keyed: bool = False,
) -> RunRecord:
    """Create the run and enqueue one fetch message per slice; returns at once. `source` names
    the sign-in source (default: the SIGNIN_SOURCE setting); the run keeps it to the end.

    A scheduled run's id comes from its window, so a timer that fires twice or late makes one run.
    Ad-hoc runs get a fresh id (a ticket may ask again for a window already reviewed).

    The slice records are written before the run record, and the run record says `starting`
    until every fetch message is sent: a process that dies in between leaves a run the
    stranded-run timer recognises and starts (shared/pipeline/stranded.py).
    """
    store = services.store
    tables = Tables.of(store)
    run_id = run_id_for(window, kind)
    if kind != "scheduled" and not keyed:  # keyed: a timer's run, one per window
        run_id += "-" + uuid.uuid4().hex[:8]
    reader = open_source(services, source)
    read, described = readable_part(window, kind, reader.name, services.clock())
    parts = slices(read, services.settings.slice_hours)
    slice_ids = [f"s{n:03d}" for n in range(len(parts))]
    record = RunRecord(
        run_id=run_id, kind=kind, window_start=window.start, window_end=window.end,
        status="fetching", created_at=services.clock(),
        api_version=services.settings.graph_api_version, ticket_id=ticket_id,
        requested_by=requested_by, slice_ids=slice_ids, source=reader.name,
        sources=[reader.describe()] + ([described] if described else []), starting=True,
    )
    for slice_id, part in zip(slice_ids, parts, strict=True):
        tables.slices.create(SliceRecord(run_id=run_id, slice_id=slice_id, start=part.start,
                                         end=part.end))
    if tables.runs.create(record) is None:
        existing = tables.run(run_id)
        event("run.exists", runId=run_id, status=existing.status)
        if existing.slices_done or existing.slices_failed or existing.scoring_planned:
            return existing
        record = existing  # created, but a crash may have lost the fetch messages: send again
    record = send_fetches(services, tables, record)
    event("run.started", runId=run_id, kind=kind, slices=len(slice_ids),
          windowStart=window.start.isoformat(), windowEnd=window.end.isoformat())
    return record


def send_fetches(services: Services, tables: Tables, run: RunRecord) -> RunRecord:
    """Send one fetch message per slice of the run, then clear its `starting` mark; the run.
    Sending again is harmless: a delivery whose slice is taken, split or settled leaves it or
    only repeats the fan-in (shared/pipeline/steps.py)."""
    store = services.store
    for slice_id in run.slice_ids:
        store.queues.send(store.names.signin_slices, FetchSlice(run_id=run.run_id,
                                                                slice_id=slice_id))
    if not run.slice_ids:  # nothing its source can read (a period past Graph's 30 days):
        store.queues.send(store.names.run_ready, RunReady(run_id=run.run_id))  # settled
    if not run.starting:
        return run
    return tables.change_run(run.run_id, lambda r: replace(r, starting=False))[1]


GRAPH_RETENTION = timedelta(days=30)  # P1/P2 (reference-reports-data-retention)
GRAPH_MARGIN = timedelta(hours=1)  # a start at the very edge of retention may be gone when read


def refuse_unreadable(window: Window, source: str, now: datetime) -> None:
    """Refuse a window Graph keeps nothing of (it ended 30 days ago or more, give or take the
    margin), whatever the review: Graph answers such a query with no rows, not an error, so the
    run would report every account dormant and every user clean on evidence never read."""
    edge = now - GRAPH_RETENTION + GRAPH_MARGIN
    if source == "graph" and window.end <= edge:
        raise InputError(
            f"the window ends {window.end:%Y-%m-%d %H:%M} UTC, and Graph keeps sign-ins 30 days "
            f"(from {edge:%Y-%m-%d %H:%M} UTC now): nothing in it can be read from Graph. "
            "Review it from the diagnostic-settings archive or Log Analytics, which keep "
            "sign-ins longer (source archive or log-analytics)", source="end")


def readable_part(window: Window, kind: str, source: str, now: datetime
                  ) -> tuple[Window, DataSource | None]:
    """The part of a privileged-account review's period the source can still read: all of it
    from the archive or Log Analytics, the last 30 days from Graph (said in the report); a
    window Graph keeps nothing of is refused (`refuse_unreadable`)."""
    refuse_unreadable(window, source, now)
    if kind != "privileged":
        return window, None
    if source == "graph" and window.start < now - GRAPH_RETENTION + GRAPH_MARGIN:
        start = min(now - GRAPH_RETENTION + GRAPH_MARGIN, window.end)
        return Window(start=start, end=window.end), DataSource(
            "privilegedPeriod", False,
            f"Graph keeps sign-ins 30 days: read {start:%Y-%m-%d %H:%M} to "
            f"{window.end:%Y-%m-%d %H:%M} UTC of the period from {window.start:%Y-%m-%d %H:%M};"
            " the part before was not read (the archive or Log Analytics keep it)")
    return window, DataSource("privilegedPeriod", True,
                              f"the whole period read from {source}")


def with_source(sources: list[DataSource], source: DataSource) -> list[DataSource]:
    """The list with `source` replacing any entry of the same name."""
    return [s for s in sources if s.name != source.name] + [source]


def _settle(done: list[str], failed: dict[str, str], item: str, failure: str | None
            ) -> tuple[list[str], dict[str, str]]:
    """`item` moved to `done`, or to `failed` with its reason (a later success clears it)."""
    if failure is None:
        return sorted(set(done) | {item}), {k: v for k, v in failed.items() if k != item}
    return [d for d in done if d != item], {**failed, item: failure}


def slice_settled(tables: Tables, run_id: str, slice_id: str, *, failure: str | None = None
                  ) -> tuple[RunRecord, bool]:
    """Record a slice as done (or failed with a reason); True when this made every slice settle."""

    def settle(run: RunRecord) -> RunRecord:
        done, failed = _settle(run.slices_done, run.slices_failed, slice_id, failure)
        return replace(run, slices_done=done, slices_failed=failed)

    before, after = tables.change_run(run_id, settle)
    return after, after.slices_settled and not before.slices_settled


def batch_settled(tables: Tables, run_id: str, batch_id: str, *, failure: str | None = None
                  ) -> tuple[RunRecord, bool]:
    """Record a scoring batch as done (or failed); True when this made every batch settle."""

    def settle(run: RunRecord) -> RunRecord:
        done, failed = _settle(run.batches_done, run.batches_failed, batch_id, failure)
        return replace(run, batches_done=done, batches_failed=failed)

    before, after = tables.change_run(run_id, settle)
    return after, after.batches_settled and not before.batches_settled
