"""One sign-in budget per tenant, shared by every process: two processes with separate Graph
clients fetch at once from an emulator throttling at Graph's real rate (5 requests per 10 s per
app and tenant, https://learn.microsoft.com/en-us/graph/throttling-limits#identity-and-access-
reports-service-limits) and meet no 429. Nothing here depends on how fast the machine is: the
assertions are "no 429" and "at most 5 admitted in any 10 s", by the emulator's own clock."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

from local.graph_emulator import GraphEmulator
from tests.integration.test_graph_signins import END, sign_in

ROOT = Path(__file__).resolve().parents[2]
HANG_GUARD_S = 600


def test_two_processes_share_one_budget_and_meet_no_429(
    graph: GraphEmulator, storage_connection_string: str
) -> None:
    graph.load(sign_ins=[sign_in(i) for i in range(1000)])  # 10 s apart, newest at END
    graph.configure(signin_rate=(5, 10.0))
    middle = END - timedelta(seconds=5000)
    halves = [(END - timedelta(seconds=10000), middle - timedelta(microseconds=1)),
              (middle, END)]
    prefix = "b" + uuid.uuid4().hex[:10]
    fetchers = [subprocess.Popen(
        [sys.executable, "-m", "tests.integration.budget_fetcher", storage_connection_string,
         graph.base_url, graph.token, prefix, start.isoformat(), end.isoformat()],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for start, end in halves]
    results = []
    for process in fetchers:
        out, err = process.communicate(timeout=HANG_GUARD_S)
        assert process.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert sum(r["rows"] for r in results) == 1000
    assert all(r["requests"] >= 5 and r["throttled"] == 0 for r in results)
    statuses = [c["status"] for c in graph.calls]
    assert statuses.count(200) == sum(r["requests"] for r in results)
    assert 429 not in statuses
    admitted = graph.faults.admitted_sign_ins()
    assert len(admitted) == len(statuses)
    for first, sixth in zip(admitted, admitted[5:], strict=False):
        assert sixth - first >= 10.0  # never more than 5 in any 10 s


def test_a_dropped_connection_does_not_hold_the_budget(
    graph: GraphEmulator, storage_connection_string: str
) -> None:
    """A request whose connection dropped may have arrived: its slot counts from the drop,
    instead of blocking every instance's window until it goes stale."""
    import asyncio

    from local.stack import local_settings
    from shared.graph import stream_sign_ins
    from shared.model import Window
    from shared.services import Services

    graph.load(sign_ins=[sign_in(i) for i in range(300)])
    graph.configure(drop_next=1)
    settings = local_settings(storage_connection_string, graph.base_url, graph.token,
                              GRAPH_SIGNIN_REQUESTS="10", GRAPH_SIGNIN_PERIOD_SECONDS="0.5")
    services = Services(settings, store_prefix="b" + uuid.uuid4().hex[:10])
    window = Window(END - timedelta(seconds=3000), END)

    async def fetch() -> int:
        async with services.graph() as g:
            g.backoff_base_s = 0.01
            return sum([len(p.sign_ins) async for p in stream_sign_ins(g, window, page_size=100)])

    assert asyncio.run(fetch()) == 300
    budget = services.signin_budget
    record = budget.table.get("budget", budget.name)
    assert record is not None and len(record.slots) == len(graph.calls)  # every one is kept
    assert all(slot.answered is not None for slot in record.slots)
    assert graph.calls[0]["status"] is None  # the dropped one
    services.store.close()
