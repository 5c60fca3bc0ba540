"""Killing the worker in the middle of a one-user review: the run still ends.

The HTTP API runs in this process (`make serve`'s server, no queue runner of its own); the
worker is `python -m local.runner` in a process of its own, which the test kills (SIGKILL, as a
recycled instance dies) while the Graph emulator holds its sign-in query unanswered. Nothing here
waits for a sleep to be long enough: the emulator says when the request is held, and every loop
has only a hang guard.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.graph_emulator import GraphEmulator
from local.serve import LocalApi
from local.stack import local_settings
from shared.pipeline import stranded
from shared.services import Services
from tests.fixtures.api import ALICE, FAST_GRAPH, USERS

REPO = Path(__file__).resolve().parents[2]
GUARD_S = 300  # hang guards, not paces
VISIBILITY_S = 2  # how long the worker's received message stays invisible (the host: 10 min)


def sign_in(minutes_ago: int) -> dict[str, Any]:
    moment = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return {"id": f"si-{minutes_ago}", "createdDateTime": moment.isoformat().replace("+00:00", "Z"),
            "userId": ALICE, "userPrincipalName": "alice@contoso.com", "ipAddress": "203.0.113.7",
            "status": {"errorCode": 0}, "location": {"countryOrRegion": "NL", "city": "Utrecht"},
            "appDisplayName": "Office 365", "clientAppUsed": "Browser", "isInteractive": True}


class Stack:
    """The API in this process, workers in their own processes, one storage prefix."""

    def __init__(self, storage: str, graph: GraphEmulator) -> None:
        self.prefix = "k" + uuid.uuid4().hex[:10]
        self.env = {
            "AzureWebJobsStorage": storage, "GRAPH_BASE_URL": graph.base_url,
            "GRAPH_CREDENTIAL": "local", "GRAPH_LOCAL_TOKEN": graph.token,
            "STORAGE_NAME_PREFIX": self.prefix, "ADHOC_SYNC_SECONDS": "0.5", **FAST_GRAPH,
        }
        self.services = Services(local_settings(storage, graph.base_url, graph.token,
                                                **{k: v for k, v in self.env.items()
                                                   if k not in ("AzureWebJobsStorage",
                                                                "GRAPH_BASE_URL",
                                                                "GRAPH_LOCAL_TOKEN")}),
                                 store_prefix=self.prefix)
        self.services.store.ensure_resources()
        self.api = LocalApi(self.services).start()
        self.http = httpx.Client(base_url=self.api.base_url, trust_env=False, timeout=60,
                                 headers={"x-functions-key": self.api.function_key})
        self.workers: list[subprocess.Popen[str]] = []

    def worker(self) -> subprocess.Popen[str]:
        """`python -m local.runner` for the review-user queue, started and ready."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "local.runner", "--only", "review-user",
             "--visibility", str(VISIBILITY_S), "--every", "0.1"],
            cwd=REPO, env={**os.environ, **self.env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        self.workers.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until the worker is up (or has died)
        assert line.startswith("runner ready"), line + proc.stdout.read()
        return proc

    def kill(self, proc: subprocess.Popen[str]) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=GUARD_S)

    def status(self, run_id: str) -> dict[str, Any]:
        answer = self.http.get(f"/api/reviews/{run_id}")
        assert answer.status_code == 200, answer.text  # never a 404: the record came first
        found: dict[str, Any] = answer.json()
        return found

    def until(self, run_id: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + GUARD_S
        while not done(run := self.status(run_id)):
            assert time.monotonic() < deadline, run
            time.sleep(0.2)
        return run

    def close(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                self.kill(proc)
            if proc.stdout is not None:
                proc.stdout.close()
        self.http.close()
        self.api.stop()
        self.services.store.close()


@pytest.fixture
def stack(storage_connection_string: str, graph: GraphEmulator) -> Iterator[Stack]:
    graph.load(users=[dict(u) for u in USERS], sign_ins=[sign_in(90), sign_in(30)])
    made = Stack(storage_connection_string, graph)
    try:
        yield made
    finally:
        graph.release_held()
        made.close()


def review_killed_mid_fetch(stack: Stack, graph: GraphEmulator) -> str:
    """Ask for a review, let a worker start it, kill the worker while Graph holds its query;
    the run id (its run then stays `fetching`: nothing else would change it)."""
    graph.configure(hold_path="/auditLogs/signIns")
    held = graph.faults.held
    answer = stack.http.post("/api/reviews", json={"user": ALICE, "lookbackHours": 24,
                                                   "ticketId": "INC-KILL"})
    assert answer.status_code == 202, answer.text
    run_id: str = answer.json()["runId"]
    assert stack.status(run_id)["status"] == "queued"  # no worker yet: only the record
    worker = stack.worker()
    assert held.wait(GUARD_S), "the worker never asked Graph for the user's sign-ins"
    assert stack.status(run_id)["status"] == "fetching"
    stack.kill(worker)
    graph.release_held()  # answers a dead connection; the review is gone with its worker
    assert stack.status(run_id)["status"] == "fetching"
    return run_id


@pytest.mark.slow
def test_a_killed_worker_s_review_is_delivered_again_and_completes(
    stack: Stack, graph: GraphEmulator
) -> None:
    run_id = review_killed_mid_fetch(stack, graph)
    stack.worker()  # the message comes back once its visibility lapses
    run = stack.until(run_id, lambda r: r["status"] not in ("queued", "fetching"))
    assert run["status"] == "complete", run
    assert (run["attempts"], run["ticketId"]) == (2, "INC-KILL")  # the killed one counts
    verdict = stack.http.get(run["links"]["user"])
    assert verdict.status_code == 200 and verdict.json()["userId"] == ALICE


@pytest.mark.slow
def test_a_killed_worker_s_review_is_ended_by_the_stranded_timer(
    stack: Stack, graph: GraphEmulator
) -> None:
    """The message is never delivered again (lost with its instance): the timer ends the run
    once the bound has passed, not before; a delivery that still comes finds it ended."""
    run_id = review_killed_mid_fetch(stack, graph)
    services = stack.services
    now = datetime.now(UTC)
    assert stranded.sweep(services, now) == []
    assert stack.status(run_id)["status"] == "fetching"
    later = now + stranded.STRANDED_AFTER + timedelta(minutes=1)
    assert stranded.sweep(services, later) == [run_id]
    run = stack.status(run_id)
    assert run["status"] == "failed" and run["failure"].startswith("stranded: still fetching")
    graph.reset()
    stack.worker()  # the message comes back: it must leave the ended run as it is
    queue = services.store.names.review_user
    deadline = time.monotonic() + GUARD_S
    while services.store.queues.approximate_count(queue) > 0:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert stack.status(run_id)["status"] == "failed"
    assert [c for c in graph.calls if c["path"].endswith("/auditLogs/signIns")] == []
