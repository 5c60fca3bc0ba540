"""Scheduled runs and `learn` over Graph read the history only as far back as the tenant's
licence keeps sign-ins, and report a history shorter than that, rather than assuming 30 days.

Microsoft keeps sign-ins 7 days without a premium licence and 30 days with Entra ID P1 or P2;
a tenant that has just upgraded sees only about 7 days at first (Microsoft Entra data
retention, reference-reports-data-retention; REFERENCE.md). The emulator models the tier
(`tier`, `premium`) and the upgrade (`history_since`); the real msgraph-sdk client reads it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import datetime, timedelta

import msgspec
import pytest

from local.graph_emulator import GraphEmulator
from local.runner import QueueRunner
from local.tenant import Tenant
from shared.cli import main
from shared.commands import exits
from shared.model import ReviewResult
from shared.pipeline.learn import learn_report
from shared.pipeline.runs import Tables
from shared.pipeline.scoring import graph_retention, history_window
from shared.services import Services

STARTS = re.compile(r"createdDateTime ge (\S+)")


def _starts(graph: GraphEmulator) -> list[datetime]:
    """The earliest moment of every signIns request made."""
    return [datetime.fromisoformat(m.group(1).replace("Z", "+00:00"))
            for c in graph.calls if c["path"].lower().endswith("/auditlogs/signins")
            for m in [STARTS.search(c["query"].get("$filter", ""))] if m]


def _monday(services: Services) -> Tables:
    runner = QueueRunner(services)
    runner.fire_timer()
    runner.drain()
    return Tables.of(services.store)


def test_a_monday_run_on_an_upgraded_tenant_reports_its_short_history(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator
) -> None:
    """No baselines yet: every user is judged against their own history, read from Graph no
    further back than the licence keeps it, and the run says the history is missing."""
    services = pipeline_services(sample_tenant)
    now = services.clock()
    graph.configure(history_since=(sample_tenant.window.start - timedelta(days=2)).isoformat())
    tables = _monday(services)
    (run,) = list(tables.runs.query("RowKey eq 'run'"))
    assert run.status == "complete", (run.slices_failed, run.batches_failed)
    sources = {s.name: s for s in run.sources}
    assert sources["licence"].available and "P2" in (sources["licence"].detail or "")
    assert not sources["signInHistory"].available
    assert "missing, not quiet" in (sources["signInHistory"].detail or "")
    report = msgspec.json.decode(services.store.evidence.read_evidence(run.reports["json"]),
                                 type=ReviewResult)
    assert {s.name: s for s in report.sources}["signInHistory"] == sources["signInHistory"]
    starts = _starts(graph)
    assert any(s < sample_tenant.window.start for s in starts)  # histories were read ...
    assert min(starts) >= now - timedelta(days=30)  # ... never further back than Graph keeps


def test_a_monday_run_with_the_whole_history_reports_only_the_licence(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator
) -> None:
    services = pipeline_services(sample_tenant)
    graph.configure(tier="P1")
    tables = _monday(services)
    (run,) = list(tables.runs.query("RowKey eq 'run'"))
    sources = {s.name: s for s in run.sources}
    assert "Entra ID P1: sign-ins kept 30 days" in (sources["licence"].detail or "")
    assert "signInHistory" not in sources
    assert min(_starts(graph)) >= services.clock() - timedelta(days=30)


def test_learn_reads_what_graph_keeps_and_reports_a_short_history(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator
) -> None:
    """`learn` asked for 30 days before a window that started days ago: it reads from the
    oldest moment Graph keeps, and an upgraded tenant's short history is in its output."""
    services = pipeline_services(sample_tenant)
    now = services.clock()
    whole = learn_report(services, until=sample_tenant.window.start)
    assert whole.users > 0 and whole.window is not None
    assert whole.window.start == now - timedelta(days=30)  # not window.start - 30 days
    assert min(_starts(graph)) >= now - timedelta(days=30)
    assert [n.name for n in whole.notes] == ["licence"]

    graph.reset()
    graph.configure(history_since=(sample_tenant.window.start - timedelta(days=2)).isoformat())
    short = learn_report(services, until=sample_tenant.window.start)
    notes = {n.name: n for n in short.notes}
    assert not notes["signInHistory"].available
    assert "missing, not quiet" in (notes["signInHistory"].detail or "")


def test_a_free_tenant_keeps_seven_days(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator
) -> None:
    """Without P1/P2 the licence says 7 days: a history is asked for no further back (and
    the run says older history cannot be read); before that, nothing is asked for."""
    services = pipeline_services(sample_tenant)
    now = services.clock()
    graph.configure(premium=False)
    kept, notes = asyncio.run(graph_retention(services))
    assert kept == 7
    assert "keeps sign-ins 7 days" in (notes[-1].detail or "") and not notes[-1].available
    span = history_window(sample_tenant.window.start, now, kept)
    assert span is not None and span.start == now - timedelta(days=7)
    assert history_window(now - timedelta(days=8), now, kept) is None


def test_the_learn_command_prints_the_licence_and_a_short_history(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    from shared import services as current

    services = pipeline_services(sample_tenant)
    monkeypatch.setattr(current, "_current", services)
    graph.configure(history_since=(sample_tenant.window.start - timedelta(days=2)).isoformat())
    until = sample_tenant.window.start.isoformat()
    assert main(["learn", "--until", until]) == exits.OK
    out = capsys.readouterr().out
    oldest = services.clock() - timedelta(days=30)
    assert f"baselines from {oldest:%Y-%m-%d %H:%M} UTC" in out
    assert "licence: Entra ID P2: sign-ins kept 30 days" in out
    assert "warning: signInHistory: no sign-in older than 7 days was found" in out
