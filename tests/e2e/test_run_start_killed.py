"""Killing the process that starts a tenant run between its record and its fetch messages.

POST /api/reviews for the tenant runs in a process of its own (the HTTP trigger function, as the
host calls it), whose queue client kills that process (SIGKILL, as a recycled instance dies)
when it is about to send its `n`-th fetch message: the run record exists, `fetching`, and no
message (or only the first) names its slices. Nothing would ever change it; the stranded-run
timer sends its messages once its creator's functionTimeout has passed, not before, and the run
then ends like any other. Nothing waits for a sleep to be long enough: the kill happens at the
send itself, and the timer is given its time.

Beside it, the other ways a run of many users could wait for a message that never comes: a
period with nothing to fetch, and a split slice whose own message is poisoned.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from msgspec.structs import replace

from local.graph_emulator import GraphEmulator
from local.runner import QueueRunner
from local.stack import local_settings
from shared.errors import InputError
from shared.model import Window
from shared.pipeline import fetch, steps, stranded
from shared.pipeline.records import FetchSlice, RunRecord
from shared.pipeline.runs import Tables, start_run
from shared.services import Services
from shared.store import encode_message
from tests.e2e.test_user_review_worker import sign_in
from tests.fixtures.api import FAST_GRAPH, USERS

REPO = Path(__file__).resolve().parents[2]
GUARD_S = 300  # hang guard, not a pace

# The HTTP trigger function of POST /api/reviews, called as the host calls it, in a process
# whose queue client kills it on the n-th fetch message it sends (argv[1], counted from 0).
STARTER = """
import os, signal, sys
import azure.functions as func
import function_app
from local.runner import user_function
from shared.services import current

services = current()
queues, kill_at, sent = services.store.queues, int(sys.argv[1]), []
send = queues.send

def dying_send(queue, message, **options):
    if queue == services.store.names.signin_slices:
        if len(sent) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        sent.append(message)
    return send(queue, message, **options)

queues.send = dying_send
answer = user_function(function_app.create_review)(func.HttpRequest(
    method="POST", url="http://127.0.0.1/api/reviews",
    headers={"Content-Type": "application/json"}, params={}, route_params={},
    body=b'{"scope": "tenant", "lookbackHours": 24, "ticketId": "INC-START"}'))
print("answered", answer.status_code, answer.get_body()[:300], flush=True)
"""


def start_killed(storage: str, graph: GraphEmulator, prefix: str, kill_at: int) -> None:
    env = {**os.environ, "AzureWebJobsStorage": storage, "GRAPH_BASE_URL": graph.base_url,
           "GRAPH_CREDENTIAL": "local", "GRAPH_LOCAL_TOKEN": graph.token,
           "STORAGE_NAME_PREFIX": prefix, "SLICE_HOURS": "6", **FAST_GRAPH}
    done = subprocess.run([sys.executable, "-c", STARTER, str(kill_at)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=GUARD_S)
    assert done.returncode == -9, done.stdout + done.stderr  # killed at the send, never answered
    assert "answered" not in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", [0, 1], ids=["before-any-message", "after-one-message"])
def test_a_tenant_run_whose_starter_died_is_started_by_the_timer_and_ends(
    storage_connection_string: str, graph: GraphEmulator, kill_at: int
) -> None:
    graph.load(users=[dict(u) for u in USERS], sign_ins=[sign_in(90), sign_in(30)])
    prefix = "s" + uuid.uuid4().hex[:10]
    services = Services(local_settings(storage_connection_string, graph.base_url, graph.token,
                                       SLICE_HOURS="6", **FAST_GRAPH), store_prefix=prefix)
    services.store.ensure_resources()
    try:
        start_killed(storage_connection_string, graph, prefix, kill_at)
        tables = Tables.of(services.store)
        (run,) = tables.runs.query("RowKey eq 'run'")
        assert (run.kind, run.status, run.starting) == ("tenant", "fetching", True)
        assert len(run.slice_ids) == 4  # 24 hours in 6-hour slices, each with its record
        assert [tables.slice(run.run_id, s).status for s in run.slice_ids] == ["pending"] * 4
        slices_queue = services.store.names.signin_slices
        assert services.store.queues.approximate_count(slices_queue) == kill_at

        assert stranded.resume(services, datetime.now(UTC)) == []  # it may still be sending
        assert stranded.resume(services, run.created_at + stranded.STARTING_AFTER) == []
        later = run.created_at + stranded.STARTING_AFTER + timedelta(seconds=1)
        assert stranded.sweep(services, later) == []  # a tenant run is never ended
        timer_time = Services(services.settings, store_prefix=prefix, clock=lambda: later)
        try:
            QueueRunner(timer_time).fire_stranded_timer()  # function_app's stranded_runs
        finally:
            timer_time.store.close()
        final = tables.run(run.run_id)
        assert (final.status, final.starting) == ("fetching", False)
        assert stranded.resume(services, later) == []  # sent once: the mark is cleared
        assert services.store.queues.approximate_count(slices_queue) == kill_at + 4

        runner = QueueRunner(services)  # the fetch, scoring and finalize functions
        runner.drain_until(lambda: ended(tables.run(run.run_id)), timeout_s=GUARD_S)
        final = tables.run(run.run_id)
        assert final.status == "complete", (final.status, final.slices_failed, runner.failures)
        assert sorted(final.slices_done) == run.slice_ids and final.ticket_id == "INC-START"
        assert final.sign_ins == 2 and not final.starting
    finally:
        services.store.close()


def ended(run: RunRecord) -> bool:
    return run.status in ("complete", "partial", "failed")


@pytest.mark.slow
def test_a_privileged_period_graph_no_longer_keeps_is_refused_before_anything_is_written(
    storage_connection_string: str, graph: GraphEmulator
) -> None:
    """A quarter that ended more than 30 days ago leaves Graph nothing to read. It used to run
    with no slice and end `complete`, every administrator dormant with the removal of their
    roles proposed, on sign-ins never read; it is refused now, naming the sources that keep
    them, and no run, slice or message is written."""
    graph.load(users=[dict(u) for u in USERS], sign_ins=[sign_in(90)])
    services = Services(local_settings(storage_connection_string, graph.base_url, graph.token,
                                       **FAST_GRAPH), store_prefix="q" + uuid.uuid4().hex[:10])
    services.store.ensure_resources()
    try:
        now = datetime.now(UTC)
        period = Window(start=now - timedelta(days=130), end=now - timedelta(days=40))
        with pytest.raises(InputError, match="archive or Log Analytics"):
            start_run(services, window=period, kind="privileged")
        tables = Tables.of(services.store)
        assert list(tables.runs.query("RowKey eq 'run'")) == []
        assert list(tables.slices.query("PartitionKey ne ''")) == []
        assert services.store.queues.approximate_count(services.store.names.signin_slices) == 0
    finally:
        services.store.close()


@pytest.mark.slow
def test_a_split_slice_s_poisoned_message_sends_its_halves_and_settles_nothing(
    storage_connection_string: str, graph: GraphEmulator
) -> None:
    """The message of a slice split in two lands in the poison queue (sending its halves failed
    on every delivery): the halves are sent once more, the split slice is not counted as a
    failed slice of the run, and the run ends with every half read."""
    graph.load(users=[dict(u) for u in USERS], sign_ins=[sign_in(90), sign_in(30)])
    services = Services(local_settings(storage_connection_string, graph.base_url, graph.token,
                                       SLICE_HOURS="6", **FAST_GRAPH),
                        store_prefix="p" + uuid.uuid4().hex[:10])
    services.store.ensure_resources()
    try:
        now = datetime.now(UTC)
        run = start_run(services, window=Window(start=now - timedelta(hours=12), end=now),
                        kind="tenant")
        tables = Tables.of(services.store)
        last = run.slice_ids[-1]
        halves = fetch.split_slice(services, tables.slice(run.run_id, last))
        steps.on_poison(services, "signin-slices",
                        encode_message(FetchSlice(run_id=run.run_id, slice_id=last)))
        split = tables.run(run.run_id)
        assert split.slice_ids == [*run.slice_ids[:-1], *halves] and split.slices_failed == {}
        assert tables.slice(run.run_id, last).status == "split"
        queue = services.store.names.signin_slices
        assert services.store.queues.approximate_count(queue) == len(run.slice_ids) + 4
        # had it been counted, the split slice would have stood for a half still unread
        assert not replace(split, slices_done=[halves[0], *run.slice_ids[:-1]],
                           slices_failed={last: "poisoned"}).slices_settled

        runner = QueueRunner(services)
        runner.drain_until(lambda: ended(tables.run(run.run_id)), timeout_s=GUARD_S)
        final = tables.run(run.run_id)
        assert final.status == "complete", (final.slices_failed, runner.failures)
        assert sorted(final.slices_done) == sorted(split.slice_ids) and final.sign_ins == 2
    finally:
        services.store.close()
