"""The budget every instance shares (shared/store/budget.py), in Azurite on a virtual clock: an
unanswered request holds its slot until it is answered or its read times out, however many
requests are granted after it."""

from __future__ import annotations

import asyncio

import pytest

from shared.store import Store
from shared.store.budget import POLL_S, BudgetRecord, SharedBudget, budget_keys
from tests.unit.test_limiter import VirtualClock


def budget(store: Store, clock: VirtualClock, *, requests: int = 5, stale_s: float = 340.0
           ) -> SharedBudget:
    name = store.names.graph_budget
    store.clients.table_service.create_table_if_not_exists(name)
    table = store.table(name, BudgetRecord, budget_keys)
    return SharedBudget(table, "signIns test", requests, 10.0, margin_s=0.0, stale_s=stale_s,
                        clock=clock, sleep=clock.sleep)


def test_an_unanswered_slot_is_kept_after_five_newer_grants(store: Store) -> None:
    """Five requests in the first 50 ms, the first never answered; at 10.05 s the other four's
    window has passed and four more go (with the first still out: five on their way). The next
    waits until those four are 10 s old: before the fix the first fell out of the record after
    five newer grants, and the tenth went out at once."""
    clock = VirtualClock()
    shared = budget(store, clock)

    async def run() -> list[float]:
        await shared.acquire()  # the slow one: never answered here
        for _ in range(4):
            clock.now += 0.01
            granted = await shared.acquire()
            shared.settle(granted, clock.now)
        clock.now = 10.05
        times = []
        for _ in range(5):
            granted = await shared.acquire()
            shared.settle(granted, clock.now)
            times.append(clock.now)
        return times

    times = asyncio.run(run())
    assert times[:4] == [10.05] * 4
    assert times[4] == pytest.approx(20.05, abs=POLL_S)


def test_an_unanswered_slot_counts_from_its_timeout(store: Store) -> None:
    """With one request per 10 s, a request never answered blocks the next until its read has
    timed out (`stale_s`), and then counts from that moment."""
    clock = VirtualClock()
    shared = budget(store, clock, requests=1, stale_s=30.0)

    async def run() -> float:
        await shared.acquire()  # never answered
        await shared.acquire()
        return clock.now

    assert asyncio.run(run()) == pytest.approx(30.0 + 10.0, abs=POLL_S)


def test_callers_of_one_process_take_slots_without_losing_writes(store: Store) -> None:
    """Eight threads (each with its event loop, as scoring batches run) take a slot each at
    once: within a process one caller at a time reads and writes the entity, so no write of a
    slot is lost to another caller of the same process, and every slot is recorded."""
    import threading

    name = store.names.graph_budget
    store.clients.table_service.create_table_if_not_exists(name)
    shared = SharedBudget(store.table(name, BudgetRecord, budget_keys), "signIns test", 8, 10.0)
    lost: list[bool] = []
    write = shared._write

    def counted(record: BudgetRecord, etag: str | None) -> bool:
        written = write(record, etag)
        lost.append(not written)
        return written

    shared._write = counted  # type: ignore[method-assign]
    start = threading.Barrier(8)

    def caller() -> None:
        start.wait()
        asyncio.run(shared.acquire())

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    record = shared.table.get("budget", "signIns test")
    assert record is not None and len(record.slots) == 8
    assert lost == [False] * 8
