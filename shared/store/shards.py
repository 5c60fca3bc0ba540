"""Slice shards: one slice's sign-in rows grouped by user, readable one user (or batch) at a time.

A fetched slice is written to the "work" container (scratch, not evidence: overwritten when a
slice is redone) as two blobs:

    runs/{runId}/shards/{sliceId}.jsonl        rows as JSON lines, grouped by user, users sorted
    runs/{runId}/shards/{sliceId}.index.json   user -> (offset, length, rows), and the shard's ETag

The index is written last, so a slice without an index has no shard yet. Readers fetch only the
byte ranges of the users they score (HTTP range GETs, conditional on the indexed ETag), and merge
neighbouring ranges: scoring batches of users taken in sorted order read one range per shard.
Sized for a window of 1M rows and 5000 users: a shard is staged in 8 MiB blocks, an index of 5000
users is about 300 KB.

Planning also writes each scoring batch's part of the indexes (its users' ranges in every slice)
as one small blob, `runs/{runId}/batches/{batchId}.index.json`: a batch loads that instead of
every slice's whole index, which grows with the tenant (every batch loading them all made the
reads grow with the square of the users: 45,000 users are 225 batches each loading three indexes
of 45,000 users).
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import msgspec

from shared.errors import InputError, StorageError
from shared.store.names import checked_id
from shared.store.retry import storage_errors

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient, ContainerClient

INDEX_VERSION = 1
MERGE_GAP_BYTES = 256 * 1024  # read across a gap this small rather than issue another request
BLOCK_BYTES = 8 * 1024 * 1024  # a shard is staged in blocks of about this size
_INDEX_SUFFIX = ".index.json"
BATCH_INDEX_WRITERS = 8  # batch indexes written at once at planning


class UserRange(msgspec.Struct, frozen=True, array_like=True):
    offset: int
    length: int
    rows: int


class ShardIndex(msgspec.Struct, frozen=True):
    v: int
    run_id: str
    slice_id: str
    shard: str  # blob name of the JSON-lines shard
    etag: str  # the shard's ETag when it was indexed: ranges are read only from that version
    size: int
    users: dict[str, UserRange]

    @property
    def rows(self) -> int:
        return sum(r.rows for r in self.users.values())


SLICE_SHARDS = "shards"  # the fetched slices' shards; other kinds hold other rows of the run


class BatchIndex(msgspec.Struct, frozen=True):
    """One scoring batch's part of a run's slice indexes (only its users' ranges)."""

    v: int
    run_id: str
    batch_id: str
    users: list[str]
    indexes: list[ShardIndex]


def batch_index_name(run_id: str, batch_id: str) -> str:
    return (f"runs/{checked_id('run id', run_id)}/batches/"
            f"{checked_id('batch id', batch_id)}{_INDEX_SUFFIX}")


def shard_prefix(run_id: str, kind: str = SLICE_SHARDS) -> str:
    folder = "/".join(checked_id("shard kind", part) for part in kind.split("/"))
    return f"runs/{checked_id('run id', run_id)}/{folder}/"


def _layout(rows_by_user: Mapping[str, list[bytes]]) -> dict[str, UserRange]:
    """Byte ranges of each user's rows, users in sorted order, each row ending in a newline."""
    ranges: dict[str, UserRange] = {}
    offset = 0
    for user in sorted(rows_by_user):
        rows = rows_by_user[user]
        if not user or not rows:
            continue
        for row in rows:
            if b"\n" in row:
                raise InputError(f"a row of user {user} contains a newline: not one JSON line")
        length = sum(len(row) for row in rows) + len(rows)
        ranges[user] = UserRange(offset=offset, length=length, rows=len(rows))
        offset += length
    return ranges


def _blocks(rows_by_user: Mapping[str, list[bytes]], users: Sequence[str]) -> Iterator[bytes]:
    """The shard's bytes in blocks of at least BLOCK_BYTES (the last may be smaller)."""
    block = bytearray()
    for user in users:
        for row in rows_by_user[user]:
            block += row
            block += b"\n"
        if len(block) >= BLOCK_BYTES:
            yield bytes(block)
            block.clear()
    if block or not users:
        yield bytes(block)


def _upload_blocks(blob: BlobClient, blocks: Iterator[bytes]) -> str:
    """Write (or replace) a blob from blocks, one request each (each retried on its own);
    memory holds one block at a time. Returns the committed blob's ETag."""
    from azure.storage.blob import BlobBlock

    first = next(blocks)
    second = next(blocks, None)
    if second is None:  # small shard: one request
        return str(blob.upload_blob(first, overwrite=True)["etag"])
    ids = []
    for n, block in enumerate(itertools.chain((first, second), blocks)):
        block_id = base64.b64encode(f"block-{n:06}".encode()).decode()
        blob.stage_block(block_id, block)
        ids.append(BlobBlock(block_id=block_id))
    return str(blob.commit_block_list(ids)["etag"])


def _merged(
    ranges: list[tuple[UserRange, str]],
) -> Iterator[tuple[int, int, list[tuple[UserRange, str]]]]:
    """Group (range, user) pairs by offset into spans whose gaps are at most MERGE_GAP_BYTES."""
    group: list[tuple[UserRange, str]] = []
    start = end = 0
    for item in sorted(ranges, key=lambda pair: pair[0].offset):
        rng = item[0]
        if group and rng.offset - end > MERGE_GAP_BYTES:
            yield start, end - start, group
            group = []
        if not group:
            start = end = rng.offset
        group.append(item)
        end = max(end, rng.offset + rng.length)
    if group:
        yield start, end - start, group


class ShardReader:
    """Reads users' rows across every slice shard of one run. Loads each index once."""

    def __init__(self, container: ContainerClient, run_id: str, kind: str = SLICE_SHARDS,
                 indexes: list[ShardIndex] | None = None) -> None:
        self._container = container
        self.run_id = run_id
        self.kind = kind
        self._indexes: list[ShardIndex] | None = indexes

    def indexes(self) -> list[ShardIndex]:
        """Every slice's index, in slice id order."""
        if self._indexes is None:
            prefix = shard_prefix(self.run_id, self.kind)
            found = []
            with storage_errors("reading shard indexes of run " + self.run_id, run_id=self.run_id):
                for item in self._container.list_blobs(name_starts_with=prefix):
                    if item.name.endswith(_INDEX_SUFFIX):
                        data = self._container.get_blob_client(item.name).download_blob().readall()
                        found.append(msgspec.json.decode(data, type=ShardIndex))
            self._indexes = sorted(found, key=lambda index: index.slice_id)
        return self._indexes

    def users(self) -> dict[str, int]:
        """Every user with rows in this run, sorted, with their row count across slices."""
        counts: dict[str, int] = {}
        for index in self.indexes():
            for user, rng in index.users.items():
                counts[user] = counts.get(user, 0) + rng.rows
        return dict(sorted(counts.items()))

    def rows_for_users(self, user_ids: Iterable[str]) -> dict[str, list[bytes]]:
        """Each wanted user's rows (slice order, then as written); users without rows get []."""
        wanted = list(dict.fromkeys(user_ids))
        found: dict[str, list[bytes]] = {user: [] for user in wanted}
        for index in self.indexes():
            ranges = [(index.users[u], u) for u in wanted if u in index.users]
            for offset, length, group in _merged(ranges):
                span = self._read_range(index, offset, length)
                for rng, user in group:
                    part = span[rng.offset - offset : rng.offset - offset + rng.length]
                    found[user].extend(part.split(b"\n")[:-1])
        return found

    def _read_range(self, index: ShardIndex, offset: int, length: int) -> bytes:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError

        with storage_errors("reading shard " + index.shard, run_id=self.run_id):
            try:
                data: bytes = self._container.get_blob_client(index.shard).download_blob(
                    offset=offset, length=length, etag=index.etag,
                    match_condition=MatchConditions.IfNotModified,
                ).readall()
            except ResourceModifiedError:
                raise StorageError(
                    f"shard {index.shard} changed after it was indexed (slice redone while "
                    f"being read); read again", run_id=self.run_id,
                ) from None
        return data


class ShardStore:
    """The "work" container's slice shards: written by fetch, read by scoring."""

    def __init__(self, container: ContainerClient) -> None:
        self._container = container

    def put_shard(
        self, run_id: str, slice_id: str, rows_by_user: Mapping[str, list[bytes]],
        kind: str = SLICE_SHARDS,
    ) -> ShardIndex:
        """Write one slice's rows grouped by user, then its index. Redoing a slice replaces both.
        `kind`: the folder of the run's shards (other rows than the fetched slices')."""
        prefix = shard_prefix(run_id, kind) + checked_id("slice id", slice_id)
        ranges = _layout(rows_by_user)
        size = sum(r.length for r in ranges.values())
        with storage_errors("writing shard " + prefix, run_id=run_id):
            shard = self._container.get_blob_client(prefix + ".jsonl")
            etag = _upload_blocks(shard, _blocks(rows_by_user, list(ranges)))
            index = ShardIndex(
                v=INDEX_VERSION, run_id=run_id, slice_id=slice_id, shard=prefix + ".jsonl",
                etag=etag, size=size, users=ranges,
            )
            self._container.get_blob_client(prefix + _INDEX_SUFFIX).upload_blob(
                msgspec.json.encode(index), overwrite=True
            )
        return index

    def reader(self, run_id: str, kind: str = SLICE_SHARDS) -> ShardReader:
        """A reader for scoring batches: loads the run's indexes once, then ranged reads."""
        return ShardReader(self._container, run_id, kind)

    def put_batch_indexes(self, run_id: str, batches: Mapping[str, Sequence[str]],
                          indexes: Sequence[ShardIndex]) -> None:
        """Each batch's users' ranges in every slice index, one blob a batch (written again,
        the same, by a retried planning)."""
        def put(batch: tuple[str, Sequence[str]]) -> None:
            batch_id, users = batch
            part = BatchIndex(v=INDEX_VERSION, run_id=run_id, batch_id=batch_id,
                              users=list(users), indexes=[
                msgspec.structs.replace(index, users={u: index.users[u] for u in users
                                                      if u in index.users})
                for index in indexes])
            with storage_errors("writing the index of batch " + batch_id, run_id=run_id):
                self._container.get_blob_client(batch_index_name(run_id, batch_id)).upload_blob(
                    msgspec.json.encode(part), overwrite=True)

        with ThreadPoolExecutor(max_workers=BATCH_INDEX_WRITERS) as pool:
            list(pool.map(put, batches.items()))

    def batch_reader(self, run_id: str, batch_id: str, user_ids: Iterable[str]) -> ShardReader:
        """A reader for one planned batch: its own index when planning wrote one covering
        `user_ids`, else (a run planned without them, or a batch index that does not read as
        one) every slice's."""
        from azure.core.exceptions import ResourceNotFoundError

        blob = self._container.get_blob_client(batch_index_name(run_id, batch_id))
        with storage_errors("reading the index of batch " + batch_id, run_id=run_id):
            try:
                data = blob.download_blob().readall()
            except ResourceNotFoundError:
                return self.reader(run_id)
        try:
            part = msgspec.json.decode(data, type=BatchIndex)
        except msgspec.DecodeError:
            return self.reader(run_id)
        if part.run_id != run_id or not set(user_ids) <= set(part.users):
            return self.reader(run_id)
        return ShardReader(self._container, run_id, indexes=part.indexes)

    def read_user_rows(self, run_id: str, user_id: str) -> list[bytes]:
        """One user's rows across all slice shards of a run (ranged reads of that user only)."""
        return self.reader(run_id).rows_for_users([user_id])[user_id]
