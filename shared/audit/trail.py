"""Writing the audit trail: a run's manifest at finalize, a remediation's audit record after it.

Both become entries of the one audit chain (`shared.audit.chain`), so the record of what was
reviewed and the record of what was done about it are checked together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from msgspec.structs import replace

from shared.audit.chain import AuditChain, ChainFields, EntryTaken
from shared.audit.manifest import ChainPosition, build_manifest, encode_manifest
from shared.errors import EvidenceError
from shared.logs import event
from shared.pipeline.records import RunRecord, SliceRecord, VerdictRecord
from shared.pipeline.runs import Tables
from shared.services import Services
from shared.store import EvidenceRef, manifest_name, remediation_name

AUDIT_NAMES_PER_APPROVAL = 9  # remediations/{id}.json, then .2 ... for resumed attempts
_encoder = msgspec.json.Encoder(order="sorted")


def run_slices(tables: Tables, run: RunRecord) -> list[SliceRecord]:
    found = (tables.slices.get(run.run_id, f"slice-{s}") for s in run.slice_ids)
    return [s for s in found if s is not None]


def record_manifest(services: Services, tables: Tables, run: RunRecord,
                    verdicts: Sequence[VerdictRecord]) -> EvidenceRef:
    """Write the run's manifest as the chain's next entry and keep its reference on the run.

    `run` is the run as finalize leaves it (final status, counts, reports). Idempotent: a run
    that has a manifest keeps it; a manifest written by an earlier try that stopped before
    recording it is adopted, and the chain does not advance twice.
    """
    stored = tables.run(run.run_id).manifest
    if stored is not None:
        return stored
    slices = run_slices(tables, run)
    chain = AuditChain(services.store, services.clock)
    name = manifest_name(run.run_id)

    def build(position: ChainFields) -> bytes:
        manifest = build_manifest(
            run, slices, verdicts, created_at=services.clock(),
            position=_position(position))
        return encode_manifest(manifest)

    try:
        ref = chain.append(name, build, entry="run-manifest", run_id=run.run_id).ref
    except EntryTaken:
        ref = chain.sealed(name).ref
        event("audit.manifest_adopted", blob=name)
    tables.change_run(run.run_id, lambda r: r if r.manifest else replace(r, manifest=ref))
    return ref


def append_remediation_audit(services: Services, approval_id: str, run_id: str,
                             audit: dict[str, Any]) -> EvidenceRef:
    """Write a remediation's audit record as the chain's next entry, naming the run's manifest.

    Under remediations/{approvalId}.json; a resumed attempt whose predecessor already wrote one
    gets `.2`, `.3` ... so both stay in the chain.
    """
    run = Tables.of(services.store).runs.get(run_id, "run")
    manifest = run.manifest if run else None
    chain = AuditChain(services.store, services.clock)

    def build(position: ChainFields) -> bytes:
        return _encoder.encode({**audit, **msgspec.to_builtins(replace(position,
                                                                       manifest=manifest))})

    for attempt in range(1, AUDIT_NAMES_PER_APPROVAL + 1):
        name = remediation_name(approval_id if attempt == 1 else f"{approval_id}.{attempt}")
        try:
            return chain.append(name, build, entry="remediation", run_id=run_id).ref
        except EntryTaken:
            continue
    raise EvidenceError(f"no free audit record name for approval {approval_id}")


def _position(fields: ChainFields) -> ChainPosition:
    return ChainPosition(sequence=fields.sequence, previous=fields.previous,
                         previous_name=fields.previous_name)
