"""Slice shards against Azurite: rows grouped by user, read back by ranged downloads only."""

from __future__ import annotations

from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from shared.errors import InputError, StorageError
from shared.store import ShardStore, Store


def row(user: str, n: int, pad: int = 0) -> bytes:
    return f'{{"id":"{user}-{n}","userId":"{user}","pad":"{"x" * pad}"}}'.encode()


class RangeLog:
    """Records the byte ranges the blob client asked for (from the real HTTP requests)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None, int]] = []

    def __call__(self, response: Any) -> None:
        request = response.http_request
        if request.method == "GET" and request.url.split("?")[0].endswith(".jsonl"):
            self.requests.append((
                request.url.split("?")[0].rsplit("/", 1)[-1],
                request.headers.get("x-ms-range"),
                len(response.http_response.body()),
            ))


def spied_shards(store: Store, conn: str) -> tuple[ShardStore, RangeLog]:
    log = RangeLog()
    container = ContainerClient.from_connection_string(
        conn, store.names.work, raw_response_hook=log
    )
    return ShardStore(container), log


def test_rows_come_back_per_user_across_slices(store: Store) -> None:
    ann = [row("ann", 1), row("ann", 2)]
    store.shards.put_shard("r1", "s0", {"bob": [row("bob", 1)], "ann": ann})
    store.shards.put_shard("r1", "s1", {"ann": [row("ann", 3)], "cy": [row("cy", 1)]})
    store.shards.put_shard("r2", "s0", {"ann": [row("ann", 99)]})  # another run
    assert store.shards.read_user_rows("r1", "ann") == [row("ann", 1), row("ann", 2), row("ann", 3)]
    assert store.shards.read_user_rows("r1", "bob") == [row("bob", 1)]
    assert store.shards.read_user_rows("r1", "nobody") == []
    assert store.shards.reader("r1").users() == {"ann": 3, "bob": 1, "cy": 1}


def test_one_user_is_read_with_ranged_gets_of_that_user_only(
    store: Store, storage_connection_string: str
) -> None:
    big = {f"u{i:03}": [row(f"u{i:03}", n, pad=2000) for n in range(50)] for i in range(20)}
    store.shards.put_shard("r1", "s0", big)
    store.shards.put_shard("r1", "s1", big)
    shards, log = spied_shards(store, storage_connection_string)
    rows = shards.read_user_rows("r1", "u007")
    assert rows == big["u007"] * 2
    wanted = sum(len(r) + 1 for r in big["u007"])
    assert len(log.requests) == 2
    assert all(rng is not None and got == wanted for _, rng, got in log.requests)


def test_a_batch_of_neighbouring_users_costs_one_read_per_shard(
    store: Store, storage_connection_string: str
) -> None:
    users = {f"u{i:04}": [row(f"u{i:04}", n, pad=300) for n in range(5)] for i in range(1000)}
    for slice_id in ("s0", "s1", "s2"):
        store.shards.put_shard("r1", slice_id, users)
    shards, log = spied_shards(store, storage_connection_string)
    batch = sorted(users)[200:400]
    found = shards.reader("r1").rows_for_users(batch)
    assert found == {u: users[u] * 3 for u in batch}
    assert len(log.requests) == 3


def test_redoing_a_slice_replaces_its_shard(store: Store) -> None:
    store.shards.put_shard("r1", "s0", {"ann": [row("ann", 1)]})
    store.shards.put_shard("r1", "s0", {"ann": [row("ann", 1), row("ann", 2)]})
    assert store.shards.read_user_rows("r1", "ann") == [row("ann", 1), row("ann", 2)]


def test_a_shard_changed_after_indexing_is_not_read_silently(store: Store) -> None:
    index = store.shards.put_shard("r1", "s0", {"ann": [row("ann", 1)]})
    container = store.clients.container(store.names.work)
    container.get_blob_client(index.shard).upload_blob(b"garbage\n", overwrite=True)
    with pytest.raises(StorageError, match="changed after it was indexed"):
        store.shards.read_user_rows("r1", "ann")


def test_a_row_with_a_newline_is_refused(store: Store) -> None:
    with pytest.raises(InputError, match="newline"):
        store.shards.put_shard("r1", "s0", {"ann": [b'{"a":\n1}']})


def test_an_empty_slice_has_an_index_and_no_rows(store: Store) -> None:
    index = store.shards.put_shard("r1", "s0", {})
    assert index.size == 0 and index.rows == 0
    assert store.shards.reader("r1").users() == {}


def test_a_shard_bigger_than_one_block_is_staged_and_read_back(store: Store) -> None:
    users = {f"u{i:02}": [row(f"u{i:02}", n, pad=4000) for n in range(100)] for i in range(45)}
    index = store.shards.put_shard("r1", "s0", users)  # about 18 MB: three blocks
    assert index.size > 2 * 8 * 1024 * 1024
    blob = store.clients.container(store.names.work).get_blob_client(index.shard)
    assert len(blob.get_block_list("committed")[0]) == 3
    reader = store.shards.reader("r1")
    assert reader.rows_for_users(["u00", "u22", "u44"]) == {
        u: users[u] for u in ("u00", "u22", "u44")}


class IndexLog:
    """The index blobs (slice or batch) the blob client downloaded."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, response: Any) -> None:
        request = response.http_request
        path = request.url.split("?")[0]
        if request.method == "GET" and path.endswith(".index.json"):
            self.names.append(path.split("/runs/", 1)[1])


def test_a_planned_batch_loads_only_its_own_index(
    store: Store, storage_connection_string: str
) -> None:
    users = [f"u{i:03}" for i in range(30)]
    for k, slice_id in enumerate(("s0", "s1", "s2")):  # each user in two slices of three
        store.shards.put_shard("r1", slice_id, {u: [row(u, n) for n in range(3)]
                                                for i, u in enumerate(users) if (i + k) % 3})
    batches = {"b00000": users[:10], "b00001": users[10:20], "b00002": users[20:]}
    store.shards.put_batch_indexes("r1", batches, store.shards.reader("r1").indexes())
    log = IndexLog()
    container = ContainerClient.from_connection_string(
        storage_connection_string, store.names.work, raw_response_hook=log)
    shards = ShardStore(container)
    for batch_id, group in batches.items():
        log.names.clear()
        reader = shards.batch_reader("r1", batch_id, group)
        assert reader.rows_for_users(group) == store.shards.reader("r1").rows_for_users(group)
        assert [i.slice_id for i in reader.indexes()] == ["s0", "s1", "s2"]
        assert {u for i in reader.indexes() for u in i.users} <= set(group)
        assert log.names == [f"r1/batches/{batch_id}.index.json"]  # once, and nothing else
    # a batch the index does not cover (or a run planned without them) reads every slice's
    log.names.clear()
    assert shards.batch_reader("r1", "b00000", users[:11]).rows_for_users(users[:11]) == \
        store.shards.reader("r1").rows_for_users(users[:11])
    assert sorted(log.names)[1:] == ["r1/shards/s0.index.json", "r1/shards/s1.index.json",
                                     "r1/shards/s2.index.json"]
    log.names.clear()
    assert shards.batch_reader("r1", "b00009", users[:2]).rows_for_users(users[:2]) == \
        store.shards.reader("r1").rows_for_users(users[:2])
    assert sorted(log.names) == ["r1/batches/b00009.index.json", "r1/shards/s0.index.json",
                                 "r1/shards/s1.index.json", "r1/shards/s2.index.json"]
    # a batch index that does not read as one is not trusted: every slice's, as without it
    container.upload_blob("runs/r1/batches/b00001.index.json", b'{"v": 1, "users": 7}',
                          overwrite=True)
    assert shards.batch_reader("r1", "b00001", users[10:20]).rows_for_users(users[10:20]) == \
        store.shards.reader("r1").rows_for_users(users[10:20])
