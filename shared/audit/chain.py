"""The audit chain: every run manifest and remediation audit record, each carrying the SHA-256 of
the entry before it, so that altering, removing or slipping in any entry breaks a link.

Entries are write-once evidence blobs; Table `runs` keeps an index beside them in partition
"audit-chain": the head (RowKey "head": how many entries, the last one's name and hash) and one
row per entry (RowKey "entry-{sequence:010d}"), so a verifier finds the entry after a given one
without walking the chain. The blobs are the record; the rows only point at them.

Appending is serialised by a claim on the head, taken and released with optimistic concurrency
(ETag): the claimant reads the head, writes its entry naming the head as `previous`, adds the
entry row and moves the head on. Two runs finalizing at once therefore take turns instead of
both naming the same predecessor (a silent fork). A claim left by a worker that died is taken
over after `LEASE`: if its entry was written, it is sealed into the chain as written; if not,
the claim is dropped. A redelivered append of the same name at the same position reuses the
entry already written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

import msgspec
from msgspec.structs import replace

from shared.errors import ConcurrencyConflict, EvidenceError
from shared.logs import event
from shared.store import JSON, EntityTable, EvidenceRef, Store
from shared.store.evidence import sha256_hex
from shared.store.retry import storage_errors

CHAIN_PARTITION = "audit-chain"
LEASE = timedelta(minutes=5)  # longer than any finalize or remediation holds the claim
WAIT_S = 120.0  # how long an append waits for another one's claim before giving up (retried)


class ChainFields(msgspec.Struct, kw_only=True, rename="camel"):
    """What every chain entry carries about itself (other fields are the entry's own)."""

    sequence: int
    previous: str | None = None
    previous_name: str | None = None
    entry: str = "unknown"  # "run-manifest" or "remediation"
    run_id: str | None = None
    manifest: EvidenceRef | None = None  # a remediation: the manifest of the run it acted on


class ChainHead(msgspec.Struct, kw_only=True):
    sequence: int = 0  # entries sealed so far
    name: str | None = None
    sha256: str | None = None
    pending: str | None = None  # the entry a claimant is writing
    pending_since: datetime | None = None


class ChainLink(msgspec.Struct, kw_only=True, frozen=True):
    sequence: int
    name: str
    sha256: str
    size: int
    previous: str | None
    entry: str
    run_id: str | None = None

    @property
    def ref(self) -> EvidenceRef:
        return EvidenceRef(name=self.name, sha256=self.sha256, size=self.size)


class EntryTaken(EvidenceError):
    """The name already holds a blob that is not this append's entry."""


def entry_key(sequence: int) -> str:
    return f"entry-{sequence:010d}"


def entry_fields(data: bytes) -> ChainFields | None:
    """The chain fields of an entry's bytes, or None when they are not a chain entry."""
    try:
        return msgspec.json.decode(data, type=ChainFields)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def read_blob(store: Store, name: str) -> bytes | None:
    """An evidence blob's bytes as stored now (no hash check), or None when it is missing."""
    from azure.core.exceptions import ResourceNotFoundError

    blob = store.clients.container(store.names.evidence).get_blob_client(name)
    with storage_errors("reading evidence " + name):
        try:
            data: bytes = blob.download_blob().readall()
        except ResourceNotFoundError:
            return None
    return data


class AuditChain:
    """The chain of one store; `clock` dates claims."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock
        runs = store.names.runs
        self.heads: EntityTable[ChainHead] = store.table(
            runs, ChainHead, lambda _: (CHAIN_PARTITION, "head"))
        self.links: EntityTable[ChainLink] = store.table(
            runs, ChainLink, lambda link: (CHAIN_PARTITION, entry_key(link.sequence)))

    def head(self) -> ChainHead:
        return self.heads.get(CHAIN_PARTITION, "head") or ChainHead()

    def link(self, sequence: int) -> ChainLink | None:
        return self.links.get(CHAIN_PARTITION, entry_key(sequence))

    def links_after(self, sequence: int) -> list[ChainLink]:
        return list(self.links.query(
            "PartitionKey eq @pk and RowKey gt @lo and RowKey lt @hi",
            pk=CHAIN_PARTITION, lo=entry_key(sequence), hi="entry-~"))

    # --- appending ------------------------------------------------------------------------

    def append(self, name: str, build: Callable[[ChainFields], bytes], *, entry: str,
               run_id: str | None) -> ChainLink:
        """Write the entry `build(position)` under `name` as the chain's next entry.

        Raises EntryTaken (after releasing the claim) when `name` holds another blob.
        """
        head, etag = self._claim(name)
        position = ChainFields(sequence=head.sequence + 1, previous=head.sha256,
                               previous_name=head.name, entry=entry, run_id=run_id)
        try:
            ref = self._write(name, build(position), position)
        except EntryTaken:
            self._release(head, etag)
            raise
        link = ChainLink(sequence=position.sequence, name=name, sha256=ref.sha256,
                         size=ref.size, previous=head.sha256, entry=entry, run_id=run_id)
        self._seal(etag, link)
        event("audit.chained", entry=entry, sequence=link.sequence, blob=name)
        return link

    def _claim(self, name: str) -> tuple[ChainHead, str]:
        deadline = time.monotonic() + WAIT_S
        while True:
            current = self.heads.get_versioned(CHAIN_PARTITION, "head")
            head = current.record if current else ChainHead()
            if head.pending is not None and head.pending != name:
                if self._stale(head) and current is not None:
                    self._recover(head, current.etag)
                elif time.monotonic() > deadline:
                    raise ConcurrencyConflict(f"the audit chain stayed claimed by {head.pending}")
                else:
                    time.sleep(0.1)
                continue
            claimed = replace(head, pending=name, pending_since=self.clock())
            try:
                etag = (self.heads.update_if_match(claimed, current.etag) if current
                        else self.heads.create(claimed))
            except ConcurrencyConflict:
                continue
            if etag is not None:
                return head, etag

    def _stale(self, head: ChainHead) -> bool:
        return head.pending_since is None or self.clock() - head.pending_since >= LEASE

    def _release(self, head: ChainHead, etag: str) -> None:
        try:
            self.heads.update_if_match(replace(head, pending=None, pending_since=None), etag)
        except ConcurrencyConflict:
            pass  # taken over meanwhile: nothing of ours is left to release

    def _write(self, name: str, data: bytes, position: ChainFields) -> EvidenceRef:
        """Put the entry; an entry already there at the same position (a retry) is reused."""
        evidence = self.store.evidence
        try:
            return evidence.put_evidence(name, data, content_type=JSON)
        except EvidenceError:
            ref, existing = evidence.adopt(name)
        found = entry_fields(existing)
        if found is None or (found.sequence, found.previous) != (position.sequence,
                                                                 position.previous):
            raise EntryTaken(f"evidence {name} already holds another entry")
        return ref

    def _seal(self, etag: str, link: ChainLink) -> None:
        if self.links.create(link) is None:
            existing = self.link(link.sequence)
            if existing is None or existing.sha256 != link.sha256:
                raise EvidenceError(f"audit chain entry {link.sequence} is already {existing}")
        sealed = ChainHead(sequence=link.sequence, name=link.name, sha256=link.sha256)
        try:
            self.heads.update_if_match(sealed, etag)
        except ConcurrencyConflict:
            head = self.head()  # a retry of the same entry, or a take-over, may have sealed it
            if head.sequence < link.sequence:
                raise EvidenceError(f"audit chain entry {link.sequence} ({link.name}) was "
                                    f"written but the head moved to {head.name}") from None

    def _recover(self, head: ChainHead, etag: str) -> None:
        """Take over a dead claimant's claim: seal its entry if it was written, else drop it."""
        assert head.pending is not None
        data = read_blob(self.store, head.pending)
        found = entry_fields(data) if data is not None else None
        event("audit.claim_taken_over", pending=head.pending, written=data is not None)
        if data is None or found is None or (found.sequence, found.previous) != (
                head.sequence + 1, head.sha256):
            self._release(head, etag)
            return
        ref = EvidenceRef(name=head.pending, sha256=sha256_hex(data), size=len(data))
        link = ChainLink(sequence=found.sequence, name=ref.name, sha256=ref.sha256,
                         size=ref.size, previous=head.sha256, entry=found.entry,
                         run_id=found.run_id)
        try:
            self._seal(etag, link)
        except EvidenceError:
            pass  # someone else resolved it first; the loop re-reads the head

    def sealed(self, name: str) -> ChainLink:
        """The chain entry already written under `name`; EvidenceError if it is not chained."""
        data = read_blob(self.store, name)
        found = entry_fields(data) if data is not None else None
        link = self.link(found.sequence) if found is not None else None
        if data is None or link is None or link.name != name or link.sha256 != sha256_hex(data):
            raise EvidenceError(f"evidence {name} exists but is not an entry of the audit chain")
        return link
