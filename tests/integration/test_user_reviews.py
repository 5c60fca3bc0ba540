"""One-user reviews on the `review-user` queue, through function_app.py's own queue functions
(the local runner does what the host does: redelivery, then the poison queue after host.json's
maxDequeueCount), against Azurite and the Graph emulator."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from local.graph_emulator import GraphEmulator
from local.runner import QueueRunner, max_dequeue_count
from local.tenant import Tenant
from shared.errors import InputError, StorageError
from shared.model import Window
from shared.pipeline import stranded, user_reviews
from shared.pipeline.records import ReviewUser, RunRecord
from shared.pipeline.runs import Tables
from shared.services import Services

ONLY = frozenset({"review-user"})


def one_user(tenant: Tenant) -> str:
    return str(tenant.sign_ins[0]["userId"])


def queue(services: Services, tenant: Tenant) -> RunRecord:
    return user_reviews.enqueue(services, user=one_user(tenant), window=tenant.window,
                                ticket_id="INC-21")


def test_a_queued_review_runs_in_the_queue_function(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant
) -> None:
    services = pipeline_services(sample_tenant)
    run = queue(services, sample_tenant)
    assert Tables.of(services.store).run(run.run_id).status == "queued"
    runner = QueueRunner(services, only=ONLY)
    runner.drain()
    done = Tables.of(services.store).run(run.run_id)
    assert (done.status, done.attempts, done.ticket_id) == ("complete", 1, "INC-21")
    assert Tables.of(services.store).verdicts.get(run.run_id, done.user_id or "") is not None
    assert runner.failures == []


def test_a_window_graph_keeps_nothing_of_is_refused_before_anything_is_written(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant
) -> None:
    """Graph would answer with no rows: the user would read as clean on nothing read."""
    services = pipeline_services(sample_tenant)
    now = services.clock()
    old = Window(start=now - timedelta(days=40), end=now - timedelta(days=33))
    with pytest.raises(InputError, match="nothing in it can be read from Graph"):
        user_reviews.enqueue(services, user=one_user(sample_tenant), window=old,
                             ticket_id="INC-22")
    assert list(Tables.of(services.store).runs.query("RowKey eq 'run'")) == []


def test_every_delivery_failing_ends_the_run_failed_through_the_poison_queue(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator
) -> None:
    """Graph answers 503 to every try (no retries in the client here): the host delivers the
    message maxDequeueCount times, then moves it to the poison queue, whose function ends the
    run `failed` with the last error."""
    services = pipeline_services(sample_tenant, GRAPH_RETRY_BUDGET="0")
    graph.configure(fail_path="/v1.0/auditLogs/signIns", fail_next=(503,) * 50)
    run = queue(services, sample_tenant)
    runner = QueueRunner(services, only=ONLY)
    runner.drain()
    ended = Tables.of(services.store).run(run.run_id)
    assert ended.status == "failed", ended
    assert ended.failure is not None and ended.failure.startswith(
        f"the review failed on every delivery ({max_dequeue_count()} started): GraphError")
    assert len(runner.failures) == max_dequeue_count()
    names = services.store.names
    assert services.store.queues.approximate_count(names.review_user) == 0
    assert services.store.queues.approximate_count(names.review_user + "-poison") == 0


def test_a_poison_delivery_that_fails_is_tried_again_as_the_host_does(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Storage is down when the poison function first runs: the host tries the poison message
    again (a poison queue has none of its own), so the run still ends `failed`, not stranded."""
    services = pipeline_services(sample_tenant, GRAPH_RETRY_BUDGET="0")
    graph.configure(fail_path="/v1.0/auditLogs/signIns", fail_next=(503,) * 50)
    run = queue(services, sample_tenant)
    settle = user_reviews.on_poison
    tries: list[int] = []

    def storage_down_once(*args: object, **kwargs: object) -> None:
        tries.append(1)
        if len(tries) == 1:
            raise StorageError("updating runs failed: storage unreachable after retries")
        settle(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(user_reviews, "on_poison", storage_down_once)
    runner = QueueRunner(services, only=ONLY)
    runner.drain()
    assert len(tries) == 2
    assert Tables.of(services.store).run(run.run_id).status == "failed"
    assert services.store.queues.approximate_count(
        services.store.names.review_user + "-poison") == 0


def test_an_error_a_retry_cannot_fix_ends_the_run_at_once(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator
) -> None:
    services = pipeline_services(sample_tenant)
    graph.configure(premium=False)  # the sign-in log needs Entra ID P1: 403 every time
    run = queue(services, sample_tenant)
    runner = QueueRunner(services, only=ONLY)
    runner.drain()
    ended = Tables.of(services.store).run(run.run_id)
    assert (ended.status, ended.attempts) == ("failed", 1)
    assert runner.failures == []  # not retried: nothing the platform could do


def test_a_message_delivered_again_after_the_run_ended_does_nothing(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator
) -> None:
    services = pipeline_services(sample_tenant)
    run = queue(services, sample_tenant)
    runner = QueueRunner(services, only=ONLY)
    runner.drain()
    graph.reset()
    services.store.queues.send(services.store.names.review_user, ReviewUser(run_id=run.run_id))
    runner.drain()
    assert graph.calls == []
    assert Tables.of(services.store).run(run.run_id).status == "complete"


def test_the_stranded_timer_ends_only_one_user_runs_past_the_bound(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant
) -> None:
    services = pipeline_services(sample_tenant)
    tables = Tables.of(services.store)
    now = services.clock()
    window = Window(now - timedelta(days=1), now)

    def stored(run_id: str, kind: str, status: str, age: timedelta) -> None:
        tables.runs.create(RunRecord(
            run_id=run_id, kind=kind, window_start=window.start,  # type: ignore[arg-type]
            window_end=window.end, status=status, created_at=now - age,  # type: ignore[arg-type]
            api_version="v1.0", last_error="GraphError: 503" if kind == "user" else None))

    past = stranded.STRANDED_AFTER + timedelta(minutes=1)
    stored("user-old-fetching", "user", "fetching", past)
    stored("user-old-queued", "user", "queued", past)
    stored("user-young", "user", "fetching", stranded.STRANDED_AFTER - timedelta(minutes=1))
    stored("user-old-complete", "user", "complete", past * 10)
    stored("tenant-old", "tenant", "fetching", past * 10)
    QueueRunner(services, only=ONLY).fire_stranded_timer()
    status = {run_id: tables.run(run_id) for run_id in (
        "user-old-fetching", "user-old-queued", "user-young", "user-old-complete",
        "tenant-old")}
    assert {k: v.status for k, v in status.items()} == {
        "user-old-fetching": "failed", "user-old-queued": "failed", "user-young": "fetching",
        "user-old-complete": "complete", "tenant-old": "fetching"}
    failure = status["user-old-fetching"].failure or ""
    assert failure.startswith("stranded: still fetching") and "GraphError: 503" in failure
    assert stranded.sweep(services) == []  # nothing left to end


def test_a_run_whose_message_cannot_be_sent_ends_failed_at_once(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant
) -> None:
    services = pipeline_services(sample_tenant)
    services.store.clients.queue(services.store.names.review_user).delete_queue()
    with pytest.raises(StorageError):
        queue(services, sample_tenant)
    (run,) = [r for r in Tables.of(services.store).runs.query("RowKey eq 'run'")]
    assert run.status == "failed" and (run.failure or "").startswith("StorageError")
