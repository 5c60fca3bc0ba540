"""Verifying a run's audit record against storage, as an auditor would.

`verify_run(store, run_id)` reads the run's manifest and checks, in plain sentences:
- the manifest's own SHA-256 against the one the run record kept;
- every evidence blob it lists (re-read and re-hashed);
- the verdicts it lists against Table `verdicts`;
- its chain links: the entry before it still hashes to what it names as `previous`, and the
  entry after it (if any) names this manifest's hash as its own `previous`;
- the run's remediations: each record's WORM audit entry hashes as recorded, sits in the chain,
  and names this manifest; and no chained remediation of the run is missing from the table;
- the run's attestations (sign-offs of a privileged-account review) the same way: each recorded
  one's chain entry hashes as recorded, sits in the chain, names this manifest and holds the
  decision the table holds; none is left half-recorded; none in the chain is missing from the
  table.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import msgspec

from shared.audit.attestations import AttestationRecord, run_attestations
from shared.audit.chain import AuditChain, ChainLink, entry_fields, read_blob
from shared.audit.manifest import Manifest, decode_manifest
from shared.errors import NotFoundError
from shared.pipeline.records import RemediationRecord, RunRecord, VerdictRecord, remediation_keys
from shared.pipeline.runs import Tables
from shared.services import utc_now
from shared.store import EvidenceRef, Store
from shared.store.evidence import sha256_hex


class Problem(msgspec.Struct, frozen=True):
    """One thing that does not match: what it concerns, and a sentence saying how."""

    subject: str
    sentence: str


class RemediationSummary(msgspec.Struct, frozen=True, kw_only=True):
    """Who approved what for a user of the run, when, and how each action ended."""

    approval_id: str
    user_id: str
    approver: str
    requested_at: datetime
    status: str
    outcomes: list[str]  # "revokeSessions: done"
    audit: str | None  # the audit record's blob name


class Verification(msgspec.Struct, kw_only=True):
    run_id: str
    manifest: EvidenceRef | None
    sequence: int | None  # the manifest's place in the audit chain
    blobs_checked: int
    remediations_checked: int
    problems: list[Problem]
    remediations: list[RemediationSummary] = msgspec.field(default_factory=list)
    attestations_checked: int = 0
    attestations: list[str] = msgspec.field(default_factory=list)  # "admin@x: keep by Ana"

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_run(store: Store, run_id: str) -> Verification:
    """Check a run's manifest, evidence, chain links and remediations; NotFoundError if no run."""
    tables = Tables.of(store)
    run = tables.runs.get(run_id, "run")
    if run is None:
        raise NotFoundError(f"there is no run {run_id!r} in this storage", run_id=run_id)
    empty = Verification(run_id=run_id, manifest=run.manifest, sequence=None, blobs_checked=0,
                         remediations_checked=0, problems=[])
    if run.manifest is None:
        why = ("it was finalized without one" if run.status in ("complete", "partial")
               else "it has not been finalized")
        empty.problems.append(Problem(run_id, f"Run {run_id} has no audit manifest (status "
                                      f"{run.status}): {why}."))
        return empty
    data = read_blob(store, run.manifest.name)
    if data is None:
        empty.problems.append(Problem(run.manifest.name, f"The manifest {run.manifest.name} "
                                      f"is missing from evidence storage."))
        return empty
    problems = manifest_hash_problems(run.manifest, data)
    try:
        manifest = decode_manifest(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        problems.append(Problem(run.manifest.name, f"The manifest {run.manifest.name} is not "
                                f"a readable audit manifest ({exc})."))
        return msgspec.structs.replace(empty, problems=problems)
    problems += manifest_content_problems(run, manifest, tables.verdicts.query_partition(run_id))
    problems += evidence_problems(store, manifest)
    chain = AuditChain(store, utc_now)
    problems += link_problems(store, chain, run.manifest, manifest.sequence, manifest.previous,
                              sha256_hex(data))
    records = remediation_records(store, run_id)
    problems += remediation_problems(store, chain, run, manifest.sequence, records)
    signed = run_attestations(store, run_id)
    problems += attestation_problems(store, chain, run, manifest.sequence, signed)
    return Verification(run_id=run_id, manifest=run.manifest, sequence=manifest.sequence,
                        blobs_checked=len(manifest.evidence),
                        remediations_checked=len(records), problems=problems,
                        remediations=[summary(r) for r in records],
                        attestations_checked=len(signed),
                        attestations=[f"{a.user_principal_name or a.user_id}: {a.decision} by "
                                      f"{a.reviewer}" for a in signed])


# --- the manifest itself ----------------------------------------------------------------------


def manifest_hash_problems(recorded: EvidenceRef, data: bytes) -> list[Problem]:
    actual = sha256_hex(data)
    if actual == recorded.sha256 and len(data) == recorded.size:
        return []
    return [Problem(recorded.name, f"The manifest {recorded.name} was altered: it hashes to "
                    f"{actual} ({len(data)} bytes), but the run record kept {recorded.sha256} "
                    f"({recorded.size} bytes).")]


def manifest_content_problems(run: RunRecord, manifest: Manifest,
                              verdicts: Iterable[VerdictRecord]) -> list[Problem]:
    """The manifest against the run and verdict records it was written from."""
    name = run.manifest.name if run.manifest else run.run_id
    problems = []
    if manifest.run_id != run.run_id:
        problems.append(Problem(name, f"The manifest names run {manifest.run_id}, not "
                                f"{run.run_id}."))
    listed = {v.user_id: v for v in manifest.verdicts}
    stored = {v.user_id: v for v in verdicts}
    for user_id in sorted(set(listed) | set(stored)):
        was, now = listed.get(user_id), stored.get(user_id)
        if was is None:
            problems.append(Problem(user_id, f"Table verdicts has a verdict for user {user_id} "
                                    f"that the manifest does not list."))
        elif now is None:
            problems.append(Problem(user_id, f"The manifest lists a {was.level} verdict for "
                                    f"user {user_id} that Table verdicts no longer has."))
        elif (was.level, was.bundle) != (now.verdict, now.evidence):
            who = f"{user_id} ({was.user_principal_name})" if was.user_principal_name \
                else user_id
            problems.append(Problem(user_id, f"The manifest and Table verdicts disagree on "
                                    f"user {who}: the manifest lists {was.level} (bundle "
                                    f"{was.bundle.sha256[:12]}), the table {now.verdict} "
                                    f"(bundle {now.evidence.sha256[:12]})."))
    return problems


def evidence_problems(store: Store, manifest: Manifest) -> list[Problem]:
    problems = []
    for blob in manifest.evidence:
        check = store.evidence.verify_evidence(blob.ref)
        if check:
            continue
        reason = check.reason or "unreadable"
        if reason.endswith("missing"):
            sentence = f"The {blob.role} {blob.name} listed in the manifest is missing."
        else:
            sentence = f"The {blob.role} {blob.name} was altered: {reason}."
        problems.append(Problem(blob.name, sentence))
    return problems


# --- the chain ------------------------------------------------------------------------------


def link_problems(store: Store, chain: AuditChain, recorded: EvidenceRef, sequence: int,
                  previous: str | None, actual: str) -> list[Problem]:
    """This entry's row in the chain index, the link back, and the link from the next entry."""
    name = recorded.name
    problems = []
    own = chain.link(sequence)
    if own is None or own.name != name or own.sha256 != recorded.sha256:
        problems.append(Problem(name, f"Audit chain entry {sequence} should be {name} with "
                                f"SHA-256 {recorded.sha256}, but the chain index has "
                                f"{_described(own)}."))
    if sequence > 1:
        problems += _back_link(store, chain, name, sequence, previous)
    elif previous is not None:
        problems.append(Problem(name, f"{name} is the first chain entry but names a previous "
                                f"one ({previous})."))
    after = chain.link(sequence + 1)
    if after is not None:
        data = read_blob(store, after.name)
        fields = entry_fields(data) if data is not None else None
        if fields is None:
            problems.append(Problem(after.name, f"The next chain entry {after.name} "
                                    f"(#{sequence + 1}) is missing or unreadable."))
        elif fields.previous != actual:
            problems.append(Problem(name, f"The chain is broken after {name}: the next entry "
                                    f"{after.name} (#{sequence + 1}) points back to SHA-256 "
                                    f"{fields.previous}, but {name} hashes to {actual} now."))
    if chain.head().sequence < sequence:
        problems.append(Problem(name, f"The audit chain head is behind entry {sequence}."))
    return problems


def _back_link(store: Store, chain: AuditChain, name: str, sequence: int,
               previous: str | None) -> list[Problem]:
    before = chain.link(sequence - 1)
    if before is None:
        return [Problem(name, f"Audit chain entry {sequence - 1}, before {name}, is not in "
                        f"the chain index.")]
    data = read_blob(store, before.name)
    if data is None:
        return [Problem(before.name, f"The previous chain entry {before.name} "
                        f"(#{sequence - 1}) is missing.")]
    if sha256_hex(data) != previous:
        return [Problem(name, f"The chain is broken before {name}: it names the previous entry "
                        f"{before.name} by SHA-256 {previous}, but that entry hashes to "
                        f"{sha256_hex(data)} now.")]
    return []


def _described(link: ChainLink | None) -> str:
    return "nothing" if link is None else f"{link.name} with SHA-256 {link.sha256}"


# --- remediations ---------------------------------------------------------------------------


def remediation_records(store: Store, run_id: str) -> list[RemediationRecord]:
    table = store.table(store.names.remediations, RemediationRecord, remediation_keys)
    return sorted(table.query("runId eq @run", run=run_id), key=lambda r: r.approval_id)


def summary(record: RemediationRecord) -> RemediationSummary:
    outcomes = {r.action: r.outcome for r in record.results}
    return RemediationSummary(
        approval_id=record.approval_id, user_id=record.user_id, approver=record.approver,
        requested_at=record.requested_at, status=record.status,
        outcomes=[f"{a}: {outcomes.get(a, 'no outcome')}" for a in record.actions],
        audit=record.audit.name if record.audit else None)


def remediation_problems(store: Store, chain: AuditChain, run: RunRecord, sequence: int,
                         records: list[RemediationRecord]) -> list[Problem]:
    assert run.manifest is not None
    manifest = run.manifest
    problems = []
    for record in records:
        if record.audit is None:
            if record.status != "started":
                problems.append(Problem(record.approval_id, f"Remediation {record.approval_id} "
                                        f"({record.status}) has no audit record."))
            continue
        problems += _audit_entry_problems(store, chain, manifest, record, record.audit)
    listed = {r.audit.name for r in records if r.audit is not None}
    for link in chain.links_after(sequence):
        if link.entry == "remediation" and link.run_id == run.run_id \
                and link.name not in listed:
            problems.append(Problem(link.name, f"Audit chain entry {link.sequence} "
                                    f"({link.name}) records a remediation of this run that "
                                    f"Table remediations does not list."))
    return problems


def _audit_entry_problems(store: Store, chain: AuditChain, manifest: EvidenceRef,
                          record: RemediationRecord, audit: EvidenceRef) -> list[Problem]:
    who = f"remediation {record.approval_id} (approved by {record.approver})"
    return _chain_entry_problems(store, chain, manifest, audit, who)[0]


def _chain_entry_problems(store: Store, chain: AuditChain, manifest: EvidenceRef,
                          audit: EvidenceRef, who: str) -> tuple[list[Problem], bytes | None]:
    """What is wrong with the write-once audit record `audit` of `who` (a remediation or a
    sign-off): missing or altered, not an entry of the chain, not where the chain index puts it,
    not linked to the entry before it, or naming another manifest than the run's. The record's
    bytes are returned beside the problems when it could be read as an entry."""
    check = store.evidence.verify_evidence(audit)
    if not check:
        reason = check.reason or "unreadable"
        state = "is missing" if reason.endswith("missing") else f"was altered: {reason}"
        return [Problem(audit.name, f"The audit record {audit.name} of {who} {state}.")], None
    data = read_blob(store, audit.name) or b""
    fields = entry_fields(data)
    if fields is None:
        return [Problem(audit.name, f"The audit record {audit.name} of {who} is not an entry "
                        f"of the audit chain.")], None
    problems = []
    link = chain.link(fields.sequence)
    if link is None or (link.name, link.sha256) != (audit.name, audit.sha256):
        problems.append(Problem(audit.name, f"Audit chain entry {fields.sequence} should be "
                                f"{audit.name}, but the chain index has {_described(link)}."))
    if fields.sequence > 1:
        problems += _back_link(store, chain, audit.name, fields.sequence, fields.previous)
    if fields.manifest is None or fields.manifest.sha256 != manifest.sha256:
        named = fields.manifest.sha256 if fields.manifest else "no manifest"
        problems.append(Problem(audit.name, f"The audit record of {who} names manifest "
                                f"{named}, not the run's {manifest.sha256}."))
    return problems, data


# --- attestations ---------------------------------------------------------------------------


def attestation_problems(store: Store, chain: AuditChain, run: RunRecord, sequence: int,
                         records: list[AttestationRecord]) -> list[Problem]:
    assert run.manifest is not None
    problems = []
    for record in records:
        who = record.user_principal_name or record.user_id
        if record.audit is None:
            problems.append(Problem(record.key, f"The sign-off of {who} by {record.reviewer} "
                                    f"({record.status}) has no audit record in the chain."))
            continue
        problems += _attestation_entry_problems(store, chain, run.manifest, record, record.audit)
    listed = {r.audit.name for r in records if r.audit is not None}
    for link in chain.links_after(sequence):
        if link.entry == "attestation" and link.run_id == run.run_id \
                and link.name not in listed:
            problems.append(Problem(link.name, f"Audit chain entry {link.sequence} "
                                    f"({link.name}) records a sign-off of this run that Table "
                                    f"runs does not list."))
    return problems


def _attestation_entry_problems(store: Store, chain: AuditChain, manifest: EvidenceRef,
                                record: AttestationRecord, audit: EvidenceRef) -> list[Problem]:
    who = f"the sign-off of {record.user_principal_name or record.user_id} by {record.reviewer}"
    problems, data = _chain_entry_problems(store, chain, manifest, audit, who)
    if data is None:
        return problems
    written = _attested(data)
    if written != (record.user_id, record.decision, record.reviewer, record.comment):
        problems.append(Problem(audit.name, f"Table runs and the audit record disagree on {who}:"
                                f" the table holds {record.decision!r}, the write-once record "
                                f"{written[1] if written else 'nothing readable'!r}."))
    return problems


class _Signed(msgspec.Struct, rename="camel"):
    user_id: str
    decision: str
    reviewer: str
    comment: str = ""


class _AttestationEntry(msgspec.Struct):
    attestation: _Signed


def _attested(data: bytes) -> tuple[str, str, str, str] | None:
    try:
        signed = msgspec.json.decode(data, type=_AttestationEntry).attestation
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return signed.user_id, signed.decision, signed.reviewer, signed.comment
