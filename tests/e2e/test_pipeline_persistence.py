"""What followed the weekend's sign-ins, through the whole pipeline on Azurite and the Graph
emulator: the audit log read once and kept as evidence, the AiTM user's authenticator, the
consented mail app and the forwarding rule as `persistence` findings naming exactly those
objects, each user's methods, rules and grants in their write-once bundle; the benign new phone
and self-service reset are no finding."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from local.graph_emulator import GraphEmulator
from local.tenant import Tenant
from shared.audit.manifest import decode_manifest
from shared.persistence.activities import SECURITY_INFO, kind_of
from shared.pipeline.adhoc import review_user
from shared.pipeline.runs import Tables
from shared.pipeline.scoring import stored_context, user_bundle
from shared.services import Services
from tests.e2e.test_pipeline import run_monday
from tests.e2e.test_sources import monday, source_stack  # noqa: F401  (a fixture)


def _scenario_users(tenant: Tenant) -> dict[str, str]:
    return {t.scenario: uid for uid, t in reversed(tenant.ground_truth.items())}


def test_persistence_through_the_pipeline(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator
) -> None:
    services = pipeline_services(sample_tenant)
    _, run_id = run_monday(services, sample_tenant)
    tables = Tables.of(services.store)
    evidence = services.store.evidence
    run = tables.run(run_id)
    context = stored_context(services, run)
    assert context is not None and context.audit_events is not None
    assert context.audit_pages and all(evidence.verify_evidence(p) for p in context.audit_pages)
    assert run.audit_pages == context.audit_pages  # listed in the run's write-once manifest
    assert run.manifest is not None
    sealed = {b.name for b in decode_manifest(evidence.read_evidence(run.manifest)).evidence}
    assert {p.name for p in run.audit_pages} <= sealed
    assert {e.activity_display_name for e in context.audit_events} >= {
        "User registered security info", "Consent to application",
        "Reset password (self-service)"}
    (source,) = [s for s in run.sources if s.name == "directoryAudits"]
    assert source.available
    calls = [c for c in graph.calls if "directoryAudits" in c["path"]]
    assert len(calls) == len(context.audit_pages)  # once per run, page by page
    # where a forwarding rule's mail stays in the organisation: the tenant's verified domains
    (domains,) = [s for s in run.sources if s.name == "domains"]
    assert domains.available
    assert context.tenant_domains == sorted(
        {u["userPrincipalName"].rpartition("@")[2].lower() for u in sample_tenant.users})

    users = _scenario_users(sample_tenant)
    verdicts = {v.user_id: v for v in tables.verdicts.query_partition(run_id)}

    def persistence(scenario: str) -> list:
        verdict = verdicts[users[scenario]]
        bundle = user_bundle(evidence.read_evidence(verdict.evidence), verdict.user_id)
        return [f for f in bundle.verdict.findings if f.type == "persistence"], bundle

    aitm, bundle = persistence("impossible_travel")
    assert verdicts[users["impossible_travel"]].verdict == "high"
    (registered,) = aitm
    assert registered.severity == "high" and "Microsoft Authenticator App" in registered.summary
    assert "from the same address" in registered.summary
    attacker = [m for m in sample_tenant.authentication_methods
                if m["_owner"] == users["impossible_travel"] and m.get("displayName") == "SM-A515F"]
    assert [o.id for o in registered.objects] == [attacker[0]["id"]]
    assert bundle.followed is not None and bundle.followed.methods is not None
    assert len(bundle.followed.methods) == 3  # password, the user's own app, the attacker's

    consent, bundle = persistence("new_country_success")
    grant = next(g for g in sample_tenant.permission_grants
                 if g["principalId"] == users["new_country_success"])
    assert {o.id for f in consent for o in f.objects} == {grant["id"]}
    assert all(f.severity == "high" for f in consent)

    rule, _ = persistence("mfa_fatigue")
    assert [(f.severity, [o.kind for o in f.objects]) for f in rule] == [("high", ["rule"])]

    for benign in ("ordinary_weekend", "typo_then_success"):
        for uid, truth in sample_tenant.ground_truth.items():
            if truth.scenario == benign and uid in verdicts:
                assert "persistence" not in verdicts[uid].finding_types, benign



@pytest.mark.parametrize(("source", "where", "pages"), [
    ("archive", "insights-logs-auditlogs", "hours"), ("log-analytics", "(AuditLogs)", "one")])
def test_a_run_reads_the_exported_audit_log_where_its_sign_ins_come_from(
    source_stack: Callable[..., Services],  # noqa: F811  (the fixture imported above)
    sample_tenant: Tenant, graph: GraphEmulator, source: str, where: str, pages: str,
) -> None:
    """Sign-ins from the diagnostic-settings archive or a Log Analytics workspace, AuditLogs
    exported beside them: the audit rows come from there (no directoryAudits request spends
    Graph's reports budget), the hour blobs or the query's answer are the evidence, and the
    persistence findings are the same."""
    services = source_stack(sample_tenant, source)
    run, verdicts = monday(services, sample_tenant)
    assert run.source == source
    assert not [c for c in graph.calls if "directoryAudits" in c["path"]]
    (described,) = [s for s in run.sources if s.name == "directoryAudits"]
    assert described.available and where in described.detail
    context = stored_context(services, run)
    assert context is not None and context.audit_events is not None
    assert context.audit_until is None  # export lags unbounded: the window's end stands in
    hours = len({str(r["activityDateTime"])[:13] for r in sample_tenant.directory_audits})
    assert len(context.audit_pages) == (hours if pages == "hours" else 1)
    assert all(services.store.evidence.verify_evidence(p) for p in context.audit_pages)
    users = _scenario_users(sample_tenant)
    for scenario in ("impossible_travel", "new_country_success"):
        assert "persistence" in verdicts[users[scenario]][1], scenario


def test_a_one_user_review_reads_what_the_user_did_and_finds_the_authenticator(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator
) -> None:
    """The ticket's one-user review: the audit rows the user initiated (filtered at Graph), the
    user's methods, rules and grants; the AiTM user's authenticator is found as in the run."""
    services = pipeline_services(sample_tenant)
    user_id = _scenario_users(sample_tenant)["impossible_travel"]
    verdict = review_user(services, user=user_id, window=sample_tenant.window)
    assert verdict.verdict == "high" and "persistence" in verdict.finding_types
    (query,) = [c["query"]["$filter"] for c in graph.calls if "directoryAudits" in c["path"]]
    assert query.endswith(f"and initiatedBy/user/id eq '{user_id}'")
    bundle = user_bundle(services.store.evidence.read_evidence(verdict.evidence), user_id)
    assert bundle.followed is not None and bundle.followed.methods is not None
    named = [o.label for f in bundle.verdict.findings if f.type == "persistence"
             for o in f.objects]
    assert named == ["microsoftAuthenticator (SM-A515F)"]
    assert "removeMethods" in verdict.proposed_actions


def _method_reads(graph: GraphEmulator) -> list[str]:
    """The users whose authentication methods the run read, one entry per request."""
    return [c["path"].split("/users/")[1].split("/")[0].lower() for c in graph.calls
            if c["path"].endswith("/authentication/methods")]


def test_methods_are_read_only_for_users_with_security_info_activity(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator
) -> None:
    """Authentication methods spend the reports budget: a user at low or above is read only
    when the run's complete audit log shows security-info activity for them (hostile: the AiTM
    user's authenticator), else not, with the reason in their evidence and report entry
    (benign: flagged users who registered nothing). Inbox rules and grants, on other budgets,
    are read for every user at low or above."""
    services = pipeline_services(sample_tenant)
    _, run_id = run_monday(services, sample_tenant)
    tables = Tables.of(services.store)
    context = stored_context(services, tables.run(run_id))
    assert context is not None and context.audit_events is not None and context.audit_complete
    # read from Graph as planning began, never before the window's end
    assert context.audit_until is not None and context.audit_until >= context.window.end
    verdicts = {v.user_id: v for v in tables.verdicts.query_partition(run_id)}
    flagged = {uid.lower() for uid, v in verdicts.items() if v.verdict != "none"}
    active = {uid for uid in flagged
              if any(kind_of(e) in SECURITY_INFO and e.concerns(frozenset({uid}))
                     for e in context.audit_events)}
    reads = _method_reads(graph)
    assert sorted(reads) == sorted(active)  # one request each, no one else
    aitm = _scenario_users(sample_tenant)["impossible_travel"].lower()
    assert aitm in active
    rules = [c for c in graph.calls if c["path"].endswith("/messageRules")]
    assert len(rules) == len(flagged)
    skipped = flagged - active
    assert skipped, "the sample tenant has flagged users who registered nothing"
    since = f"{context.window.start:%Y-%m-%d %H:%M} UTC"
    for uid in skipped:
        verdict = verdicts[uid]
        bundle = user_bundle(services.store.evidence.read_evidence(verdict.evidence), uid)
        assert bundle.followed is not None and bundle.followed.methods is None
        assert bundle.followed.unread["methods"] == (
            f"not needed: no security-info change in the directory audit log since {since}")
        assert (f"Authentication methods not read: no security-info change in the directory "
                f"audit log since {since}.") in verdict.detail.reasons
        assert "removeMethods" not in verdict.proposed_actions


def test_methods_are_read_for_every_flagged_user_when_the_audit_log_is_not_read(
    pipeline_services: Callable[..., Services], sample_tenant: Tenant, graph: GraphEmulator
) -> None:
    """No audit log (403 on directoryAudits): nothing says who registered nothing, so every
    user at low or above has their methods read, as before (fail closed)."""
    graph.configure(forbidden_paths=["auditLogs/directoryAudits"])
    services = pipeline_services(sample_tenant)
    _, run_id = run_monday(services, sample_tenant)
    tables = Tables.of(services.store)
    context = stored_context(services, tables.run(run_id))
    assert context is not None and context.audit_events is None and not context.audit_complete
    flagged = {v.user_id.lower() for v in tables.verdicts.query_partition(run_id)
               if v.verdict != "none"}
    assert sorted(_method_reads(graph)) == sorted(flagged)
