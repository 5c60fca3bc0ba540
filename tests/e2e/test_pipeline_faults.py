"""The pipeline under faults: redelivery, Graph throttling and outages, poison messages,
malformed messages, and a storage outage in the middle of a run."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from local.azurite import Azurite
from local.graph_emulator import GraphEmulator
from local.runner import QueueRunner
from local.tenant import Tenant
from shared.errors import StorageError
from shared.model import level_rank
from shared.pipeline import fetch, scoring, steps
from shared.pipeline.learn import learn
from shared.pipeline.runs import Tables
from shared.pipeline.scoring import user_bundle
from shared.services import Services
from shared.store import EvidenceStore, Store
from tests.fixtures.pipeline import local_settings


def monday(services: Services, tenant: Tenant, *, faults: dict[str, Any] | None = None,
           graph: GraphEmulator | None = None, **runner_options: Any) -> tuple[QueueRunner, str]:
    learn(services, until=tenant.window.start)
    if graph is not None and faults:
        graph.configure(**faults)
    runner = QueueRunner(services, **runner_options)
    runner.fire_timer()
    runner.drain()
    (run,) = Tables.of(services.store).runs.query("RowKey eq 'run'")
    return runner, run.run_id


def mismatches(services: Services, tenant: Tenant, run_id: str) -> list[str]:
    verdicts = {v.user_id: v for v in Tables.of(services.store).verdicts.query_partition(run_id)}
    wrong = []
    for user_id, expected in tenant.ground_truth.items():
        level = verdicts[user_id].verdict if user_id in verdicts else "none"
        if not (level_rank(expected.min_verdict) <= level_rank(level)
                <= level_rank(expected.max_verdict)):
            wrong.append(f"{expected.scenario}: {level}")
    return wrong


def snapshot(store: Store) -> dict[str, object]:
    """Every entity (without service timestamps) and every blob's name and hash."""
    import hashlib

    clients = store.clients
    tables = {}
    for name in store.names.tables():
        rows = clients.table(name).list_entities()
        tables[name.removeprefix(store.names.prefix)] = sorted(
            tuple(sorted((k, str(v)) for k, v in row.items())) for row in rows)
    blobs = {}
    for name in store.names.containers():
        container = clients.container(name)
        blobs[name.removeprefix(store.names.prefix)] = {
            b.name: hashlib.sha256(container.download_blob(b.name).readall()).hexdigest()
            for b in container.list_blobs()
            if not b.name.endswith(".index.json")}  # scratch indexes record their shard's ETag
    return {"tables": tables, "blobs": blobs}


def test_every_message_delivered_twice_changes_nothing(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant
) -> None:
    once = pipeline_services(sample_tenant)
    twice = pipeline_services(sample_tenant)
    _, run_once = monday(once, sample_tenant)
    runner, run_twice = monday(twice, sample_tenant, redeliver=True)
    assert run_once == run_twice
    assert len(runner._redelivered) > 5  # every kind of message was sent again
    assert not runner.failures
    first, second = snapshot(once.store), snapshot(twice.store)
    assert first["tables"] == second["tables"]
    for container, blobs in first["blobs"].items():  # type: ignore[attr-defined]
        other = second["blobs"][container]  # type: ignore[index]
        differing = sorted(n for n in set(blobs) | set(other) if blobs.get(n) != other.get(n))
        assert not differing, (container, differing[:5])


def test_throttling_errors_and_dropped_connections_mid_slice(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator
) -> None:
    services = pipeline_services(sample_tenant, GRAPH_PAGE_SIZE="50")
    signins = "/v1.0/auditLogs/signIns"
    # Chosen signIns requests answer 429 however fast the client is: one with Graph's fractional
    # Retry-After, one without any (back off), one with a whole second (faults.py cites both).
    faults = {"throttle_at": {4: "2.128", 6: None, 9: "1"}, "throttle_path": signins,
              "fail_next": (503, 500, 503), "fail_path": signins, "drop_next": 2}
    runner, run_id = monday(services, sample_tenant, faults=faults, graph=graph)
    run = Tables.of(services.store).run(run_id)
    assert run.status == "complete", (run.slices_failed, runner.failures)
    assert not mismatches(services, sample_tenant, run_id)
    statuses = [c["status"] for c in graph.calls if "signins" in c["path"].lower()]
    assert statuses.count(429) == 3 and statuses.count(503) == 2 and statuses.count(500) == 1
    assert [c["status"] for c in graph.calls].count(None) == 2  # both drops, then recovery
    assert statuses[-1] == 200


def test_slice_that_keeps_failing_leaves_the_run_partial(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator
) -> None:
    services = pipeline_services(sample_tenant, GRAPH_RETRY_BUDGET="0", SLICE_HOURS="24")
    learn(services, until=sample_tenant.window.start)
    graph.configure(fail_next=(500,) * 200, fail_path="/v1.0/auditLogs/signIns")
    runner = QueueRunner(services)
    runner.fire_timer()
    runner.drain()
    (run,) = Tables.of(services.store).runs.query("RowKey eq 'run'")
    assert run.status == "partial"
    assert set(run.slices_failed) == set(run.slice_ids)
    assert all("after 5 attempts" in reason and "500" in reason
               for reason in run.slices_failed.values())
    assert len(runner.failures) == 5 * len(run.slice_ids)


def test_missing_licence_is_reported_not_fatal(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator
) -> None:
    services = pipeline_services(sample_tenant, SLICE_HOURS="24")
    graph.configure(premium=False)
    runner = QueueRunner(services)
    runner.fire_timer()
    runner.drain()
    (run,) = Tables.of(services.store).runs.query("RowKey eq 'run'")
    assert run.status == "partial" and not runner.failures
    sources = {s.name: s for s in run.sources}
    assert not sources["signIns"].available and "licence" in sources["signIns"].detail
    assert not sources["riskDetections"].available
    assert set(run.reports) == {"html", "csv", "json", "riskCsv"}


@pytest.mark.parametrize("body", [
    b"not json", b'{"v": 1}', b'{"v": 9, "run_id": "r", "slice_id": "s"}',
    b'{"v": 1, "run_id": "no-such-run", "slice_id": "s000"}', b"\xff\xfe" * 100,
])
def test_malformed_messages_are_rejected_and_removed(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, body: bytes
) -> None:
    services = pipeline_services(sample_tenant)
    store = services.store
    store.clients.queue(store.names.signin_slices).send_message(body)
    runner = QueueRunner(services)
    assert runner.drain() == 1
    assert not runner.failures
    assert store.queues.approximate_count(store.names.signin_slices) == 0
    assert store.queues.approximate_count(store.names.signin_slices + "-poison") == 0
    assert not list(Tables.of(store).runs.query("RowKey eq 'run'"))


def test_storage_outage_mid_run_is_survived(
    tmp_path: Path, graph: GraphEmulator, sample_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph.load(sign_ins=sample_tenant.sign_ins, users=sample_tenant.users,
               risky_users=sample_tenant.risky_users,
               risk_detections=sample_tenant.risk_detections,
               role_assignments=sample_tenant.role_assignments,
               named_locations=sample_tenant.named_locations)
    with Azurite(location=tmp_path / "azurite") as azurite:
        settings = local_settings(azurite.connection_string, graph.base_url, graph.token,
                                  GRAPH_PAGE_SIZE="100", SLICE_HOURS="3")
        # the Monday morning once the window's last sign-ins have settled in the log
        moment = sample_tenant.window.end + timedelta(minutes=settings.signin_settle_minutes)
        services = Services(settings, store_prefix="outage", clock=lambda: moment)
        services.store.ensure_resources()
        learn(services, until=sample_tenant.window.start)
        real_put_page = fetch.put_page
        restart = threading.Thread(target=lambda: (time.sleep(4), azurite.start()))
        stored = 0

        def outage_under_the_third_page(*args: Any) -> Any:
            # Storage goes away while a slice is being written, on every machine alike (no
            # timer racing the run), and comes back 4 s later on the same ports and data.
            nonlocal stored
            stored += 1
            if stored == 3:
                azurite.stop()
                restart.start()
            return real_put_page(*args)

        monkeypatch.setattr(fetch, "put_page", outage_under_the_third_page)
        runner = QueueRunner(services, retry_delay_s=1)
        runner.fire_timer()

        def finished() -> bool:
            try:
                (run,) = Tables.of(services.store).runs.query("RowKey eq 'run'")
            except Exception:  # storage still coming back
                return False
            return run.status in ("complete", "partial")

        deadline = time.monotonic() + 900  # a hang guard, not a pace
        while not finished():
            assert time.monotonic() < deadline, "the run did not finish within 15 minutes"
            try:
                runner.drain_until(finished, timeout_s=300)
            except Exception:  # the runner itself cannot reach storage during the outage
                time.sleep(0.5)
        assert stored > 3
        restart.join()
        (run,) = Tables.of(services.store).runs.query("RowKey eq 'run'")
        assert run.status == "complete", (run.slices_failed, run.batches_failed)
        assert not mismatches(services, sample_tenant, run.run_id)


def test_fetch_resumes_from_the_recorded_next_link(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The default slice (24 hours, config.py) holds many pages of 20: a retry of it must not
    # read the pages it already stored again.
    services = pipeline_services(sample_tenant, GRAPH_PAGE_SIZE="20", GRAPH_RETRY_BUDGET="0")
    assert services.settings.slice_hours == 24
    learn(services, until=sample_tenant.window.start)  # no per-user history fetches later
    stored = 0
    real_put_page = fetch.put_page

    def outage_after_two_pages(*args: Any) -> Any:
        nonlocal stored
        stored += 1
        if stored == 2:  # Graph starts failing once two pages are in evidence
            graph.configure(fail_next=(503,) * 20, fail_path="/v1.0/auditLogs/signIns")
        return real_put_page(*args)

    monkeypatch.setattr(fetch, "put_page", outage_after_two_pages)
    runner = QueueRunner(services)
    runner.fire_timer()
    runner.step()  # the first delivery stores two pages, then fails on the third
    tables = Tables.of(services.store)
    (run,) = tables.runs.query("RowKey eq 'run'")
    first = tables.slice(run.run_id, "s000")
    assert len(first.pages) == 2 and first.next_link and first.last_error
    assert "503" in first.last_error
    graph.reset()
    monkeypatch.setattr(fetch, "put_page", real_put_page)
    runner.drain()
    done = tables.slice(run.run_id, "s000")
    requests = [c for c in graph.calls if "signins" in c["path"].lower()
                and c["query"].get("$top") != "1"]  # not the history-reach probe of planning
    pages = sum(len(tables.slice(run.run_id, s).pages) for s in run.slice_ids)
    assert done.status == "done" and len(run.slice_ids) == 3
    assert len(requests) == pages - 2  # resumed at page 3: pages 1-2 never refetched
    assert done.pages[:2] == first.pages


def test_fetch_waits_while_another_instance_holds_the_lease(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = pipeline_services(sample_tenant, SLICE_HOURS="72")
    learn(services, until=sample_tenant.window.start)
    graph.reset()
    monkeypatch.setattr(steps, "FETCH_DEFER_S", 1)
    other_instance = services.store.try_lease(steps.FETCH_LEASE)
    assert other_instance is not None
    assert services.store.try_lease(steps.FETCH_LEASE) is None
    runner = QueueRunner(services)
    runner.fire_timer()
    runner.step()  # the slice finds the lease taken: put back for later, nothing fetched
    (run,) = Tables.of(services.store).runs.query("RowKey eq 'run'")
    assert Tables.of(services.store).slice(run.run_id, "s000").status == "pending"
    assert not [c for c in graph.calls if "signIns" in c["path"]]
    assert not runner.failures
    other_instance.release()
    # The slice comes back after FETCH_DEFER_S; drained until the run ends, not for a guessed time.
    runner.drain_until(lambda: Tables.of(services.store).run(run.run_id).status != "fetching")
    assert Tables.of(services.store).run(run.run_id).status == "complete"
    assert services.store.try_lease(steps.FETCH_LEASE) is not None  # released after the fetch


def test_bundle_blob_lost_to_a_storage_fault_is_written_again(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Evidence bundles go several users to a blob. Storage failing on one blob of a batch fails
    the batch before any verdict rests on it; the redelivery writes the same bytes again (the
    blobs already in are found, not duplicated) and every verdict names a blob holding its
    user's bundle."""
    services = pipeline_services(sample_tenant, SCORING_BATCH_USERS="200")  # one batch
    monkeypatch.setattr(scoring, "BUNDLES_PER_BLOB", 10)  # several blobs for the batch
    real_put = EvidenceStore.put_evidence
    bundle_blobs = 0
    verdicts_when_failed: list[int] = []

    def storage_fails_on_the_second_bundle_blob(self: EvidenceStore, name: str, data: bytes,
                                                *, content_type: str,
                                                sha256: str | None = None) -> Any:
        nonlocal bundle_blobs
        if "/bundles/" in name:
            bundle_blobs += 1
            if bundle_blobs == 2:
                run_id = name.split("/")[1]
                verdicts_when_failed.append(
                    len(Tables.of(services.store).verdicts.query_partition(run_id)))
                raise StorageError(f"injected: storage unreachable writing {name}")
        return real_put(self, name, data, content_type=content_type, sha256=sha256)

    monkeypatch.setattr(EvidenceStore, "put_evidence", storage_fails_on_the_second_bundle_blob)
    runner, run_id = monday(services, sample_tenant)
    assert [f for f in runner.failures if "injected" in f]  # failed once, then done
    assert verdicts_when_failed == [0]
    tables = Tables.of(services.store)
    run = tables.run(run_id)
    assert run.status == "complete", (run.batches_failed, runner.failures)
    assert not mismatches(services, sample_tenant, run_id)
    verdicts = tables.verdicts.query_partition(run_id)
    named = {v.evidence.name for v in verdicts}
    assert len(named) == -(-len(verdicts) // 10) > 2
    evidence = services.store.evidence
    for verdict in verdicts:
        held = user_bundle(evidence.read_evidence(verdict.evidence), verdict.user_id)
        assert held.verdict.verdict == verdict.verdict
    container = services.store.clients.container(services.store.names.evidence)
    stored = {b.name for b in container.list_blobs(name_starts_with=f"runs/{run_id}/bundles/")}
    assert stored == named  # nothing written twice, no blob that no verdict names
