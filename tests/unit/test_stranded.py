"""The stranded-run bound: derived from host.json, and which runs it ends."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.pipeline import stranded
from shared.pipeline.records import RunRecord

HOST = json.loads((Path(__file__).resolve().parents[2] / "host.json").read_text())
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def span(text: str) -> timedelta:
    hours, minutes, seconds = (int(part) for part in text.split(":"))
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def run(status: str, age: timedelta, kind: str = "user", *, starting: bool = False) -> RunRecord:
    return RunRecord(run_id="user-x", kind=kind, window_start=NOW - timedelta(days=1),  # type: ignore[arg-type]
                     window_end=NOW, status=status, created_at=NOW - age,  # type: ignore[arg-type]
                     api_version="v1.0", starting=starting)


def test_the_bound_follows_host_json() -> None:
    queues = HOST["extensions"]["queues"]
    assert stranded.FUNCTION_TIMEOUT == span(HOST["functionTimeout"])
    assert stranded.VISIBILITY_TIMEOUT == span(queues["visibilityTimeout"])
    assert stranded.MAX_DEQUEUE_COUNT == queues["maxDequeueCount"]
    # every delivery may run to the timeout, die, and come back after the host's 10 minutes
    assert stranded.STRANDED_AFTER == 5 * (timedelta(minutes=30) + timedelta(minutes=10)
                                           + timedelta(seconds=30))
    assert stranded.STRANDED_AFTER == timedelta(minutes=202, seconds=30)
    assert stranded.SWEEP_EVERY == timedelta(minutes=15)
    assert stranded.SCHEDULE == "0 */15 * * * *"


@pytest.mark.parametrize("status", ["queued", "fetching", "scoring", "finalizing"])
def test_a_one_user_run_still_working_past_the_bound_is_stranded(status: str) -> None:
    assert stranded.is_stranded(run(status, stranded.STRANDED_AFTER + timedelta(seconds=1)), NOW)
    assert not stranded.is_stranded(run(status, stranded.STRANDED_AFTER), NOW)


@pytest.mark.parametrize("status", ["complete", "partial", "failed"])
def test_an_ended_run_is_never_stranded(status: str) -> None:
    assert not stranded.is_stranded(run(status, timedelta(days=30)), NOW)


@pytest.mark.parametrize("kind", ["scheduled", "tenant", "privileged"])
def test_runs_of_many_users_are_left_to_their_poison_queues(kind: str) -> None:
    assert not stranded.is_stranded(run("fetching", timedelta(days=2), kind), NOW)


def test_a_run_s_start_is_taken_over_once_its_creator_has_timed_out() -> None:
    # the invocation that writes the record and sends the messages ends by functionTimeout
    assert stranded.STARTING_AFTER == span(HOST["functionTimeout"]) == timedelta(minutes=30)


@pytest.mark.parametrize("kind", ["scheduled", "tenant", "privileged"])
def test_a_run_still_starting_past_the_bound_is_started_again(kind: str) -> None:
    past = stranded.STARTING_AFTER + timedelta(seconds=1)
    assert stranded.is_unstarted(run("fetching", past, kind, starting=True), NOW)
    assert not stranded.is_unstarted(run("fetching", stranded.STARTING_AFTER, kind,
                                         starting=True), NOW)
    # its messages were all sent: its slices may wait on the fetch lease for hours
    assert not stranded.is_unstarted(run("fetching", timedelta(days=2), kind), NOW)


@pytest.mark.parametrize("status", ["scoring", "finalizing", "complete", "partial", "failed"])
def test_a_run_past_fetching_is_never_started_again(status: str) -> None:
    assert not stranded.is_unstarted(run(status, timedelta(days=2), "tenant", starting=True), NOW)


def test_a_one_user_run_is_never_started_again() -> None:
    # its one message is sent by the HTTP call; the sweep ends it instead
    assert not stranded.is_unstarted(run("queued", timedelta(days=2), starting=True), NOW)
