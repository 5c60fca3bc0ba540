"""Fetch one time slice of sign-ins: raw pages to write-once evidence, rows to a slice shard.

The run's sign-in source (shared/sources: Graph, the diagnostic-settings archive, Log Analytics)
gives the pages; this step does not know which one it reads. Each page goes to evidence before
anything else happens with it, and the slice entity records the page's SHA-256, where it was read
and the source's cursor after it (Graph's `@odata.nextLink`), so a retried message resumes at the
next page instead of starting over. Whatever the source could not read (an archive hour without a
blob) is recorded on the slice as a gap for the run's report. A page already in evidence (a crash
between the write and the entity update) is kept as it is: what the source said first is the
evidence. When the last page is in, the
slice's rows are grouped by user into a shard that scoring reads by user; each row carries the
index of the page it came from, so a verdict can name the exact pages it rests on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import aclosing
from contextvars import copy_context
from dataclasses import dataclass
from datetime import timedelta

import msgspec
from msgspec.structs import replace

from shared.errors import ConflictError, GraphError
from shared.logs import event
from shared.model import SignIn, Window
from shared.pipeline.records import FetchSlice, RunRecord, SliceRecord
from shared.pipeline.runs import Tables
from shared.services import Services
from shared.sources import Gap, SignInSource, SourcePage, open_source
from shared.store import JSON, EvidenceRef, EvidenceStore, page_name

# A slice whose first page times out at Graph (504 after ~300 s) is fetched as two halves, down
# to this span; shorter ones fail like any other fault.
MIN_SPLIT = timedelta(minutes=30)

ShardRow = tuple[int, SignIn]  # (page index within the slice, the sign-in)
_encode = msgspec.json.Encoder().encode
decode_shard_row = msgspec.json.Decoder(ShardRow).decode


class SliceTaken(ConflictError):
    """Another delivery of the same slice moved it on: this one stops quietly."""


def put_page(evidence: EvidenceStore, name: str, body: bytes, sha256: str | None = None
             ) -> tuple[EvidenceRef, bytes]:
    """Store a page once (`sha256`: its hash, when the source computed it while reading); a page
    an earlier try already stored under the name is kept."""
    ref, stored = evidence.put_or_adopt(name, body, content_type=JSON, sha256=sha256)
    if stored is not body:
        event("fetch.page_adopted", page=name)
    return ref, stored


@dataclass(frozen=True, slots=True)
class _Storing:
    """A page whose evidence write runs while the source reads the next page."""

    page: SourcePage
    n: int
    write: Future[tuple[EvidenceRef, bytes]]


async def fetch_pages(services: Services, run: RunRecord, record: SliceRecord,
                      fetched: dict[int, list[SignIn]],
                      on_page: Callable[[], None] = lambda: None) -> SliceRecord:
    """Fetch the slice's remaining pages into evidence, recording each one on the slice entity.

    A page's evidence write runs while the source reads the next page; each page is recorded
    (in order) before the next one's write starts. The sign-ins of pages fetched now are kept
    in `fetched` (page index -> rows) so the shard does not read them back.
    """
    tables = Tables.of(services.store)
    evidence = services.store.evidence
    source = open_source(services, run.source)
    window = Window(start=record.start, end=record.end)
    restart: Window | None = None  # after an expired skip token (Graph): the part not yet read
    storing: _Storing | None = None

    def settle() -> bool:
        """Record the page being stored; True when the stream must go on from the stored
        page's own cursor (an earlier try stored other bytes under its name)."""
        nonlocal record, storing
        if storing is None:
            return False
        (page, n, write), storing = (storing.page, storing.n, storing.write), None
        ref, body = write.result()
        adopted = source.stored(body, page, window) if body is not page.body else page
        record = _append_page(tables, record, n, ref, adopted)
        fetched[n] = adopted.sign_ins
        on_page()
        return adopted.cursor != page.cursor and adopted.cursor is not None

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidence") as writer:
        while not (record.pages or record.gaps) or record.next_link is not None:
            restarted = False
            resume = None if restart else record.next_link
            stream = source.pages(restart or window, user=run.user_id, resume_from=resume)
            try:
                async with aclosing(stream):
                    async for page in stream:
                        restart = None
                        if restarted := settle():
                            break
                        if page.body is None:  # nothing to store: the source says what it missed
                            record = _record_gaps(tables, record, page)
                            continue
                        name = page_name(run.run_id, record.slice_id, len(record.pages))
                        storing = _Storing(page, len(record.pages), writer.submit(
                            copy_context().run, put_page, evidence, name, page.body,
                            page.sha256))
                    else:
                        restarted = settle()
            except GraphError as exc:
                settle()  # the page already being stored is recorded before anything else
                # Graph's skip tokens expire (400): read again what the stored pages do not hold
                if resume is None or exc.status != 400:
                    raise
                restart = unread_part(evidence, source, record, fetched)
                event("fetch.skiptoken_expired", restartEnd=restart.end.isoformat())
                continue
            if not restarted:
                break
    return record


def _append_page(tables: Tables, record: SliceRecord, n: int, ref: EvidenceRef,
                 page: SourcePage) -> SliceRecord:
    def add(current: SliceRecord) -> SliceRecord:
        if len(current.pages) != n:
            raise SliceTaken(f"slice {record.slice_id} moved on under another delivery",
                             run_id=record.run_id)
        return replace(current, pages=[*current.pages, ref], next_link=page.cursor,
                       origins=[*current.origins, page.origin],
                       gaps=_with_gaps(current.gaps, page.gaps),
                       rows=current.rows + len(page.sign_ins))

    return tables.change_slice(record.run_id, record.slice_id, add)


def _record_gaps(tables: Tables, record: SliceRecord, page: SourcePage) -> SliceRecord:
    def add(current: SliceRecord) -> SliceRecord:
        if current.next_link != record.next_link:
            raise SliceTaken(f"slice {record.slice_id} moved on under another delivery",
                             run_id=record.run_id)
        return replace(current, next_link=page.cursor, gaps=_with_gaps(current.gaps, page.gaps))

    return tables.change_slice(record.run_id, record.slice_id, add)


def _with_gaps(gaps: list[Gap], more: tuple[Gap, ...]) -> list[Gap]:
    """Gaps once each (a slice started over finds the same missing hours again)."""
    return gaps + [g for g in more if g not in gaps]


def unread_part(evidence: EvidenceStore, source: SignInSource, record: SliceRecord,
                fetched: dict[int, list[SignIn]]) -> Window:
    """Where to start again when a stored nextLink's skip token has expired (Graph answers
    400): the slice from its start up to the oldest sign-in already stored (pages come newest
    first). Sign-ins at that very moment are read again and dropped by id in `slice_rows`."""
    rows = _page_rows(evidence, source, record, fetched, len(record.pages) - 1)
    oldest = min((s.created_date_time for s in rows), default=record.end)
    return Window(start=record.start, end=min(oldest, record.end))


def _page_rows(evidence: EvidenceStore, source: SignInSource, record: SliceRecord,
               fetched: dict[int, list[SignIn]], n: int) -> list[SignIn]:
    rows = fetched.get(n)
    if rows is None:
        rows = source.rows(evidence.read_evidence(record.pages[n]),
                           Window(start=record.start, end=record.end))
    return rows


def slice_rows(evidence: EvidenceStore, source: SignInSource, record: SliceRecord,
               fetched: dict[int, list[SignIn]]) -> Iterator[ShardRow]:
    """Every sign-in of the slice's pages once (a restart after an expired skip token reads
    some twice): those fetched now from memory, the others re-read from evidence
    (hash-checked)."""
    seen: set[str] = set()
    for n in range(len(record.pages)):
        for sign_in in _page_rows(evidence, source, record, fetched, n):
            if sign_in.id not in seen:
                seen.add(sign_in.id)
                yield n, sign_in


def write_shard(services: Services, run: RunRecord, record: SliceRecord,
                fetched: dict[int, list[SignIn]]) -> int:
    """Group the slice's rows by user into its shard; returns the number of users."""
    by_user: dict[str, list[bytes]] = {}
    source = open_source(services, run.source)
    for n, sign_in in slice_rows(services.store.evidence, source, record, fetched):
        by_user.setdefault(sign_in.user_key, []).append(_encode((n, sign_in)))
    by_user.pop("", None)  # rows without any user id cannot be scored (service principals)
    services.store.shards.put_shard(record.run_id, record.slice_id, by_user)
    return len(by_user)


def fetch_slice(services: Services, run: RunRecord, record: SliceRecord,
                on_page: Callable[[], None] = lambda: None) -> SliceRecord:
    """The whole step for one slice: pages (resumed where a previous try stopped), then shard.
    `on_page` runs after each stored page (the caller renews its fetch lease there)."""
    fetched: dict[int, list[SignIn]] = {}
    record = asyncio.run(fetch_pages(services, run, record, fetched, on_page))
    users = write_shard(services, run, record, fetched)
    event("fetch.slice_done", sliceId=record.slice_id, pages=len(record.pages),
          rows=record.rows, users=users, gaps=len(record.gaps))
    return record


def split_slice(services: Services, record: SliceRecord) -> list[str]:
    """Replace a slice whose query Graph could not answer in time by its two halves: their
    records, the run's slice list, the slice marked `split`, one message per half. Each step is
    idempotent, so a redelivery after a crash finishes the job. [] when it cannot be split
    (pages already stored, or the slice is already short)."""
    if record.pages or record.end - record.start < MIN_SPLIT * 2:
        return []
    tables = Tables.of(services.store)
    middle = record.start + (record.end - record.start) / 2
    middle = middle.replace(microsecond=0)
    halves = {f"{record.slice_id}a": (record.start, middle - timedelta(microseconds=1)),
              f"{record.slice_id}b": (middle, record.end)}
    for slice_id, (start, end) in halves.items():
        tables.slices.create(SliceRecord(run_id=record.run_id, slice_id=slice_id, start=start,
                                         end=end))

    def swap(run: RunRecord) -> RunRecord:
        if record.slice_id not in run.slice_ids:
            return run
        at = run.slice_ids.index(record.slice_id)
        ids = [*run.slice_ids[:at], *halves, *run.slice_ids[at + 1:]]
        return replace(run, slice_ids=ids)

    tables.change_run(record.run_id, swap)
    tables.change_slice(record.run_id, record.slice_id,
                        lambda r: replace(r, status="split", split_into=list(halves)))
    send_halves(services, record.run_id, list(halves))
    event("fetch.slice_split", halves=list(halves), start=record.start.isoformat(),
          end=record.end.isoformat())
    return list(halves)


def send_halves(services: Services, run_id: str, slice_ids: list[str]) -> None:
    for slice_id in slice_ids:
        services.store.queues.send(services.store.names.signin_slices,
                                   FetchSlice(run_id=run_id, slice_id=slice_id))
