"""The audit record end to end: manifests written at finalize on Azurite + the Graph emulator,
chained across runs and remediations, and `signin-review verify-evidence` catching tampering."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import msgspec
import pytest
from msgspec.structs import replace

from local.identity import LOGIC_APP_OID, TokenIssuer
from local.runner import QueueRunner
from local.serve import LocalApi
from local.tenant import Tenant
from shared.api.remediation import remediations_table
from shared.audit import AuditChain, ChainHead, decode_manifest, verify_run
from shared.audit.chain import ChainFields
from shared.pipeline import finalize
from shared.pipeline.learn import learn
from shared.pipeline.records import RunRecord
from shared.pipeline.runs import Tables
from shared.services import Services
from shared.store import JSON, EvidenceRef, Store, manifest_name

ROOT = Path(__file__).resolve().parents[2]


def run_weekend(services: Services, *, learn_until: object = None) -> RunRecord:
    """Fire the Monday timer at the services' clock and drain; the run it made."""
    before = {r.run_id for r in Tables.of(services.store).runs.query("RowKey eq 'run'")}
    if learn_until is not None:
        learn(services, until=learn_until)  # type: ignore[arg-type]
    runner = QueueRunner(services)
    runner.fire_timer()
    runner.drain()
    (run,) = [r for r in Tables.of(services.store).runs.query("RowKey eq 'run'")
              if r.run_id not in before]
    assert run.status == "complete", (run.slices_failed, run.batches_failed, runner.failures)
    return run


def week_later(services: Services) -> Services:
    """The same storage, with the clock at the next Monday morning."""
    moment = services.clock() + timedelta(days=7)
    return Services(services.settings, store_prefix=services.store_prefix, clock=lambda: moment)


def tamper(services: Services, name: str, data: bytes | None) -> None:
    """Change evidence behind the program's back (Azurite has no immutability)."""
    blob = services.store.clients.container(services.store.names.evidence).get_blob_client(name)
    if data is None:
        blob.delete_blob()
    else:
        blob.upload_blob(data, overwrite=True)


def sentences(services: Services, run_id: str) -> list[str]:
    return [p.sentence for p in verify_run(services.store, run_id).problems]


@pytest.fixture
def monday(pipeline_services: Callable[..., Services], sample_tenant: Tenant
           ) -> tuple[Services, RunRecord]:
    services = pipeline_services(sample_tenant)
    return services, run_weekend(services, learn_until=sample_tenant.window.start)


def test_clean_run_has_a_complete_manifest_and_verifies(
        monday: tuple[Services, RunRecord]) -> None:
    services, run = monday
    assert run.manifest is not None and run.manifest.name == manifest_name(run.run_id)
    data = services.store.evidence.read_evidence(run.manifest)
    manifest = decode_manifest(data)
    tables = Tables.of(services.store)
    verdicts = tables.verdicts.query_partition(run.run_id)
    pages = {p.name for s in run.slice_ids for p in tables.slice(run.run_id, s).pages}
    listed = {b.name: b for b in manifest.evidence}
    assert pages and pages <= set(listed)
    assert {v.evidence.name for v in verdicts} <= set(listed)
    assert run.context is not None and listed[run.context.name].role == "context"
    assert {r.name for r in run.reports.values()} <= set(listed)
    assert [v.user_id for v in manifest.verdicts] == sorted(v.user_id for v in verdicts)
    assert manifest.counts.users == len(verdicts) == run.users
    assert sum(manifest.counts.verdicts.values()) == len(verdicts)
    assert manifest.counts.sign_ins == run.sign_ins > 0
    assert (manifest.sequence, manifest.previous) == (1, None)
    assert manifest.created_at == services.clock()
    assert manifest.status == "complete" and manifest.failures == []
    assert {s.name for s in manifest.sources_used} >= {"signIns"}
    assert data == msgspec.json.encode(msgspec.json.decode(data), order="sorted")  # canonical
    result = verify_run(services.store, run.run_id)
    assert result.ok, result.problems
    assert result.blobs_checked == len(listed) and result.sequence == 1


def test_altered_and_deleted_evidence_are_named(monday: tuple[Services, RunRecord]) -> None:
    services, run = monday
    tables = Tables.of(services.store)
    page = tables.slice(run.run_id, run.slice_ids[0]).pages[0]
    flagged = next(v for v in tables.verdicts.query_partition(run.run_id) if v.verdict != "none")
    tamper(services, page.name, b'{"value": []}')
    tamper(services, flagged.evidence.name, None)
    found = sentences(services, run.run_id)
    assert len(found) == 2, found
    assert any(page.name in s and "altered" in s for s in found), found
    assert any(flagged.evidence.name in s and "missing" in s for s in found), found


def test_altered_manifest_breaks_both_chain_links(
        monday: tuple[Services, RunRecord]) -> None:
    services, first = monday
    later = week_later(services)
    try:
        second = run_weekend(later)
    finally:
        later.store.close()
    assert first.manifest is not None and second.manifest is not None
    following = decode_manifest(services.store.evidence.read_evidence(second.manifest))
    assert (following.sequence, following.previous) == (2, first.manifest.sha256)
    assert verify_run(services.store, first.run_id).ok
    assert verify_run(services.store, second.run_id).ok

    original = services.store.evidence.read_evidence(first.manifest)
    tamper(services, first.manifest.name, original.replace(b'"high"', b'"none"'))
    found = sentences(services, first.run_id)
    assert any("manifest" in s and "was altered" in s for s in found), found
    assert any("disagree" in s and "lists none" in s and "the table high" in s for s in found)
    assert any("broken after" in s and second.manifest.name in s for s in found), found
    found = sentences(services, second.run_id)
    assert any("broken before" in s and first.manifest.name in s for s in found), found


def test_redelivered_finalize_keeps_one_manifest_and_one_chain_entry(
        monday: tuple[Services, RunRecord]) -> None:
    services, run = monday
    tables = Tables.of(services.store)
    chain = AuditChain(services.store, services.clock)
    assert chain.head().sequence == 1
    finalize.finalize(services, run.run_id, None)
    # A try that wrote the manifest and stopped before recording it on the run: adopted.
    tables.change_run(run.run_id, lambda r: replace(r, manifest=None))
    finalize.finalize(services, run.run_id, None)
    again = tables.run(run.run_id)
    assert again.manifest == run.manifest
    assert chain.head().sequence == 1 and chain.links_after(0)[0].sha256 == run.manifest.sha256
    assert verify_run(services.store, run.run_id).ok


def test_concurrent_appends_take_turns(monday: tuple[Services, RunRecord]) -> None:
    services, _ = monday
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        store = Store(services.settings, prefix=services.store_prefix)
        chain = AuditChain(store, services.clock)
        try:
            for k in range(3):
                chain.append(f"tests/w{n}-{k}.json",
                             lambda pos: msgspec.json.encode(pos) + b" " * n,
                             entry="test", run_id=None)
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert_unforked(services, 1 + 4 * 3)


def test_a_dead_claimants_entry_is_sealed_by_the_next_writer(
        monday: tuple[Services, RunRecord]) -> None:
    services, run = monday
    chain = AuditChain(services.store, services.clock)
    head = chain.head()
    written = ChainFields(sequence=2, previous=head.sha256, previous_name=head.name,
                          entry="test")
    services.store.evidence.put_evidence("tests/crashed.json", msgspec.json.encode(written),
                                         content_type=JSON)
    chain.heads.upsert(replace(head, pending="tests/crashed.json",
                               pending_since=services.clock() - timedelta(minutes=6)))
    link = chain.append("tests/next.json", msgspec.json.encode, entry="test", run_id=None)
    assert link.sequence == 3
    assert chain.link(2) is not None and chain.link(2).name == "tests/crashed.json"  # type: ignore[union-attr]
    assert_unforked(services, 3)
    assert verify_run(services.store, run.run_id).ok


def assert_unforked(services: Services, entries: int) -> None:
    chain = AuditChain(services.store, services.clock)
    links = chain.links_after(0)
    assert [link.sequence for link in links] == list(range(1, entries + 1))
    head = chain.head()
    assert head == ChainHead(sequence=entries, name=links[-1].name, sha256=links[-1].sha256)
    for before, after in itertools.pairwise(links):
        fields = msgspec.json.decode(services.store.evidence.read_evidence(after.ref),
                                     type=ChainFields)
        assert fields.previous == before.sha256 and after.previous == before.sha256


# --- remediations in the chain -----------------------------------------------------------------


@pytest.fixture
def approved(pipeline_services: Callable[..., Services], sample_tenant: Tenant,
             token_issuer: TokenIssuer) -> Iterator[tuple[Services, RunRecord, dict[str, object]]]:
    """A Monday run, then one high verdict's remediation approved over the HTTP API."""
    services = pipeline_services(sample_tenant, REMEDIATION_ALLOWED_CALLERS=LOGIC_APP_OID,
                                 **token_issuer.settings())
    run = run_weekend(services, learn_until=sample_tenant.window.start)
    high = next(v for v in Tables.of(services.store).verdicts.query_partition(run.run_id)
                if v.verdict == "high")
    api = LocalApi(services).start()
    body = {"runId": run.run_id, "userId": high.user_id, "actions": ["revokeSessions"],
            "approver": "sec-lead@contoso.com", "approvalId": "ap-audit-1",
            "comment": "approved in the Monday review"}
    try:
        with httpx.Client(trust_env=False, timeout=60) as http:
            answer = http.post(api.base_url + "/api/remediations", json=body, headers={
                "x-functions-key": api.function_key,
                "Authorization": "Bearer " + token_issuer.mint()})
        assert answer.status_code == 200, answer.text
        yield services, run, answer.json()
    finally:
        api.stop()


def test_remediation_is_a_chain_entry_naming_the_manifest(
        approved: tuple[Services, RunRecord, dict[str, object]]) -> None:
    services, run, record = approved
    audit = record["audit"]
    assert isinstance(audit, dict) and run.manifest is not None
    entry = msgspec.json.decode(services.store.evidence.read_evidence(
        msgspec.convert(audit, type=EvidenceRef)))
    assert entry["sequence"] == 2 and entry["previous"] == run.manifest.sha256
    assert entry["manifest"]["sha256"] == run.manifest.sha256
    assert entry["remediation"]["approver"] == "sec-lead@contoso.com"
    assert [r["outcome"] for r in entry["remediation"]["results"]] == ["done"]
    result = verify_run(services.store, run.run_id)
    assert result.ok and result.remediations_checked == 1, result.problems
    (done,) = result.remediations
    assert (done.approval_id, done.approver, done.outcomes) == (
        "ap-audit-1", "sec-lead@contoso.com", ["revokeSessions: done"])
    shown = cli(services, run.run_id)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "remediation ap-audit-1: sec-lead@contoso.com approved revokeSessions: done" \
        in shown.stdout

    tamper(services, str(audit["name"]), msgspec.json.encode({**entry, "approver": "nobody"}))
    found = sentences(services, run.run_id)
    assert any(audit["name"] in s and "ap-audit-1" in s and "altered" in s for s in found)
    remediations_table(services).delete("approval", "ap-audit-1")  # hide the table record
    found = sentences(services, run.run_id)
    assert any("Table remediations does not list" in s for s in found), found


# --- the command ----------------------------------------------------------------------------


def cli(services: Services, *args: str, storage: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AzureWebJobs", "GRAPH_"))}
    env.update(AzureWebJobsStorage=storage or str(services.settings.storage_connection_string),
               STORAGE_NAME_PREFIX=services.store_prefix, NO_PROXY="127.0.0.1,localhost")
    return subprocess.run([sys.executable, "-m", "shared.cli", "verify-evidence", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
                          check=False)


def test_command_exit_codes_and_sentences(monday: tuple[Services, RunRecord]) -> None:
    services, run = monday
    assert run.manifest is not None
    clean = cli(services, run.run_id)
    assert clean.returncode == 0, clean.stderr
    assert "Everything matches" in clean.stdout and run.manifest.sha256 in clean.stdout
    as_json = msgspec.json.decode(cli(services, run.run_id, "--json").stdout)
    assert as_json["ok"] is True and as_json["problems"] == []

    page = Tables.of(services.store).slice(run.run_id, run.slice_ids[0]).pages[0]
    tamper(services, page.name, b"{}")
    broken = cli(services, run.run_id)
    assert broken.returncode == 1
    assert f"The page {page.name} was altered" in broken.stdout
    assert cli(services, run.run_id, "--json").returncode == 1

    unknown = cli(services, "scheduled-nothing")
    assert unknown.returncode == 2 and "no run 'scheduled-nothing'" in unknown.stderr
    nowhere = re.sub(r"(//127\.0\.0\.1):\d+", r"\1:1",
                     str(services.settings.storage_connection_string))
    unreachable = cli(services, run.run_id, storage=nowhere)
    assert unreachable.returncode == 5 and "unreachable" in unreachable.stderr  # exits.UNREACHABLE
    for done in (clean, broken, unknown, unreachable):
        assert "Traceback" not in done.stderr

