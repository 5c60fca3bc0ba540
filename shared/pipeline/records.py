"""What the pipeline keeps in Table storage and sends through its queues.

Tables (design notes, Storage): `runs` holds one `RunRecord` per run (RowKey "run") and one
`SliceRecord` per fetch slice (RowKey "slice-{id}"), both in the run's partition; `verdicts` one
`VerdictRecord` per (run, user); `remediations` one `RemediationRecord` per approval.
Messages carry ids only, never sign-in rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from shared.model import DataSource, Level, UserVerdict
from shared.sources import Gap
from shared.store import EvidenceRef, QueueMessage

RunKind = Literal["scheduled", "tenant", "privileged", "user"]
# "queued": a one-user review asked for over HTTP, waiting for its queue function.
RunStatus = Literal["queued", "fetching", "scoring", "finalizing", "complete", "partial", "failed"]
SliceStatus = Literal["pending", "done", "failed", "split"]


class RunRecord(msgspec.Struct, kw_only=True):
    run_id: str
    kind: RunKind
    window_start: datetime
    window_end: datetime
    status: RunStatus
    created_at: datetime
    api_version: str
    source: str = "graph"  # the sign-in source the run reads (shared/sources), fixed at start
    ticket_id: str | None = None
    requested_by: str | None = None
    user_id: str | None = None  # the one user of a "user" run
    slice_ids: list[str] = msgspec.field(default_factory=list)
    slices_done: list[str] = msgspec.field(default_factory=list)
    slices_failed: dict[str, str] = msgspec.field(default_factory=dict)
    scoring_planned: bool = False
    batch_ids: list[str] = msgspec.field(default_factory=list)
    batches_done: list[str] = msgspec.field(default_factory=list)
    batches_failed: dict[str, str] = msgspec.field(default_factory=dict)
    sources: list[DataSource] = msgspec.field(default_factory=list)
    sign_ins: int = 0
    users: int = 0
    verdicts: dict[str, int] = msgspec.field(default_factory=dict)  # level -> users
    context: EvidenceRef | None = None  # tenant signals, roles, risk data used for scoring
    audit_pages: list[EvidenceRef] = msgspec.field(default_factory=list)  # directoryAudits read
    reports: dict[str, EvidenceRef] = msgspec.field(default_factory=dict)  # html/csv/json
    manifest: EvidenceRef | None = None
    approval_requested: bool = False
    approval_error: str | None = None
    finished_at: datetime | None = None
    failure: str | None = None  # why a run ended "failed" (a one-user review that broke off)
    attempts: int = 0  # deliveries of a one-user review's queue message that started work
    last_error: str | None = None  # why the last of them failed (the platform retries it)
    # A run of many users whose fetch messages may not all be sent yet: set when its record is
    # written, cleared once they are (the stranded-run timer sends them if its creator died).
    starting: bool = False

    @property
    def slices_settled(self) -> bool:
        # only the run's slices count: a split slice, gone from the list, settles nothing
        settled = (set(self.slices_done) | set(self.slices_failed)) & set(self.slice_ids)
        return len(settled) >= len(self.slice_ids)

    @property
    def batches_settled(self) -> bool:
        return len(set(self.batches_done) | set(self.batches_failed)) >= len(self.batch_ids)


def run_keys(run: RunRecord) -> tuple[str, str]:
    return run.run_id, "run"


class SliceRecord(msgspec.Struct, kw_only=True):
    run_id: str
    slice_id: str
    start: datetime
    end: datetime
    status: SliceStatus = "pending"
    pages: list[EvidenceRef] = msgspec.field(default_factory=list)
    next_link: str | None = None  # the source's cursor: where a retried fetch resumes
    origins: list[str] = msgspec.field(default_factory=list)  # per page: where it was read
    gaps: list[Gap] = msgspec.field(default_factory=list)  # what the source could not read
    rows: int = 0
    attempts: int = 0
    last_error: str | None = None
    split_into: list[str] = msgspec.field(default_factory=list)  # halves fetched instead


def slice_keys(record: SliceRecord) -> tuple[str, str]:
    return record.run_id, f"slice-{record.slice_id}"


class VerdictRecord(msgspec.Struct, kw_only=True):
    run_id: str
    user_id: str
    user_principal_name: str | None
    verdict: Level
    privileged: bool
    got_in: bool
    finding_types: list[str]
    proposed_actions: list[str]
    detail: UserVerdict  # findings, reasons, stats: the `analyze` user entry
    evidence: EvidenceRef  # the per-user bundle (timeline, findings, reasons, page hashes)
    pages: list[EvidenceRef]  # the raw Graph pages the user's sign-ins came from
    scored_at: datetime


def verdict_keys(record: VerdictRecord) -> tuple[str, str]:
    return record.run_id, record.user_id


RemediationAction = Literal[
    "revokeSessions", "disableAccount", "forcePasswordReset", "confirmCompromised",
    # containment: what the attacker left (shared/remediation_objects.py)
    "removeMethods", "disableInboxRules", "revokeGrants",
]


class ActionResult(msgspec.Struct, rename="camel", frozen=True):
    action: RemediationAction
    outcome: Literal["done", "failed", "not-permitted", "refused", "needs-role", "on-premises"]
    status: int = 0
    graph_code: str | None = None
    message: str = ""


class RemediationRecord(msgspec.Struct, kw_only=True, rename="camel"):
    approval_id: str
    run_id: str
    user_id: str
    actions: list[RemediationAction]
    approver: str
    comment: str = ""
    caller: str | None = None  # object id of the authenticated caller (the Logic App)
    requested_at: datetime
    # "started": claimed by one worker before any Graph call (create-only), so a concurrent
    # duplicate cannot run the actions twice; `updated_at` shows whether that worker is alive.
    status: Literal["started", "done", "partial", "failed", "refused"]
    results: list[ActionResult] = msgspec.field(default_factory=list)
    evidence_checked: list[EvidenceRef] = msgspec.field(default_factory=list)
    audit: EvidenceRef | None = None  # the WORM record of this remediation
    verdict: Level | None = None  # the verdict level a person approved acting on
    updated_at: datetime | None = None


def remediation_keys(record: RemediationRecord) -> tuple[str, str]:
    return "approval", record.approval_id


class FetchSlice(QueueMessage, frozen=True, kw_only=True):
    run_id: str
    slice_id: str


class RunReady(QueueMessage, frozen=True, kw_only=True):
    run_id: str


class ScoreUsers(QueueMessage, frozen=True, kw_only=True):
    run_id: str
    batch_id: str
    user_ids: list[str]


class ReviewUser(QueueMessage, frozen=True, kw_only=True):
    """A one-user review to run; the run record (status `queued`) holds what to review."""

    run_id: str
