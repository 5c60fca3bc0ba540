"""One user's ad-hoc review against the emulator: the verdict, its evidence, hostile input."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from local.graph_emulator import GraphEmulator
from local.tenant import Tenant
from shared.audit import verify_run
from shared.errors import GraphError, InputError, StorageError
from shared.model import Window
from shared.pipeline.adhoc import review_user
from shared.pipeline.records import RunRecord
from shared.pipeline.runs import Tables
from shared.services import Services


def _user(tenant: Tenant, scenario: str) -> tuple[str, str]:
    for user_id, expected in tenant.ground_truth.items():
        if expected.scenario == scenario:
            return user_id, expected.user_principal_name
    raise AssertionError(f"no {scenario} user")


@pytest.mark.parametrize("by", ["id", "upn"])
def test_mfa_fatigue_user_reviewed_alone(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, by: str
) -> None:
    services = pipeline_services(sample_tenant)
    user_id, upn = _user(sample_tenant, "mfa_fatigue")
    verdict = review_user(services, user=user_id if by == "id" else upn,
                          window=sample_tenant.window, ticket_id="INC-42")
    assert verdict.user_id == user_id
    assert verdict.verdict == "high" and "mfa_fatigue" in verdict.finding_types
    assert services.store.evidence.verify_evidence(verdict.evidence)
    run = Tables.of(services.store).run(verdict.run_id)
    assert run.kind == "user" and run.status == "complete" and run.ticket_id == "INC-42"
    assert any(s.name == "tenantSignals" and not s.available for s in run.sources)
    checked = verify_run(services.store, verdict.run_id)
    assert checked.ok, checked.problems
    assert checked.blobs_checked >= len(verdict.pages) + 2  # pages, context, bundle


def test_user_without_sign_ins_gets_none(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant
) -> None:
    services = pipeline_services(sample_tenant)
    quiet = Window(start=sample_tenant.window.end + timedelta(days=1),
                   end=sample_tenant.window.end + timedelta(days=2))
    user_id, _ = _user(sample_tenant, "mfa_fatigue")
    verdict = review_user(services, user=user_id, window=quiet)
    assert verdict.verdict == "none" and verdict.detail.stats.sign_ins == 0


@pytest.mark.parametrize("hostile", ["x' or 1 eq 1", "a@b' or userId ne '", "<script>@x.com"])
def test_hostile_user_never_reaches_graph(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator,
    hostile: str,
) -> None:
    services = pipeline_services(sample_tenant)
    with pytest.raises(InputError):
        review_user(services, user=hostile, window=sample_tenant.window)
    assert not [c for c in graph.calls if "signIns" in c["path"]]


def test_quoted_upn_is_reviewed(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator
) -> None:
    services = pipeline_services(sample_tenant)
    verdict = review_user(services, user="o'brien@contoso.com", window=sample_tenant.window)
    assert verdict.verdict == "none"
    queries = [c["query"] for c in graph.calls if "signIns" in c["path"]]
    assert any("o''brien@contoso.com" in str(q) for q in queries)


# --- a review that breaks off ends `failed`, with the reason ---------------------------------


def _failed_run(services: Services, error: type[Exception], **review: object) -> RunRecord:
    runs = Tables.of(services.store).runs
    with pytest.raises(error):
        review_user(services, **review)  # type: ignore[arg-type]
    (run,) = list(runs.query("RowKey eq @rk", rk="run"))  # the services' store is private
    return run


def test_a_graph_failure_ends_the_run_failed(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator
) -> None:
    services = pipeline_services(sample_tenant)
    graph.configure(forbidden_paths=["auditLogs/signIns"])
    user_id, _ = _user(sample_tenant, "mfa_fatigue")
    run = _failed_run(services, GraphError, user=user_id, window=sample_tenant.window)
    assert run.status == "failed" and run.finished_at is not None
    assert run.failure and run.failure.startswith("GraphUnavailable: ")


def test_a_storage_failure_ends_the_run_failed(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant
) -> None:
    services = pipeline_services(sample_tenant)
    services.store.clients.container(services.store.names.evidence).delete_container()
    user_id, _ = _user(sample_tenant, "mfa_fatigue")
    run = _failed_run(services, StorageError, user=user_id, window=sample_tenant.window)
    assert run.status == "failed"
    assert run.failure and run.failure.startswith("StorageError: writing evidence")


def test_a_name_the_store_refuses_ends_the_run_failed(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator
) -> None:
    """A sign-in whose userId no Table key can hold (over 1 KiB): the store refuses the user's
    verdict and baseline keys after the run record exists. (Evidence bundles are named by their
    hash, so a long id no longer stops them.)"""
    services = pipeline_services(sample_tenant)
    window = sample_tenant.window
    row = dict(next(r for r in sample_tenant.sign_ins if r.get("isInteractive") and window.start
                    <= datetime.fromisoformat(r["createdDateTime"].replace("Z", "+00:00"))
                    <= window.end))
    row.update(userId="u" * 600, userPrincipalName="odd@contoso.com")
    graph.load(sign_ins=[row], users=sample_tenant.users)
    run = _failed_run(services, InputError, user="odd@contoso.com", window=sample_tenant.window)
    assert run.status == "failed"
    assert run.failure and "over Table's 1 KiB key limit" in run.failure


def test_an_eligible_global_administrator_reviewed_by_ticket_is_privileged(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator
) -> None:
    """roleAssignments lists active assignments only: a one-user review reads PIM eligibility
    (roleEligibilitySchedules, filtered on the user) as the weekend run does."""
    services = pipeline_services(sample_tenant)
    user_id, _ = _user(sample_tenant, "mfa_fatigue")
    graph.load(sign_ins=sample_tenant.sign_ins, users=sample_tenant.users,
               role_eligibilities=[{
                   "id": "el-1", "principalId": user_id, "directoryScopeId": "/",
                   "roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10"}])
    verdict = review_user(services, user=user_id, window=sample_tenant.window)
    assert verdict.privileged
    eligibility = [c for c in graph.calls if "roleEligibilitySchedules" in c["path"]]
    assert eligibility and user_id in eligibility[0]["query"]["$filter"]


def test_a_review_ending_now_says_its_last_minutes_may_be_incomplete(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant
) -> None:
    """Sign-ins reach the log minutes late (Microsoft: p95 ~2 min, p99 ~5 min): a window that
    ends at the moment of the review is reviewed, and the run says its last 15 minutes may be
    missing rows; the same window reviewed 15 minutes later says nothing of the kind."""
    window = sample_tenant.window
    user_id, _ = _user(sample_tenant, "mfa_fatigue")
    now = pipeline_services(sample_tenant, clock=window.end)
    verdict = review_user(now, user=user_id, window=window)
    run = Tables.of(now.store).run(verdict.run_id)
    (note,) = [s for s in run.sources if s.name == "signInLatency"]
    assert not note.available and "may not have reached the log yet" in note.detail
    assert verdict.verdict == "high"  # the review itself goes ahead
    later = pipeline_services(sample_tenant, clock=window.end + timedelta(minutes=15))
    again = review_user(later, user=user_id, window=window)
    assert not [s for s in Tables.of(later.store).run(again.run_id).sources
                if s.name == "signInLatency"]


def test_a_short_history_is_reported_with_the_licence(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator
) -> None:
    """A user without a stored baseline is judged against their own recent history: the review
    reads the licence (how many days Graph keeps) and reports a history shorter than it, as
    after an upgrade (reference-reports-data-retention), instead of assuming 30 days."""
    services = pipeline_services(sample_tenant)
    user_id, _ = _user(sample_tenant, "mfa_fatigue")
    graph.configure(history_since=(sample_tenant.window.start - timedelta(days=1)).isoformat())
    verdict = review_user(services, user=user_id, window=sample_tenant.window)
    sources = {s.name: s for s in Tables.of(services.store).run(verdict.run_id).sources}
    assert sources["licence"].available and "P2" in sources["licence"].detail
    assert not sources["signInHistory"].available
    assert "missing, not quiet" in sources["signInHistory"].detail
    assert any(c["path"] == "/v1.0/subscribedSkus" for c in graph.calls)


def test_a_page_graph_serves_twice_is_counted_once_in_a_one_user_review(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator
) -> None:
    """A page served a second time under a new link is kept as evidence as Graph sent it, but
    its sign-ins are counted once: the verdict is the one the plain read gives."""
    user_id, _ = _user(sample_tenant, "mfa_fatigue")
    plain = review_user(pipeline_services(sample_tenant, GRAPH_PAGE_SIZE="5"), user=user_id,
                        window=sample_tenant.window)
    graph.configure(repeat_pages=1)
    twice = review_user(pipeline_services(sample_tenant, GRAPH_PAGE_SIZE="5"), user=user_id,
                        window=sample_tenant.window)
    assert len(twice.pages) == len(plain.pages) + 1  # the repeated page is in the evidence
    assert twice.detail.stats.sign_ins == plain.detail.stats.sign_ins > 5
    assert twice.verdict == plain.verdict
