"""The Monday run in a tenant that behaves as real ones do (REFERENCE.md, "What real tenants
do"): lower-case nextLinks that a redelivered slice resumes from, fractional Retry-After, one
transient licence 403, a query Graph cannot answer in time, a PIM-eligible administrator and a
synced user; the run ends `complete` with the ground truth's verdicts and remediation proposed
exactly as Graph would carry it out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from local.approvals import ApprovalInbox
from local.graph_emulator import GraphEmulator
from local.graph_emulator.tenant_data import INTERACTIVE, epoch, sign_in_event_types
from local.runner import QueueRunner
from local.tenant import Tenant
from shared.pipeline import fetch
from shared.pipeline.learn import learn
from shared.pipeline.records import RunRecord
from shared.pipeline.runs import Tables
from shared.services import Services
from tests.e2e.test_pipeline_faults import mismatches


def scenario_user(tenant: Tenant, scenario: str) -> str:
    return next(u for u, e in tenant.ground_truth.items() if e.scenario == scenario)


def fail_after_two_pages(monkeypatch: pytest.MonkeyPatch, graph: GraphEmulator,
                         **faults: Any) -> None:
    """Switch `faults` on (for signIns) once the fetch has stored its second page."""
    stored = 0
    real_put_page = fetch.put_page

    def put_page(*args: Any) -> Any:
        nonlocal stored
        stored += 1
        if stored == 2:
            graph.configure(fail_path="/v1.0/auditLogs/signIns", **faults)
        return real_put_page(*args)

    monkeypatch.setattr(fetch, "put_page", put_page)


def completed_run(services: Services, tenant: Tenant) -> tuple[QueueRunner, RunRecord]:
    """Fire the timer, drain the queues: the run, complete, with the ground truth's verdicts."""
    runner = QueueRunner(services)
    runner.fire_timer()
    runner.drain()
    (run,) = Tables.of(services.store).runs.query("RowKey eq 'run'")
    assert run.status == "complete", (run.slices_failed, runner.failures)
    assert not mismatches(services, tenant, run.run_id)
    return runner, run


def real_tenant(graph: GraphEmulator, tenant: Tenant, *, eligible: str, synced: str) -> None:
    """The sample tenant with one admin's role PIM-eligible instead of active, one user synced
    from on-premises AD."""
    active = [a for a in tenant.role_assignments if a["principalId"] != eligible]
    pim = [a for a in tenant.role_assignments if a["principalId"] == eligible]
    users = [{**u, "onPremisesSyncEnabled": True} if u["id"] == synced else u
             for u in tenant.users]
    assert pim and len(users) == len(tenant.users)
    graph.load(sign_ins=tenant.sign_ins, users=users, risky_users=tenant.risky_users,
               risk_detections=tenant.risk_detections, role_assignments=active,
               role_eligibilities=pim, named_locations=tenant.named_locations)


def test_real_tenant_run_completes_with_graph_s_own_remediation(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = scenario_user(sample_tenant, "privileged_thin_anomaly")
    synced = scenario_user(sample_tenant, "new_country_success")
    with ApprovalInbox() as inbox:
        services = pipeline_services(sample_tenant, GRAPH_PAGE_SIZE="20", SLICE_HOURS="72",
                                     GRAPH_RETRY_BUDGET="1", APPROVAL_WEBHOOK_URL=inbox.url)
        learn(services, until=sample_tenant.window.start)  # no history fetches later
        real_tenant(graph, sample_tenant, eligible=admin, synced=synced)
        graph.reset()
        graph.configure(flaky_licence_next=1, fractional_retry_after=True, fail_next=[429],
                        fail_path="/v1.0/auditLogs/signIns")
        # Graph fails once two pages are in evidence: a redelivery resumes from the stored link
        fail_after_two_pages(monkeypatch, graph, fail_next=(503,) * 4)
        runner, run = completed_run(services, sample_tenant)
    calls = [c for c in graph.calls if c["path"].lower() == "/v1.0/auditlogs/signins"]
    statuses = [c["status"] for c in calls]
    assert sorted(statuses[:3]) == [200, 403, 429]  # licence 403 asked again, 429 waited out
    assert 503 in statuses and runner.failures  # a delivery failed mid-slice ...
    resumed = [c for c in calls if "$skiptoken" in c["query"]]
    assert resumed and Tables.of(services.store).slice(run.run_id, "s000").status == "done"

    verdicts = {v.user_id: v for v in Tables.of(services.store).verdicts
                .query_partition(run.run_id)}
    assert verdicts[admin].privileged and verdicts[admin].verdict == "high"
    assert "Global Administrator (eligible)" in " ".join(verdicts[admin].detail.reasons)
    (request,) = inbox.requests
    offered = {v["userId"]: v for v in request["verdicts"]}
    steps = {s["action"]: s["status"] for s in offered[admin]["remediation"]}
    # the remediator is a User Administrator: Graph refuses it revoke, reset and disable of an
    # (eligible) Global Administrator (who-can-act table; Azure-Sentinel #783)
    assert steps["revokeSessions"] == "needs-role"
    assert steps["forcePasswordReset"] == "needs-role"
    assert "forcePasswordReset" not in offered[admin]["proposedActions"]
    assert "revokeSessions" not in offered[admin]["proposedActions"]
    assert "needs the remediator to hold" in offered[admin]["remediationNote"]
    synced_steps = {s["action"]: s["status"] for s in offered[synced]["remediation"]}
    assert synced_steps["forcePasswordReset"] == "on-premises"
    assert offered[synced]["proposedActions"][0] == "revokeSessions"
    assert "forcePasswordReset" not in offered[synced]["proposedActions"]
    assert "on-premises AD" in offered[synced]["remediationNote"]
    for user_id, verdict in offered.items():  # nothing offered that Graph would refuse
        if user_id not in (admin, synced) and not verdict["privileged"]:
            assert all(s["status"] == "will-run" for s in verdict["remediation"])


def test_slices_graph_cannot_answer_in_time_are_fetched_as_halves(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator,
) -> None:
    services = pipeline_services(sample_tenant, SLICE_HOURS="24")
    learn(services, until=sample_tenant.window.start)
    graph.configure(slow_query_hours=6)  # a day's query times out (504); six hours answer
    runner, run = completed_run(services, sample_tenant)
    assert set(run.slices_done) == set(run.slice_ids)
    for slice_id in run.slice_ids:  # 24 h slices split down to what Graph answers: 6 h
        fetched = Tables.of(services.store).slice(run.run_id, slice_id)
        assert fetched.end - fetched.start <= timedelta(hours=6)
        assert fetched.status == "done"
    split = Tables.of(services.store).slice(run.run_id, "s000")
    assert split.status == "split" and split.split_into == ["s000a", "s000b"]
    statuses = [c["status"] for c in graph.calls if "signins" in c["path"].lower()]
    assert 504 in statuses and not runner.failures


def test_slices_graph_never_answers_in_time_are_fetched_as_halves(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator,
) -> None:
    """A slow query more often gets no answer within ~300 s than a 504 (msgraph-sdk-powershell
    #3146): a slice whose first page times out (GRAPH_READ_TIMEOUT_SECONDS) is split like one
    that got a 504, instead of asking for the same window nine times."""
    # 5 s: far longer than the emulator takes to answer a 12-hour slice on a busy machine
    services = pipeline_services(sample_tenant, SLICE_HOURS="24", GRAPH_READ_TIMEOUT_SECONDS="5")
    learn(services, until=sample_tenant.window.start)
    graph.configure(slow_query_hours=12, silent_slow_query=True)
    runner, run = completed_run(services, sample_tenant)
    assert set(run.slices_done) == set(run.slice_ids)
    for slice_id in run.slice_ids:
        fetched = Tables.of(services.store).slice(run.run_id, slice_id)
        assert fetched.end - fetched.start <= timedelta(hours=12)
        assert fetched.status == "done"
    statuses = [c["status"] for c in graph.calls if "signins" in c["path"].lower()]
    assert None in statuses and not runner.failures


def test_an_expired_skip_token_restarts_after_what_is_stored(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Graph's skip tokens expire (400): a redelivered slice whose stored nextLink has expired
    asks again for the part of the slice older than what it stored, and counts nobody twice."""
    services = pipeline_services(sample_tenant, GRAPH_PAGE_SIZE="20", SLICE_HOURS="72",
                                 GRAPH_RETRY_BUDGET="0")
    learn(services, until=sample_tenant.window.start)
    graph.reset()
    # The delivery fails on page 3; by the redelivery the stored link's skip token has expired
    fail_after_two_pages(monkeypatch, graph, fail_next=(503,), expire_skiptokens=1)
    runner, run = completed_run(services, sample_tenant)
    statuses = [c["status"] for c in graph.calls if "signins" in c["path"].lower()]
    assert 503 in statuses and 400 in statuses and len(runner.failures) == 1
    window = sample_tenant.window
    expected = {s["id"] for s in sample_tenant.sign_ins
                if INTERACTIVE in sign_in_event_types(s)
                and window.start.timestamp() <= epoch(s["createdDateTime"])
                <= window.end.timestamp()}
    assert run.sign_ins == len(expected)  # every sign-in once, none twice


def test_the_last_slice_is_read_once_its_sign_ins_have_settled(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator,
) -> None:
    """Sign-ins reach the log late (Microsoft: p95 ~2 min, p99 ~5 min): a timer firing at the
    window's very end reads every slice but the last, which comes back once the window's end
    is SIGNIN_SETTLE_MINUTES (15) in the past; then the run completes."""
    from shared.pipeline.records import FetchSlice

    window = sample_tenant.window
    services = pipeline_services(sample_tenant, SLICE_HOURS="24", clock=window.end)
    learn(services, until=window.start)
    graph.reset()
    runner = QueueRunner(services)
    runner.fire_timer()
    runner.drain()
    tables = Tables.of(services.store)
    (run,) = tables.runs.query("RowKey eq 'run'")
    last = tables.slice(run.run_id, run.slice_ids[-1])
    assert run.status != "complete" and last.status == "pending" and last.end == window.end
    assert all(tables.slice(run.run_id, s).status == "done" for s in run.slice_ids[:-1])
    end = window.end.strftime("%Y-%m-%dT%H:%M:%SZ")
    filters = [c["query"].get("$filter", "") for c in graph.calls
               if "signins" in c["path"].lower()]
    assert filters and not any(f"le {end}" in f for f in filters)  # the end not read yet

    services.clock = lambda: window.end + timedelta(minutes=15)  # the lag has passed
    services.store.queues.send(services.store.names.signin_slices,  # the deferred message
                               FetchSlice(run_id=run.run_id, slice_id=last.slice_id))
    runner.drain()
    (run,) = tables.runs.query("RowKey eq 'run'")
    assert run.status == "complete" and not mismatches(services, sample_tenant, run.run_id)


def test_a_tenant_run_ending_now_is_read_at_once_and_says_so(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator,
) -> None:
    """A review a person asks for (here a tenant run) whose window ends now is not held back:
    it is read at once, and its sources say its last minutes may not be in the log yet."""
    from shared.pipeline.runs import start_run

    window = sample_tenant.window
    services = pipeline_services(sample_tenant, SLICE_HOURS="24", clock=window.end)
    learn(services, until=window.start)
    run = start_run(services, window=window, kind="tenant", ticket_id="INC-NOW")
    QueueRunner(services).drain()
    run = Tables.of(services.store).run(run.run_id)
    assert run.status == "complete"
    (note,) = [s for s in run.sources if s.name == "signInLatency"]
    assert not note.available and "may not have reached the log yet" in note.detail
