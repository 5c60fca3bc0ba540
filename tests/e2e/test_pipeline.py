"""The whole pipeline on Azurite + the Graph emulator: timer, fetch, scoring, finalize."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable

import msgspec
import pytest
from msgspec.structs import replace

from local.approvals import ApprovalInbox
from local.azurite import free_port
from local.graph_emulator import GraphEmulator
from local.runner import QueueRunner
from local.tenant import Tenant
from shared.commands import exits
from shared.model import ReviewResult, level_rank
from shared.pipeline.learn import learn
from shared.pipeline.records import RunReady
from shared.pipeline.runs import Tables, start_run
from shared.pipeline.scoring import user_bundle
from shared.services import Services


def run_monday(services: Services, tenant: Tenant) -> tuple[QueueRunner, str]:
    learn(services, until=tenant.window.start)
    runner = QueueRunner(services)
    runner.fire_timer()
    runner.drain()
    runs = list(Tables.of(services.store).runs.query("RowKey eq 'run'"))
    assert len(runs) == 1
    return runner, runs[0].run_id


@pytest.mark.parametrize("api_version", ["v1.0", "beta"])
def test_monday_run_matches_ground_truth(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, api_version: str
) -> None:
    services = pipeline_services(sample_tenant, GRAPH_API_VERSION=api_version)
    runner, run_id = run_monday(services, sample_tenant)
    tables = Tables.of(services.store)
    run = tables.run(run_id)
    assert run.status == "complete", (run.slices_failed, run.batches_failed, runner.failures)
    assert run.window_start == sample_tenant.window.start
    assert run.api_version == api_version
    signins = next(s for s in run.sources if s.name == "signIns")
    assert ("interactive and non-interactive" in signins.detail) == (api_version == "beta")
    verdicts = {v.user_id: v for v in tables.verdicts.query_partition(run_id)}
    problems = []
    for user_id, expected in sample_tenant.ground_truth.items():
        got = verdicts.get(user_id)
        level = got.verdict if got else "none"
        if not level_rank(expected.min_verdict) <= level_rank(level) <= level_rank(
                expected.max_verdict):
            problems.append(f"{expected.scenario} {user_id}: {level}, expected "
                            f"{expected.min_verdict}..{expected.max_verdict}")
        missing = set(expected.finding_types) - set(got.finding_types if got else [])
        if missing:
            problems.append(f"{expected.scenario} {user_id}: missing findings {sorted(missing)}")
    assert not problems, "\n".join(problems)


def test_evidence_is_write_once_and_hashes_match(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant
) -> None:
    services = pipeline_services(sample_tenant)
    _, run_id = run_monday(services, sample_tenant)
    tables = Tables.of(services.store)
    evidence = services.store.evidence
    flagged = [v for v in tables.verdicts.query_partition(run_id) if v.verdict != "none"]
    assert flagged
    for verdict in flagged:
        assert evidence.verify_evidence(verdict.evidence)
        assert verdict.pages and all(evidence.verify_evidence(p) for p in verdict.pages)
        bundle = user_bundle(evidence.read_evidence(verdict.evidence), verdict.user_id)
        assert {f.type for f in bundle.verdict.findings} == set(verdict.finding_types)
        cited = {sid for f in bundle.verdict.findings for sid in f.sign_in_ids}
        assert cited <= {s.id for s in [*bundle.timeline, *bundle.before_window]}
    run = tables.run(run_id)
    assert set(run.reports) == {"html", "csv", "json", "riskCsv"}
    assert all(evidence.verify_evidence(ref) for ref in run.reports.values())
    container = services.store.clients.container(services.store.names.evidence)
    types = {kind: container.get_blob_client(ref.name).get_blob_properties()
             .content_settings.content_type for kind, ref in run.reports.items()}
    assert types == {"html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8",
                     "json": "application/json", "riskCsv": "text/csv; charset=utf-8"}
    assert run.reports["riskCsv"].name == f"runs/{run_id}/report-risk.csv"
    check_risk_inventory(evidence.read_evidence(run.reports["json"]),
                         evidence.read_evidence(run.reports["riskCsv"]), sample_tenant)


def check_risk_inventory(report_json: bytes, risk_csv: bytes, tenant: Tenant) -> None:
    """The report lists the planted risky sign-in and the dismissed one (a user with no finding),
    and every detection of the window, from the context stored at planning."""
    result = msgspec.json.decode(report_json, type=ReviewResult)
    scenarios = {u: e.scenario for u, e in tenant.ground_truth.items()}
    entries = result.risk_inventory.entries
    listed = {(scenarios.get(e.user_id), e.kind, e.state) for e in entries}
    assert {("risky_sign_in", "signIn", "atRisk"), ("risky_sign_in", "detection", "atRisk"),
            ("flight_abroad", "signIn", "dismissed"),
            ("flight_abroad", "detection", "dismissed")} <= listed
    start, end = tenant.window.start, tenant.window.end
    in_window = {d["id"] for d in tenant.risk_detections
                 if start.isoformat()[:19] <= str(d["activityDateTime"])[:19]
                 <= end.isoformat()[:19]}
    assert {e.detection_id for e in entries if e.kind == "detection"} == in_window
    verdicts = {u.user_id: u.verdict for u in result.users}
    dismissed = next(e.user_id for e in entries if e.state == "dismissed")
    assert verdicts[dismissed] == "none"
    rows = list(csv.DictReader(io.StringIO(risk_csv.decode())))
    assert len(rows) == len(entries)
    assert {r["verdict"] for r in rows if r["userId"] == dismissed} == {"none"}


def test_medium_and_high_verdicts_go_to_the_approval_webhook_once(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant
) -> None:
    with ApprovalInbox() as inbox:
        services = pipeline_services(sample_tenant, APPROVAL_WEBHOOK_URL=inbox.url,
                                     PUBLIC_BASE_URL="https://func-abc123.azurewebsites.net")
        runner, run_id = run_monday(services, sample_tenant)
        runner.fire_timer()  # the timer firing again for the same window changes nothing
        runner.drain()
    (request,) = inbox.requests
    run = Tables.of(services.store).run(run_id)
    assert request["runId"] == run_id and run.approval_requested and not run.approval_error
    assert run.manifest and request["manifest"]["sha256"] == run.manifest.sha256
    levels = {v["verdict"] for v in request["verdicts"]}
    assert levels <= {"medium", "high"} and "high" in levels
    expected = {u for u, e in sample_tenant.ground_truth.items() if e.min_verdict in ("medium",
                                                                                     "high")}
    assert {v["userId"] for v in request["verdicts"]} >= expected
    assert all(v["reasons"] and v["proposedActions"] for v in request["verdicts"])
    # What the approver gets: an HTML body with an absolute link they can open with their sign-in.
    link = f"https://func-abc123.azurewebsites.net/api/approvals/reports/{run_id}"
    assert request["reportUrl"] == link
    assert all(v["mailHtml"].startswith("<p>") and f'href="{link}"' in v["mailHtml"]
               and "\n" not in v["mailHtml"] for v in request["verdicts"])


def test_unreachable_webhook_is_recorded_and_retried_by_the_next_timer(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant
) -> None:
    services = pipeline_services(sample_tenant,
                                 APPROVAL_WEBHOOK_URL=f"http://127.0.0.1:{free_port()}/x")
    _, run_id = run_monday(services, sample_tenant)
    run = Tables.of(services.store).run(run_id)
    assert run.status == "complete"
    assert not run.approval_requested and run.approval_error
    assert "approval webhook failed" in run.approval_error
    with ApprovalInbox() as inbox:  # the webhook is back: the next morning's timer sends it
        mended = Services(replace(services.settings, approval_webhook_url=inbox.url),
                          store_prefix=services.store_prefix, clock=services.clock)
        QueueRunner(mended).fire_timer()
    (request,) = inbox.requests
    run = Tables.of(services.store).run(run_id)
    assert request["runId"] == run_id and request["verdicts"]
    assert run.approval_requested and run.approval_error is None


def test_privileged_scope_scores_role_holders_only(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant
) -> None:
    services = pipeline_services(sample_tenant)
    learn(services, until=sample_tenant.window.start)
    run = start_run(services, window=sample_tenant.window, kind="privileged", ticket_id="Q4-AUDIT")
    QueueRunner(services, redeliver=True).drain()  # redelivered planning keeps the same batches
    tables = Tables.of(services.store)
    done = tables.run(run.run_id)
    verdicts = tables.verdicts.query_partition(run.run_id)
    admins = {a["principalId"] for a in sample_tenant.role_assignments}
    assert done.status == "complete" and done.ticket_id == "Q4-AUDIT"
    assert verdicts and {v.user_id for v in verdicts} <= admins
    assert all(v.privileged for v in verdicts)
    result = msgspec.json.decode(services.store.evidence.read_evidence(done.reports["json"]),
                                 type=ReviewResult)
    review = result.privileged_review
    assert review is not None  # every role holder, those without a sign-in too
    assert {a.user_id for a in review.accounts} == admins
    assert review.read == review.period and review.read_detail == "the whole period read from graph"
    assert review.unreviewed == [a.user_principal_name or a.user_id for a in review.accounts]


def test_a_quiet_privileged_run_still_asks_the_approvers_to_sign_it_off(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant
) -> None:
    """A privileged period in which no administrator signed in (before the tenant's history):
    nothing to approve, every role holder dormant, and still one request to sign the review off,
    with the report link and the sign-off route."""
    from datetime import timedelta

    from shared.model import Window

    base = "https://func-abc123.azurewebsites.net"
    start = sample_tenant.window.start - timedelta(days=26)
    with ApprovalInbox() as inbox:
        services = pipeline_services(sample_tenant, APPROVAL_WEBHOOK_URL=inbox.url,
                                     PUBLIC_BASE_URL=base)
        run = start_run(services, window=Window(start=start, end=start + timedelta(days=2)),
                        kind="privileged", requested_by="quarterly schedule")
        QueueRunner(services).drain()
    (request,) = inbox.requests
    done = Tables.of(services.store).run(run.run_id)
    assert done.status == "complete" and done.approval_requested and not done.approval_error
    assert request["verdicts"] == []
    asked = request["privilegedReview"]
    admins = {a["principalId"] for a in sample_tenant.role_assignments}
    assert {a["userId"] for a in asked["accounts"]} == admins
    assert all(a["dormant"] for a in asked["accounts"]) and len(asked["dormant"]) == len(admins)
    # named by their UPN, as the role read's $expand=principal gives it, not by their object id
    upns = {a["principal"]["userPrincipalName"] for a in sample_tenant.role_assignments}
    assert set(asked["dormant"]) == upns
    assert asked["reportUrl"] == f"{base}/api/approvals/reports/{run.run_id}"
    assert asked["attestationsUrl"] == \
        f"{base}/api/approvals/privileged-reviews/{run.run_id}/attestations"
    assert f'href="{asked["reportUrl"]}"' in asked["mailHtml"]


def test_quarterly_timer_starts_one_privileged_run_per_quarter(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant
) -> None:
    """The first business morning of a quarter (Tuesday 1 April 2025) starts the privileged
    review of January to March, once however often the timer fires; the next morning nothing."""
    from datetime import UTC, datetime

    from shared.pipeline.steps import on_privileged_timer

    services = pipeline_services(sample_tenant, clock=datetime(2025, 4, 1, 6, tzinfo=UTC))
    first = on_privileged_timer(services)
    again = on_privileged_timer(services, past_due=True)
    assert first is not None and again is not None and again.run_id == first.run_id
    assert first.kind == "privileged" and first.requested_by == "quarterly schedule"
    assert (first.window_start, first.window_end.month) == (datetime(2025, 1, 1, tzinfo=UTC), 3)
    runs = list(Tables.of(services.store).runs.query("RowKey eq 'run'"))
    assert [r.run_id for r in runs] == [first.run_id]
    later = pipeline_services(sample_tenant, clock=datetime(2025, 4, 2, 6, tzinfo=UTC))
    assert on_privileged_timer(later) is None


def test_command_line_learn_and_one_user_review(
    pipeline_services: Callable[..., Services], storage_connection_string: str,
    graph: GraphEmulator,
) -> None:
    from datetime import UTC, datetime

    from local.tenant import generate

    # The command line runs on the real clock, and Graph keeps 30 days of sign-ins (a window
    # past them is refused): the sample tenant of the latest weekend, as `make serve` has it.
    sample_tenant = generate(users=50, seed=7, window_end=datetime.now(UTC))
    services = pipeline_services(sample_tenant)
    env = {**os.environ, "AzureWebJobsStorage": storage_connection_string,
           "STORAGE_NAME_PREFIX": services.store_prefix, "GRAPH_BASE_URL": graph.base_url,
           "GRAPH_CREDENTIAL": "local", "GRAPH_LOCAL_TOKEN": graph.token}
    until = sample_tenant.window.start.isoformat()
    learned = subprocess.run([sys.executable, "-m", "shared.cli", "learn", "--until", until],
                             env=env, capture_output=True, text=True, timeout=600)
    assert learned.returncode == 0, learned.stderr
    assert "learned" in learned.stdout
    user = next(u for u, e in sample_tenant.ground_truth.items() if e.scenario == "mfa_fatigue")
    reviewed = subprocess.run(
        [sys.executable, "-m", "shared.cli", "review", "--user", user,
         "--start", sample_tenant.window.start.isoformat(),
         "--end", sample_tenant.window.end.isoformat()],
        env=env, capture_output=True, text=True, timeout=600)
    assert reviewed.returncode == 0, reviewed.stderr
    assert json.loads(reviewed.stdout)["verdict"] == "high"
    bad = subprocess.run([sys.executable, "-m", "shared.cli", "review", "--user", "x' or 1 eq 1"],
                         env=env, capture_output=True, text=True, timeout=600)
    # A value that is not a user principal name is bad usage: the exit-code table's 2.
    assert bad.returncode == exits.USAGE and "Traceback" not in bad.stderr


def test_logs_are_structured_with_ids_and_carry_no_tokens(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    services = pipeline_services(sample_tenant)
    with caplog.at_level(logging.INFO, logger="signin_review"):
        _, run_id = run_monday(services, sample_tenant)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "signin_review"]
    steps = [line for line in lines if line["event"].split(".")[0] in ("fetch", "score")]
    assert steps and all(line["runId"] == run_id and line["correlationId"] for line in steps)
    assert {line["event"] for line in lines} >= {"run.started", "fetch.slice_done",
                                                 "score.planned", "score.batch_done",
                                                 "run.finalized"}
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert graph.token not in text and "Bearer" not in text


def test_batches_lost_after_planning_are_sent_again(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant
) -> None:
    services = pipeline_services(sample_tenant)
    learn(services, until=sample_tenant.window.start)
    run = start_run(services, window=sample_tenant.window, kind="privileged")
    store = services.store
    runner = QueueRunner(services)
    scoring_handler = runner.handlers.pop(store.names.user_scoring)
    runner.drain()  # fetched and planned; the scoring messages are still queued
    store.clients.queue(store.names.user_scoring).clear_messages()  # as if the sends were lost
    assert Tables.of(store).run(run.run_id).scoring_planned
    store.queues.send(store.names.run_ready, RunReady(run_id=run.run_id))  # a redelivery
    runner.handlers[store.names.user_scoring] = scoring_handler
    runner.drain()
    done = Tables.of(store).run(run.run_id)
    admins = {a["principalId"] for a in sample_tenant.role_assignments}
    verdicts = Tables.of(store).verdicts.query_partition(run.run_id)
    assert done.status == "complete"
    assert {v.user_id for v in verdicts} == admins & {v.user_id for v in verdicts}
    assert verdicts and all(v.privileged for v in verdicts)


def test_the_tenant_baseline_is_stored_beside_the_users_and_scores_the_run(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant,
) -> None:
    """`learn` stores the tenant's baseline in the baselines table beside the users' (its own
    partition); the run's scoring context carries it, for users without a baseline."""
    from shared.pipeline.scoring import stored_baselines, stored_context, stored_tenant_baseline

    services = pipeline_services(sample_tenant)
    _, run_id = run_monday(services, sample_tenant)
    tenant = stored_tenant_baseline(services.store)
    assert tenant is not None and not tenant.from_window
    assert tenant.users >= 20 and tenant.sign_ins >= 500 and {"GB", "US"} <= set(tenant.countries)
    users = sorted(sample_tenant.ground_truth)
    assert len(stored_baselines(services.store, users)) == tenant.users  # no stray record
    context = stored_context(services, Tables.of(services.store).run(run_id))
    assert context is not None and context.tenant_baseline == tenant
