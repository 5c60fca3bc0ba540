"""Typed tables against Azurite: round trips, big fields, escaped keys, optimistic concurrency."""

from __future__ import annotations

import gc
import threading
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from shared.errors import ConcurrencyConflict, StorageError
from shared.model import Finding
from shared.store import EntityTable, Store, decode_key, encode_key
from shared.store.tables import from_entity, to_entity


class Run(msgspec.Struct, rename="camel"):
    run_id: str
    status: str
    started: datetime
    slices: list[str]
    done: list[str] = msgspec.field(default_factory=list)
    rows: int = 0
    note: str | None = None


class Verdict(msgspec.Struct, rename="camel"):
    run_id: str
    user_id: str
    level: str
    findings: list[Finding]
    bundle: str = ""


START = datetime(2025, 3, 10, 6, 0, tzinfo=UTC)


def runs(store: Store) -> EntityTable[Run]:
    return store.table(store.names.runs, Run, keys=lambda r: (r.run_id, "run"))


def verdicts(store: Store) -> EntityTable[Verdict]:
    return store.table(store.names.verdicts, Verdict, keys=lambda v: (v.run_id, v.user_id))


def test_a_record_round_trips_with_types_intact(store: Store) -> None:
    table = runs(store)
    run = Run(run_id="r1", status="fetching", started=START, slices=["s0", "s1"], rows=2**40)
    table.upsert(run)
    assert table.get("r1", "run") == run
    raw = store.clients.table(store.names.runs).get_entity("r1", "run")
    assert raw["status"] == "fetching"  # scalars are their own properties
    assert raw["slices"] == '["s0","s1"]'  # lists are JSON text
    assert "note" not in raw  # None is omitted


class Profile(msgspec.Struct):
    user_id: str
    networks: dict[int, int]  # JSON object keys are strings: must come back as ints
    seen: datetime


def test_nested_fields_decode_with_json_rules(store: Store) -> None:
    table = store.table(store.names.baselines, Profile, keys=lambda p: ("b", p.user_id))
    profile = Profile(user_id="u1", networks={3320: 4, 16509: 1}, seen=START)
    table.upsert(profile)
    assert table.get("b", "u1") == profile


def test_get_is_none_when_missing(store: Store) -> None:
    assert runs(store).get("nope", "run") is None


def test_a_field_over_the_property_limit_is_chunked(store: Store) -> None:
    findings = [
        Finding(type="password_spray", severity="low", summary="x" * 900, sign_in_ids=[f"{i}"])
        for i in range(300)
    ]  # about 300 KB of JSON, well over 64 KiB
    verdict = Verdict(run_id="r1", user_id="u1", level="low", findings=findings,
                      bundle="é" * 40_000)  # non-ASCII: 80 KB in UTF-16
    table = verdicts(store)
    table.upsert(verdict)
    assert table.get("r1", "u1") == verdict


def test_an_entity_over_one_mebibyte_fails_clearly(store: Store) -> None:
    verdict = Verdict(run_id="r1", user_id="u2", level="low", findings=[], bundle="x" * 600_000)
    with pytest.raises(StorageError, match="1 MiB"):
        verdicts(store).upsert(verdict)


@pytest.mark.parametrize("user", [
    "o'brien@contoso.com", "john_contoso.com#EXT#@t.onmicrosoft.com", "a/b\\c?d", "100%", "tab\tx",
])
def test_keys_with_forbidden_characters_are_escaped_and_round_trip(store: Store, user: str) -> None:
    table = verdicts(store)
    verdict = Verdict(run_id="run/1", user_id=user, level="none", findings=[])
    table.upsert(verdict)
    assert table.get("run/1", user) == verdict
    assert table.query_partition("run/1") == [verdict]
    assert decode_key(encode_key(user)) == user
    assert not set(encode_key(user)) & set("/\\#?\t")


def test_query_partition_returns_only_that_run(store: Store) -> None:
    table = verdicts(store)
    for run_id, user in [("r1", "a"), ("r1", "b"), ("r2", "a")]:
        table.upsert(Verdict(run_id=run_id, user_id=user, level="none", findings=[]))
    assert [v.user_id for v in table.query_partition("r1")] == ["a", "b"]
    assert table.query_partition("x' or PartitionKey ne 'y") == []
    assert gc.isenabled()  # the collector, paused while a partition is read, runs again


def test_create_never_overwrites(store: Store) -> None:
    table = runs(store)
    first = Run(run_id="r1", status="planned", started=START, slices=["s0"])
    assert table.create(first) is not None
    assert table.create(Run(run_id="r1", status="other", started=START, slices=[])) is None
    assert table.get("r1", "run") == first


def test_update_if_match_detects_a_concurrent_write(store: Store) -> None:
    table = runs(store)
    table.upsert(Run(run_id="r1", status="fetching", started=START, slices=["s0", "s1"]))
    mine = table.get_versioned("r1", "run")
    theirs = table.get_versioned("r1", "run")
    assert mine is not None and theirs is not None
    table.update_if_match(msgspec.structs.replace(theirs.record, done=["s1"]), theirs.etag)
    with pytest.raises(ConcurrencyConflict):
        table.update_if_match(msgspec.structs.replace(mine.record, done=["s0"]), mine.etag)
    record = table.get("r1", "run")
    assert record is not None and record.done == ["s1"]


def test_modify_under_contention_loses_no_update_and_one_writer_sees_the_last(
    store: Store,
) -> None:
    slices = [f"s{i}" for i in range(8)]
    table = runs(store)
    table.upsert(Run(run_id="r1", status="fetching", started=START, slices=slices))
    finished_by: list[str] = []

    def mark_done(slice_id: str) -> None:
        def change(run: Run | None) -> Run:
            assert run is not None
            done = sorted(set(run.done) | {slice_id})
            status = "fetched" if set(done) == set(run.slices) else run.status
            return msgspec.structs.replace(run, done=done, status=status)

        result = runs(store).modify("r1", "run", change)
        was_done = result.before is not None and result.before.status == "fetched"
        if result.after.status == "fetched" and not was_done:
            finished_by.append(slice_id)

    threads = [threading.Thread(target=mark_done, args=(s,)) for s in slices]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    record = table.get("r1", "run")
    assert record is not None and record.done == slices and record.status == "fetched"
    assert len(finished_by) == 1  # exactly one slice fans in


def test_modify_does_not_write_an_unchanged_record(store: Store) -> None:
    table = runs(store)
    etag = table.upsert(Run(run_id="r1", status="done", started=START, slices=[]))
    assert table.modify("r1", "run", lambda r: r or Run("r1", "x", START, [])).etag == etag


def test_entity_conversion_is_its_own_inverse_without_storage() -> None:
    run = Run(run_id="r", status="s", started=START, slices=["a"], note="n", rows=-5)
    assert from_entity(to_entity(run, "r", "run"), Run) == run


def test_a_table_that_was_never_created_is_a_storage_error(store: Store) -> None:
    table = store.table("neverCreated" + store.names.prefix, Run, keys=lambda r: (r.run_id, "run"))
    with pytest.raises(StorageError, match=r"TableNotFound.*ensure_resources"):
        table.get("r1", "run")


# --- transactions ---------------------------------------------------------------------------
# Table transactions: at most 100 operations, one PartitionKey, 4 MiB of payload
# (https://learn.microsoft.com/rest/api/storageservices/performing-entity-group-transactions).


class Spied:
    """The table client's `submit_transaction`, recording each transaction's partitions and size,
    and failing the transactions whose (0-based) numbers are in `fail`, once each, as storage
    still busy after the SDK's retries does (a lost connection is retried: tables.py, `_post`)."""

    def __init__(self, table: EntityTable[Any], fail: set[int] | None = None) -> None:
        self.sizes: list[int] = []
        self.partitions: list[set[str]] = []
        self.fail = set(fail or ())
        self._submit = table._client.submit_transaction
        table._client.submit_transaction = self  # type: ignore[method-assign]

    def __call__(self, operations: list[Any], **kwargs: Any) -> Any:
        number = len(self.sizes)
        self.sizes.append(len(operations))
        self.partitions.append({op[1]["PartitionKey"] for op in operations})
        if number in self.fail:
            self.fail.discard(number)
            from azure.core.exceptions import HttpResponseError

            raise HttpResponseError("503 Server Busy, after the SDK's retries (injected)")
        return self._submit(operations, **kwargs)


def _verdicts(run_id: str, count: int, level: str = "none") -> list[Verdict]:
    return [Verdict(run_id=run_id, user_id=f"u{i:04d}", level=level, findings=[])
            for i in range(count)]


def test_many_records_go_in_transactions_of_at_most_100_of_one_partition(store: Store) -> None:
    table = verdicts(store)
    spied = Spied(table)
    table.create_many(_verdicts("r1", 250) + _verdicts("r2", 30))
    assert spied.sizes == [100, 100, 50, 30]
    assert all(len(p) == 1 for p in spied.partitions)
    assert len(table.query_partition("r1")) == 250 and len(table.query_partition("r2")) == 30
    spied.sizes.clear()
    table.upsert_many(_verdicts("r1", 250, level="low"))
    assert spied.sizes == [100, 100, 50]
    assert {v.level for v in table.query_partition("r1")} == {"low"}


def test_large_records_split_transactions_by_size(store: Store) -> None:
    table = verdicts(store)
    spied = Spied(table)
    big = [Verdict(run_id="r1", user_id=f"u{i:02d}", level="none", findings=[],
                   bundle="x" * 100_000) for i in range(40)]  # about 200 KB each in UTF-16
    table.upsert_many(big)
    assert len(spied.sizes) > 1 and sum(spied.sizes) == 40
    assert len(table.query_partition("r1")) == 40


def test_create_many_leaves_an_existing_record_and_creates_the_others(store: Store) -> None:
    table = verdicts(store)
    first = Verdict(run_id="r1", user_id="u0057", level="high", findings=[], bundle="first")
    table.create(first)
    table.create_many(_verdicts("r1", 150))  # its transaction is refused: one by one
    found = {v.user_id: v for v in table.query_partition("r1")}
    assert len(found) == 150
    assert found["u0057"] == first  # create-only: never overwritten


def test_a_transaction_failing_midway_is_retried_idempotently(store: Store) -> None:
    """The second of three transactions fails (the message is redelivered): the first stays
    written, and the redelivery creates the rest without touching what is there."""
    table = verdicts(store)
    spied = Spied(table, fail={1})
    records = _verdicts("r1", 250, level="medium")
    with pytest.raises(StorageError):
        table.create_many(records)
    assert len(table.query_partition("r1")) == 100
    table.create_many(records)  # the redelivery
    assert sorted(table.query_partition("r1"), key=lambda v: v.user_id) == records
    table.create_many(records)  # and once more: nothing changes, nothing fails
    assert len(table.query_partition("r1")) == 250
    spied.fail = {len(spied.sizes)}
    with pytest.raises(StorageError):
        table.upsert_many(_verdicts("r1", 250, level="low"))
    table.upsert_many(_verdicts("r1", 250, level="low"))
    assert {v.level for v in table.query_partition("r1")} == {"low"}


def test_row_keys_lists_one_partition_raw(store: Store) -> None:
    table = verdicts(store)
    users = ["o'brien@contoso.com", "guest_x#EXT#@contoso.onmicrosoft.com", "u/1"]
    table.upsert_many(Verdict(run_id=run, user_id=u, level="none", findings=[])
                      for run in ("r1", "r2") for u in users)
    table.upsert(Verdict(run_id="r2", user_id="only-r2", level="none", findings=[]))
    assert table.row_keys("r1") == set(users)
    assert table.row_keys("r2") == {*users, "only-r2"}
    assert table.row_keys("r3") == set()
