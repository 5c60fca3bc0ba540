"""Storage: Table entities, write-once evidence blobs, slice shards, and queue messages.

`Store` is the one object the pipeline holds. Everything below it takes plain names and records,
so steps can be tested against Azurite:

    store = Store(settings)                      # or Store(settings, prefix="t1") in tests
    store.ensure_resources()                     # local runner and tests; Bicep does it in Azure
    ref = store.evidence.put_evidence(page_name(run, slice, 0), page, content_type=JSON)
    store.shards.put_shard(run, slice, rows_by_user)
    runs = store.table(store.names.runs, Run, keys=lambda r: (r.run_id, ""))
    store.queues.send(store.names.run_ready, RunReady(run_id=run))

The azure SDKs load on first use, not on import.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TypeVar

import msgspec

from shared.config import Settings
from shared.store.clients import StorageClients, ensure_resources
from shared.store.evidence import (
    EvidenceCheck,
    EvidenceRef,
    EvidenceStore,
    bundles_name,
    manifest_name,
    page_name,
    remediation_name,
    user_bundle_name,
)
from shared.store.leases import Lease, try_lease
from shared.store.names import ResourceNames, poison
from shared.store.queues import (
    QueueMessage,
    QueueStore,
    ReceivedMessage,
    decode_message,
    decode_queue_text,
    encode_message,
)
from shared.store.retry import DEFAULT_RETRY, RetrySchedule
from shared.store.shards import ShardIndex, ShardReader, ShardStore
from shared.store.tables import EntityTable, Modified, Versioned, decode_key, encode_key

T = TypeVar("T", bound=msgspec.Struct)

JSON = "application/json"

__all__ = [
    "DEFAULT_RETRY",
    "JSON",
    "EntityTable",
    "EvidenceCheck",
    "EvidenceRef",
    "EvidenceStore",
    "Lease",
    "Modified",
    "QueueMessage",
    "QueueStore",
    "ReceivedMessage",
    "ResourceNames",
    "RetrySchedule",
    "ShardIndex",
    "ShardReader",
    "ShardStore",
    "StorageClients",
    "Store",
    "Versioned",
    "bundles_name",
    "decode_key",
    "decode_message",
    "decode_queue_text",
    "encode_key",
    "encode_message",
    "ensure_resources",
    "manifest_name",
    "page_name",
    "poison",
    "remediation_name",
    "try_lease",
    "user_bundle_name",
]


class Store:
    """Evidence, shards, tables and queues of one storage account (optionally name-prefixed)."""

    def __init__(
        self, settings: Settings, *, prefix: str = "", retry: RetrySchedule = DEFAULT_RETRY
    ) -> None:
        self.clients = StorageClients(settings, prefix=prefix, retry=retry)
        self.names: ResourceNames = self.clients.names

    @cached_property
    def evidence(self) -> EvidenceStore:
        return EvidenceStore(self.clients.container(self.names.evidence))

    @cached_property
    def shards(self) -> ShardStore:
        return ShardStore(self.clients.container(self.names.work))

    def try_lease(self, name: str) -> Lease | None:
        """A lease on `locks/{name}` in the work container, or None while another holds it."""
        return try_lease(self.clients.container(self.names.work), f"locks/{name}")

    @cached_property
    def queues(self) -> QueueStore:
        return QueueStore(self.clients)

    def table(
        self, name: str, record_type: type[T], keys: Callable[[T], tuple[str, str]]
    ) -> EntityTable[T]:
        """A typed view of one table (`name` from `self.names`, e.g. `self.names.verdicts`)."""
        return EntityTable(self.clients.table(name), record_type, keys, self.clients.retry)

    def ensure_resources(self) -> None:
        self.clients.ensure_resources()

    def close(self) -> None:
        self.clients.close()
