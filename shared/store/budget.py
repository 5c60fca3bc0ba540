"""A request budget shared by every process and instance: Graph's sign-in throttle, in Table
storage.

Graph allows 5 signIns requests per 10 s per app and tenant, counted when a request arrives;
every fetcher, per-user history and ad-hoc review of every instance spends the same budget. An
in-process limiter cannot see the others, so the budget lives in one table entity: the send and
answer times of the last N requests, and a "not before" a 429 set. Writers take a slot with
optimistic concurrency (ETag): read, decide, write only if nobody wrote meanwhile, else read
again.

A request counts from its answer, not from when it was sent: the server counts it somewhere in
between, so measured from the answer the next window can only start late, never early. Until a
request is answered its slot blocks the window (a request may still be on its way), however
many requests are granted after it. A slot left unanswered for `stale_s` (longer than the Graph
client's read timeout: a process that died mid-request) counts from then.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

import msgspec
from msgspec.structs import replace

from shared.errors import ConcurrencyConflict
from shared.store.tables import EntityTable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
POLL_S = 0.25  # how often a waiter behind an unanswered request looks again
# How often a caller waiting behind another of the same process's callers looks again. Within a
# process one caller at a time reads and writes the entity: sixteen scoring batches waking at
# once for one free slot made fifteen lost writes and sixteen reads per slot (a run of 5,000
# users read the entity 6,689 times for about 600 requests), and the conflicts slowed the rate
# below the budget's.
GATE_POLL_S = 0.02


class Slot(msgspec.Struct, array_like=True):
    sent: float
    answered: float | None = None


class BudgetRecord(msgspec.Struct, kw_only=True):
    name: str
    slots: list[Slot] = msgspec.field(default_factory=list)
    not_before: float = 0.0


def budget_keys(record: BudgetRecord) -> tuple[str, str]:
    return "budget", record.name


class SharedBudget:
    """At most `requests` per `period_s` across every holder of the same table entity; the
    interface of `shared.graph.limiter.RequestLimiter` (acquire, settle, defer, now)."""

    def __init__(self, table: EntityTable[BudgetRecord], name: str, requests: int,
                 period_s: float, *, margin_s: float = 0.1, stale_s: float = 400.0,
                 clock: Clock = time.time, sleep: Sleep = asyncio.sleep) -> None:
        if requests < 1 or period_s <= 0:
            raise ValueError("a budget needs requests >= 1 and period_s > 0")
        self.table = table
        self.name = name
        self.requests = requests
        self.period_s = period_s
        self.margin_s = margin_s
        self.stale_s = stale_s
        self._clock = clock
        self._sleep = sleep
        self.waited_s = 0.0
        self._gate = threading.Lock()  # one caller of this process at a time takes a slot

    def now(self) -> float:
        return self._clock()

    def delay(self, record: BudgetRecord, now: float) -> float:
        """Seconds from `now` until one more request may be sent under `record`."""
        earliest = record.not_before
        counted = sorted((self._counted_from(slot, now) for slot in record.slots), reverse=True)
        if len(counted) >= self.requests:  # the N-th latest decides, answered or not
            earliest = max(earliest, counted[self.requests - 1] + self.period_s + self.margin_s)
        return max(0.0, earliest - now)

    def _in_flight(self, slot: Slot, now: float) -> bool:
        return slot.answered is None and now - slot.sent <= self.stale_s

    def kept(self, record: BudgetRecord, now: float) -> list[Slot]:
        """The slots worth keeping before a new one: the latest N-1, and every older one still
        unanswered (it holds its slot until answered or stale, not until N newer grants)."""
        recent = record.slots[-(self.requests - 1):] if self.requests > 1 else []
        older = record.slots[:len(record.slots) - len(recent)]
        return [s for s in older if self._in_flight(s, now)] + recent

    def _counted_from(self, slot: Slot, now: float) -> float:
        if slot.answered is not None:
            return slot.answered
        if now - slot.sent > self.stale_s:
            return slot.sent + self.stale_s
        return now  # still on its way: it blocks the window until answered

    async def acquire(self) -> float:
        """Wait for a free slot and take it; the send time (pass it to `settle`). The process's
        other callers wait here meanwhile (threads each with an event loop, so the gate is a
        thread lock, polled: a cancelled waiter never holds it)."""
        while not self._gate.acquire(blocking=False):
            await asyncio.sleep(GATE_POLL_S)
        try:
            return await self._take()
        finally:
            self._gate.release()

    async def _take(self) -> float:
        while True:
            current = await asyncio.to_thread(self.table.get_versioned, "budget", self.name)
            record = current.record if current else BudgetRecord(name=self.name)
            now = self._clock()
            wait = self.delay(record, now)
            if wait > 0:
                pause = min(wait, POLL_S) if self._blocked_by_unanswered(record, now) else wait
                self.waited_s += pause
                await self._sleep(pause)
                continue
            taken = replace(record, slots=[*self.kept(record, now), Slot(now)])
            if await asyncio.to_thread(self._write, taken, current.etag if current else None):
                return now

    def _blocked_by_unanswered(self, record: BudgetRecord, now: float) -> bool:
        return any(self._in_flight(s, now) for s in record.slots)

    def _write(self, record: BudgetRecord, etag: str | None) -> bool:
        try:
            written = self.table.update_if_match(record, etag) if etag else \
                self.table.create(record)
        except ConcurrencyConflict:
            return False
        return written is not None

    def settle(self, granted: float, answered_at: float) -> None:
        """Record when the request sent at `granted` was answered."""
        def answer(current: BudgetRecord | None) -> BudgetRecord:
            record = current or BudgetRecord(name=self.name)
            slots = [Slot(s.sent, max(answered_at, s.sent))
                     if s.sent == granted and s.answered is None else s for s in record.slots]
            return replace(record, slots=slots)

        self.table.modify("budget", self.name, answer)

    def defer(self, seconds: float) -> None:
        """Hold every holder's next request back for `seconds` from now (a Retry-After)."""
        until = self._clock() + max(0.0, seconds)

        def hold(current: BudgetRecord | None) -> BudgetRecord:
            record = current or BudgetRecord(name=self.name)
            return replace(record, not_before=max(record.not_before, until))

        self.table.modify("budget", self.name, hold)
