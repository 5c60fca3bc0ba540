"""The audit manifest of one run: what was reviewed, with which data, and what was decided.

Written once at finalize to write-once evidence (`runs/{runId}/manifest.json`). It lists every
evidence blob of the run with its SHA-256 and size (each raw Graph page of each slice, the
scoring context, each user's bundle, the reports), every verdict, the slices and batches that
failed and why, and its place in the audit chain: `sequence` and `previous`, the SHA-256 of the
chain entry before it (the previous run's manifest, or a remediation audit record written since).

Building is pure and the bytes are deterministic: lists sorted, maps encoded in key order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal

import msgspec

from shared.model import LEVELS, DataSource, Level, Window
from shared.pipeline.records import RunRecord, SliceRecord, VerdictRecord
from shared.store import EvidenceRef

MANIFEST_SCHEMA = "audit-manifest/1"
BlobRole = Literal["page", "context", "bundle", "report"]


class ChainPosition(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Where an entry sits in the audit chain: its number and the entry before it."""

    sequence: int  # 1 for the first entry ever written
    previous: str | None = None  # SHA-256 of the previous entry's bytes; None for the first
    previous_name: str | None = None


class ListedBlob(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    role: BlobRole
    name: str
    sha256: str
    size: int

    @property
    def ref(self) -> EvidenceRef:
        return EvidenceRef(name=self.name, sha256=self.sha256, size=self.size)


class ListedVerdict(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    user_id: str
    user_principal_name: str | None
    level: Level
    privileged: bool
    got_in: bool
    finding_types: list[str]
    proposed_actions: list[str]
    bundle: EvidenceRef


class Failure(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    part: Literal["slice", "batch"]
    id: str
    reason: str


class Counts(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    sign_ins: int
    users: int
    verdicts: dict[str, int]  # level -> users, every level present


class Manifest(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    schema: str = MANIFEST_SCHEMA
    entry: Literal["run-manifest"] = "run-manifest"
    sequence: int
    previous: str | None
    previous_name: str | None
    run_id: str
    kind: str
    status: str
    window: Window
    ticket_id: str | None
    requested_by: str | None
    api_version: str
    sources_used: list[DataSource]
    sources_missing: list[DataSource]
    counts: Counts
    evidence: list[ListedBlob]
    verdicts: list[ListedVerdict]
    failures: list[Failure]
    created_at: datetime

    @property
    def position(self) -> ChainPosition:
        return ChainPosition(sequence=self.sequence, previous=self.previous,
                             previous_name=self.previous_name)


_encoder = msgspec.json.Encoder(order="sorted")


def encode_manifest(manifest: Manifest) -> bytes:
    return _encoder.encode(manifest)


def decode_manifest(data: bytes) -> Manifest:
    return msgspec.json.decode(data, type=Manifest)


def listed_blobs(run: RunRecord, slices: Iterable[SliceRecord],
                 verdicts: Iterable[VerdictRecord]) -> list[ListedBlob]:
    """Every evidence blob of the run, once each, sorted by name."""
    found: dict[str, ListedBlob] = {}

    def add(role: BlobRole, ref: EvidenceRef) -> None:
        found.setdefault(ref.name, ListedBlob(role=role, name=ref.name, sha256=ref.sha256,
                                              size=ref.size))

    for part in slices:
        for page in part.pages:
            add("page", page)
    if run.context is not None:
        add("context", run.context)
    for page in run.audit_pages:  # the directory audit log's pages (what followed)
        add("page", page)
    for verdict in verdicts:
        add("bundle", verdict.evidence)
        for page in verdict.pages:
            add("page", page)
    for ref in run.reports.values():
        add("report", ref)
    return sorted(found.values(), key=lambda b: b.name)


def listed_verdicts(verdicts: Iterable[VerdictRecord]) -> list[ListedVerdict]:
    return sorted((ListedVerdict(
        user_id=v.user_id, user_principal_name=v.user_principal_name, level=v.verdict,
        privileged=v.privileged, got_in=v.got_in, finding_types=sorted(v.finding_types),
        proposed_actions=list(v.proposed_actions), bundle=v.evidence,
    ) for v in verdicts), key=lambda v: v.user_id)


def failures(run: RunRecord) -> list[Failure]:
    found = [Failure(part="slice", id=k, reason=v) for k, v in run.slices_failed.items()]
    found += [Failure(part="batch", id=k, reason=v) for k, v in run.batches_failed.items()]
    return sorted(found, key=lambda f: (f.part, f.id))


def build_manifest(run: RunRecord, slices: Sequence[SliceRecord],
                   verdicts: Sequence[VerdictRecord], *, position: ChainPosition,
                   created_at: datetime) -> Manifest:
    """The manifest of a finalized run (`run` carries its final status, counts and reports)."""
    sources = sorted(run.sources, key=lambda s: s.name)
    counts: dict[str, int] = {level: sum(1 for v in verdicts if v.verdict == level)
                              for level in LEVELS}
    return Manifest(
        sequence=position.sequence, previous=position.previous,
        previous_name=position.previous_name, run_id=run.run_id, kind=run.kind,
        status=run.status, window=Window(start=run.window_start, end=run.window_end),
        ticket_id=run.ticket_id, requested_by=run.requested_by, api_version=run.api_version,
        sources_used=[s for s in sources if s.available],
        sources_missing=[s for s in sources if not s.available],
        counts=Counts(sign_ins=run.sign_ins, users=len(verdicts), verdicts=counts),
        evidence=listed_blobs(run, slices, verdicts),
        verdicts=listed_verdicts(verdicts),
        failures=failures(run),
        created_at=created_at,
    )
