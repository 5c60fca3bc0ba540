"""Sign-offs of a privileged-account review: one per account, write-once, in the audit chain.

An attestation is what an auditor asks to see for a quarterly access review: who reviewed which
privileged account of which run, when, and what they decided (`keep`, `remove-role`,
`investigate`). Each is kept twice, like a remediation: a row in Table `runs` (partition: the
run; RowKey `attestation-{sha256 of the account}`, created once, so a second sign-off of the same
account is refused) and an entry of the audit chain (attestations/{runId}/{key}.json, write-once)
that names the run's manifest. `verify-evidence` checks both (shared.audit.verify).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec
from msgspec.structs import replace

from shared.audit.chain import AuditChain, ChainFields, EntryTaken
from shared.pipeline.runs import Tables
from shared.services import Services
from shared.store import EntityTable, EvidenceRef, Store
from shared.store.evidence import sha256_hex
from shared.store.names import checked_id

Decision = Literal["keep", "remove-role", "investigate"]
DECISIONS: tuple[Decision, ...] = ("keep", "remove-role", "investigate")
SCHEMA = "privileged-attestation/1"
ROW_PREFIX = "attestation-"
_encoder = msgspec.json.Encoder(order="sorted")


class AttestationRecord(msgspec.Struct, kw_only=True, rename="camel"):
    run_id: str
    key: str  # sha256 of the account's id in the review (lower case): safe as a RowKey and name
    user_id: str
    user_principal_name: str | None
    decision: Decision
    reviewer: str
    comment: str = ""
    caller: str  # "function-key", or the object id of the approver signed in on the platform
    recorded_at: datetime
    status: Literal["recording", "recorded"] = "recording"
    audit: EvidenceRef | None = None  # the chain entry (write-once)


def attestation_keys(record: AttestationRecord) -> tuple[str, str]:
    return record.run_id, ROW_PREFIX + record.key


def account_key(user_id: str) -> str:
    return sha256_hex(user_id.lower().encode())[:40]


def attestation_name(run_id: str, key: str) -> str:
    return f"attestations/{checked_id('run id', run_id)}/{checked_id('key', key)}.json"


def attestations_table(store: Store) -> EntityTable[AttestationRecord]:
    return store.table(store.names.runs, AttestationRecord, attestation_keys)


def run_attestations(store: Store, run_id: str) -> list[AttestationRecord]:
    """The run's attestations, in the order of their keys."""
    return list(attestations_table(store).query(
        "PartitionKey eq @pk and RowKey gt @lo and RowKey lt @hi",
        pk=run_id, lo=ROW_PREFIX, hi=ROW_PREFIX + "~"))


def append_attestation_audit(services: Services, record: AttestationRecord,
                             account: dict[str, Any]) -> EvidenceRef:
    """The attestation as the audit chain's next entry, naming the run's manifest and holding
    what the reviewer saw of the account (its review entry)."""
    run = Tables.of(services.store).runs.get(record.run_id, "run")
    manifest = run.manifest if run else None
    chain = AuditChain(services.store, services.clock)
    name = attestation_name(record.run_id, record.key)

    def build(position: ChainFields) -> bytes:
        body = {"schema": SCHEMA, "attestation": replace(record, audit=None, status="recorded"),
                "account": account}
        return _encoder.encode({**msgspec.to_builtins(body),
                                **msgspec.to_builtins(replace(position, manifest=manifest))})

    try:
        return chain.append(name, build, entry="attestation", run_id=record.run_id).ref
    except EntryTaken:  # an earlier try wrote it and stopped before recording: adopt it
        return chain.sealed(name).ref
