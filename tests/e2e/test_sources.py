"""The Monday job over each sign-in source: Graph (the emulator), the diagnostic-settings archive
in Azurite, the Log Analytics emulator. Same tenant, same baselines (learned from Graph), so the
verdicts must be the same; the archive run names its missing and late hours in the report, and
every run's evidence verifies. A user without a baseline has their history read from the run's
source, and a one-user review names the hours it could not read as a scheduled run does."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta

import pytest

from local.graph_emulator import GraphEmulator
from local.runner import QueueRunner
from local.sources import sign_in_source
from local.tenant import Tenant
from shared.audit import verify_run
from shared.model import Window
from shared.pipeline import scoring
from shared.pipeline.adhoc import review_user
from shared.pipeline.learn import learn
from shared.pipeline.records import RunRecord
from shared.pipeline.runs import Tables
from shared.pipeline.scoring import HISTORY_DAYS, fetch_histories
from shared.services import Services
from shared.sources import SignInSource, SourcePage

Verdicts = dict[str, tuple[str, tuple[str, ...]]]


@pytest.fixture
def source_stack(pipeline_services: Callable[..., Services], storage_connection_string: str,
                 graph: GraphEmulator) -> Iterator[Callable[..., Services]]:
    """`build(tenant, source, history=False, **settings)`: services reading sign-ins from
    `source` (the archive holds the days before the window only with `history`)."""
    with ExitStack() as stack:
        def build(tenant: Tenant, source: str, history: bool = False, **extra: str) -> Services:
            chosen = stack.enter_context(sign_in_source(
                source, tenant, storage_connection_string, graph.token, history=history,
                tenant_id=str(uuid.uuid4())))
            return pipeline_services(tenant, GRAPH_API_VERSION="beta", **chosen, **extra)

        yield build


def monday(services: Services, tenant: Tenant) -> tuple[RunRecord, Verdicts]:
    """Baselines from Graph (the same for every source), then the timer and the queues."""
    learn(services, until=tenant.window.start, source="graph")
    runner = QueueRunner(services)
    runner.fire_timer()
    runner.drain()
    tables = Tables.of(services.store)
    (run,) = tables.runs.query("RowKey eq 'run'")
    assert run.status == "complete", (run.slices_failed, run.batches_failed, runner.failures)
    verdicts = {v.user_id: (v.verdict, tuple(sorted(v.finding_types)))
                for v in tables.verdicts.query_partition(run.run_id)}
    return run, verdicts


def test_archive_and_log_analytics_give_graphs_verdicts(
        source_stack: Callable[..., Services], sample_tenant: Tenant) -> None:
    graph_run, expected = monday(source_stack(sample_tenant, "graph"), sample_tenant)
    assert graph_run.source == "graph"
    assert any(level != "none" for level, _ in expected.values())
    for source in ("archive", "log-analytics"):
        services = source_stack(sample_tenant, source)
        run, verdicts = monday(services, sample_tenant)
        assert run.source == source
        assert run.sign_ins == graph_run.sign_ins, source
        assert verdicts == expected, source
        signins = next(s for s in run.sources if s.name == "signIns")
        assert ("archive" if source == "archive" else "Log Analytics") in signins.detail
        check = verify_run(services.store, run.run_id)
        assert check.ok, check.problems
        assert check.blobs_checked > 0


def test_archive_run_reports_missing_and_late_hours(
        source_stack: Callable[..., Services], sample_tenant: Tenant) -> None:
    services = source_stack(sample_tenant, "archive")
    run, _ = monday(services, sample_tenant)
    missing = [s for s in run.sources if s.name.startswith("signIns missing")]
    late = [s for s in run.sources if s.name.startswith("signIns incomplete")]
    assert len(missing) == 1 and not missing[0].available
    assert "no blob insights-logs-" in missing[0].detail
    # The run's clock is the window's end (Monday 06:00): the last two hours are within the
    # default 120-minute delivery lag.
    assert late and all(s.available for s in late)
    assert "04:00 UTC" in late[-1].detail and "05:00 UTC" in late[-1].detail
    html = services.store.evidence.read_evidence(run.reports["html"]).decode()
    assert "signIns missing" in html and "no blob" in html
    assert "diagnostic-settings archive" in html


@pytest.mark.parametrize("source", ["graph", "archive", "log-analytics"])
def test_history_without_a_baseline_is_read_from_the_runs_source(
        source_stack: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator,
        source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    services = source_stack(sample_tenant, source, history=True)
    start = sample_tenant.window.start
    earliest = start - timedelta(days=HISTORY_DAYS)
    before = [r for r in sample_tenant.sign_ins
              if earliest <= datetime.fromisoformat(r["createdDateTime"]) < start]
    users = list(dict.fromkeys(r["userId"] for r in before))[:3]
    # one of them asked for by UPN, in another case, as Graph's one-user filter allows
    upn = next(r["userPrincipalName"] for r in before if r["userId"] == users[2]).upper()
    asked = [*users[:2], upn]
    expected = {asked_as: {r["id"] for r in before if r["userId"] == user}
                for asked_as, user in zip(asked, users, strict=True)}
    reads = _count_source_reads(monkeypatch)
    graph.calls.clear()
    found, failed = asyncio.run(fetch_histories(services, asked, start, source))
    assert not failed
    assert {user: {s.id for s in found[user]} for user in asked} == expected
    # Graph filters by user on its side: a query each. The archive and Log Analytics read
    # whole hours or ranges, so one pass over the retention period serves all three users.
    assert reads == ([*asked] if source == "graph" else [None])
    # Graph is asked for the users' sign-ins only when it is the run's source
    asked_graph = [c for c in graph.calls if c["path"].endswith("/signIns")]
    assert bool(asked_graph) == (source == "graph"), asked_graph


def _count_source_reads(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The `user` of every read the history step starts on the real source (sources are frozen
    dataclasses: the count goes on the source's class)."""
    reads: list[str | None] = []
    real_open = scoring.open_source

    def open_counted(services: Services, name: str | None = None) -> SignInSource:
        source = real_open(services, name)
        real_pages = type(source).pages

        def pages(self: SignInSource, window: Window, *, user: str | None = None,
                  resume_from: str | None = None) -> AsyncGenerator[SourcePage, None]:
            reads.append(user)
            return real_pages(self, window, user=user, resume_from=resume_from)

        monkeypatch.setattr(type(source), "pages", pages)
        return source

    monkeypatch.setattr(scoring, "open_source", open_counted)
    return reads


def test_one_user_review_names_the_hours_it_could_not_read(
        source_stack: Callable[..., Services], sample_tenant: Tenant) -> None:
    services = source_stack(sample_tenant, "archive")
    learn(services, until=sample_tenant.window.start, source="graph")
    window = sample_tenant.window
    user = next(r["userId"] for r in sample_tenant.sign_ins
                if window.start <= datetime.fromisoformat(r["createdDateTime"]) <= window.end)
    verdict = review_user(services, user=user, window=window)
    run = Tables.of(services.store).run(verdict.run_id)
    assert run.status == "complete" and run.source == "archive"
    missing = [s for s in run.sources if s.name == "signIns missing (s000)"]
    late = [s for s in run.sources if s.name == "signIns incomplete (s000)"]
    assert len(missing) == 1 and not missing[0].available
    assert "no blob insights-logs-" in missing[0].detail
    # the review's clock is the window's end: its last two hours are within the delivery lag
    assert len(late) == 1 and "05:00 UTC" in late[0].detail


def test_histories_are_read_once_per_run_with_the_same_verdicts(
        source_stack: Callable[..., Services], sample_tenant: Tenant,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Over the archive, planning reads the histories of the users without a baseline in one
    pass for the whole run; the batches score them as when each batch read the period for its
    own users (the same verdicts and the same profiles built from the same sign-ins)."""

    def run(per_batch: bool) -> tuple[list[str | None], Verdicts, dict[str, str]]:
        with monkeypatch.context() as patched:
            if per_batch:  # as before: no histories at planning, each batch reads its own
                patched.setattr(scoring, "plan_histories", lambda *args: None)
            services = source_stack(sample_tenant, "archive", history=True,
                                    SCORING_BATCH_USERS="7")
            learn(services, until=sample_tenant.window.start, source="graph")
            table = scoring.baselines_table(services.store)
            for record in table.query_partition("baseline")[::2]:  # half without a baseline
                table.delete("baseline", record.user_id)
            reads = _count_source_reads(patched)
            runner = QueueRunner(services)
            runner.fire_timer()
            runner.drain()
        tables = Tables.of(services.store)
        (record,) = tables.runs.query("RowKey eq 'run'")
        assert record.status == "complete", (record.batches_failed, runner.failures)
        assert len(record.batch_ids) > 3
        verdicts = tables.verdicts.query_partition(record.run_id)
        bundles = {b.user_id: b.baseline for name in {v.evidence.name for v in verdicts}
                   for b in scoring.stored_bundles(services.store.evidence.read_evidence(
                       next(v.evidence for v in verdicts if v.evidence.name == name)))}
        return reads, {v.user_id: (v.verdict, tuple(sorted(v.finding_types)))
                       for v in verdicts}, bundles

    once, verdicts, baselines = run(per_batch=False)
    each, expected, expected_baselines = run(per_batch=True)
    assert once == [None] and len(each) > 1
    assert verdicts == expected
    assert baselines == expected_baselines
    assert any(b.startswith("built from") for b in baselines.values())
