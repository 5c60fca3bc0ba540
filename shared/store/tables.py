"""Typed tables: an entity is a msgspec Struct, keyed by a function of the record.

Scalar fields (text, numbers, booleans, times, literals) become entity properties of their own, so
they show in Storage Explorer and can be filtered on; lists, maps and nested records become JSON
strings. A string over Table's 64 KiB property limit is split into numbered chunk properties; an
entity over the 1 MiB entity limit is refused with a StorageError that says so (put it in a blob).
None values are omitted (Table has no null) and read back as None.

Keys are escaped, not refused: Table forbids / \\ # ? and control characters in keys, and user
ids (a guest's UPN has #EXT#) can hold them. `%` and those characters become %XX.

Optimistic concurrency: `get_versioned` returns the record with its ETag; `update_if_match`
raises ConcurrencyConflict when someone else wrote first; `modify` does the read-change-write
loop (the pipeline marks slices done this way and learns which write finished the run). A
conditional write or create whose answer was lost is judged by the record read back: holding
exactly what was written, it went through (`_ours_after_lost_answer`).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec
import msgspec.inspect as mi

from shared.bulk import paused_gc
from shared.errors import ConcurrencyConflict, InputError, StorageError
from shared.store.retry import DEFAULT_RETRY, RetrySchedule, storage_errors

if TYPE_CHECKING:
    from azure.data.tables import TableClient

T = TypeVar("T", bound=msgspec.Struct)
R = TypeVar("R")
_pause = time.sleep  # between tries of a POST (tests open a closed port here)

MAX_PROPERTY_BYTES = 64_000  # Table: 64 KiB per string property (UTF-16)
MAX_ENTITY_BYTES = 1_000_000  # Table: 1 MiB per entity, keys and names included; kept under
MAX_KEY_BYTES = 1024  # Table: 1 KiB per key (UTF-16)
CHUNKS = "__chunks"
_SYSTEM = frozenset({"PartitionKey", "RowKey", "Timestamp", "etag"})
_INT32 = range(-(2**31), 2**31)
_FORBIDDEN_IN_KEY = re.compile(r"[%/\\#?\x00-\x1f\x7f-\x9f]")
_ESCAPE = re.compile(r"%([0-9A-F]{2})")
_SCALARS = (mi.StrType, mi.IntType, mi.FloatType, mi.BoolType, mi.DateTimeType, mi.DateType,
            mi.LiteralType, mi.EnumType, mi.UUIDType, mi.DecimalType)


def encode_key(raw: str) -> str:
    """A PartitionKey or RowKey: forbidden characters and '%' become %XX; reversible."""
    key = _FORBIDDEN_IN_KEY.sub(lambda m: f"%{ord(m.group()):02X}", raw)
    if len(key.encode("utf-16-le")) > MAX_KEY_BYTES:
        raise InputError(f"table key {raw[:40]!r}... is over Table's 1 KiB key limit")
    return key


def decode_key(key: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), key)


@lru_cache(maxsize=256)
def _fields(record_type: type[msgspec.Struct]) -> tuple[tuple[str, bool, bool], ...]:
    """(property name, stored as JSON?, nullable?) for each field of a record type."""
    info = mi.type_info(record_type)
    if not isinstance(info, mi.StructType):
        raise TypeError(f"{record_type!r} is not a msgspec Struct")
    plan = []
    for field in info.fields:
        kinds = field.type.types if isinstance(field.type, mi.UnionType) else (field.type,)
        nullable = any(isinstance(k, mi.NoneType) for k in kinds)
        rest = [k for k in kinds if not isinstance(k, mi.NoneType)]
        as_json = not (len(rest) == 1 and isinstance(rest[0], _SCALARS))
        if field.encode_name in _SYSTEM or "__" in field.encode_name:
            raise TypeError(f"field name {field.encode_name!r} is reserved in table entities")
        plan.append((field.encode_name, as_json, nullable))
    return tuple(plan)


def _chunks(text: str) -> list[str]:
    if len(text) * 4 <= MAX_PROPERTY_BYTES or len(text.encode("utf-16-le")) <= MAX_PROPERTY_BYTES:
        return [text]
    step = MAX_PROPERTY_BYTES // 2 if text.isascii() else MAX_PROPERTY_BYTES // 4
    return [text[i : i + step] for i in range(0, len(text), step)]


def _size(name: str, value: Any) -> int:
    body = len(value.encode("utf-16-le")) if isinstance(value, str) else 8
    return 8 + 2 * len(name) + body


def to_entity(record: msgspec.Struct, partition_key: str, row_key: str) -> dict[str, Any]:
    """The Table entity for a record (keys escaped, big strings chunked)."""
    from azure.data.tables import EdmType, EntityProperty

    values = msgspec.to_builtins(record)
    entity: dict[str, Any] = {"PartitionKey": encode_key(partition_key),
                              "RowKey": encode_key(row_key)}
    for name, as_json, _ in _fields(type(record)):
        value = values.get(name)
        if value is None:
            continue
        if as_json:
            value = msgspec.json.encode(value).decode()
        if isinstance(value, str):
            parts = _chunks(value)
            entity[name] = parts[0]
            if len(parts) > 1:
                entity.update({f"{name}__{i}": part for i, part in enumerate(parts[1:], 1)})
                entity[name + CHUNKS] = len(parts)
        elif isinstance(value, int) and not isinstance(value, bool) and value not in _INT32:
            entity[name] = EntityProperty(value, EdmType.INT64)
        else:
            entity[name] = value
    size = sum(_size(k, v) for k, v in entity.items())
    if size > MAX_ENTITY_BYTES or len(entity) > 252:
        raise StorageError(
            f"{type(record).__name__} {partition_key}/{row_key} is about {size} bytes in "
            f"{len(entity)} properties, over Table's 1 MiB / 252-property entity limit: keep "
            f"big data in a blob and store its reference"
        )
    return entity


def from_entity(entity: Mapping[str, Any], record_type: type[T]) -> T:
    """The record a Table entity holds (the inverse of `to_entity`)."""
    values: dict[str, Any] = {}
    for name, as_json, nullable in _fields(record_type):
        value = getattr(entity.get(name), "value", entity.get(name))  # unwrap EntityProperty
        if value is None:
            if nullable:
                values[name] = None
            continue
        if name + CHUNKS in entity:
            count = int(entity[name + CHUNKS])
            value = value + "".join(str(entity[f"{name}__{i}"]) for i in range(1, count))
        values[name] = msgspec.Raw(value.encode()) if as_json else value
    try:
        # One typed JSON decode, so nested fields get JSON's rules (e.g. dict[int, ...] keys).
        return msgspec.json.decode(msgspec.json.encode(values), type=record_type)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        keys = f"{entity.get('PartitionKey')}/{entity.get('RowKey')}"
        raise StorageError(f"entity {keys} is not a valid {record_type.__name__}: {exc}") from exc


MAX_TRANSACTION_RECORDS = 100  # Table: at most 100 operations in one transaction
MAX_TRANSACTION_BYTES = 3_000_000  # and 4 MiB of payload; kept under


def _transactions(records: Iterable[T], keys: Callable[[T], tuple[str, str]]
                  ) -> Iterator[list[dict[str, Any]]]:
    """Entities grouped for transactions: one partition each, bounded in count and size."""
    by_partition: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        pk, rk = keys(record)
        by_partition.setdefault(pk, []).append(to_entity(record, pk, rk))
    for entities in by_partition.values():
        group: list[dict[str, Any]] = []
        size = 0
        for entity in entities:
            entity_size = sum(_size(k, v) for k, v in entity.items())
            if group and (len(group) == MAX_TRANSACTION_RECORDS
                          or size + entity_size > MAX_TRANSACTION_BYTES):
                yield group
                group, size = [], 0
            group.append(entity)
            size += entity_size
        if group:
            yield group


@dataclass(frozen=True)
class Versioned(Generic[T]):
    record: T
    etag: str


@dataclass(frozen=True)
class Modified(Generic[T]):
    """The outcome of `modify`: the record before (None if new) and after, and the new ETag."""

    before: T | None
    after: T
    etag: str


def _missing_entity(exc: Exception) -> bool:
    """A 404 for the entity itself, not for a table that was never created."""
    return getattr(exc, "error_code", None) not in ("TableNotFound",)


class EntityTable(Generic[T]):
    """One table of `record_type` records; `keys(record)` gives (PartitionKey, RowKey), raw."""

    def __init__(
        self,
        client: TableClient,
        record_type: type[T],
        keys: Callable[[T], tuple[str, str]],
        retry: RetrySchedule = DEFAULT_RETRY,
    ) -> None:
        _fields(record_type)  # refuse unusable record types early
        self._client = client
        self.record_type = record_type
        self.keys = keys
        self.retry = retry

    @property
    def name(self) -> str:
        return str(self._client.table_name)

    def _where(self, partition_key: str, row_key: str) -> str:
        return f"{self.name} {partition_key}/{row_key}"

    def _post(self, call: Callable[[], R], *, resend: bool) -> R:
        """`call`, one POST to Table (a create or a transaction), tried again on the retry
        schedule when the connection failed. azure-core's retry policy retries no POST on a
        connection error (`RetryPolicy._is_method_retryable`: a POST only on an answered 500,
        503 or 504), so a storage restart or a dropped keep-alive connection failed the write
        at once where every PUT and GET rode it out.

        A request that never left (`ServiceRequestError`: "No request was sent") is always
        sent again. One whose answer was lost (`ServiceResponseError`: a reset or a read
        timeout after sending) may have been carried out, so it is sent again only when
        `resend` says that doing it twice is doing it once."""
        from azure.core.exceptions import ServiceRequestError, ServiceResponseError

        for attempt in range(1, self.retry.retries + 1):
            try:
                return call()
            except (ServiceRequestError, ServiceResponseError) as exc:
                if isinstance(exc, ServiceResponseError) and not resend:
                    raise
                _pause(self.retry.backoff(attempt))
        return call()

    def upsert(self, record: T) -> str:
        """Insert or replace the record; returns the new ETag."""
        from azure.data.tables import UpdateMode

        pk, rk = self.keys(record)
        with storage_errors("writing " + self._where(pk, rk)):
            meta = self._client.upsert_entity(to_entity(record, pk, rk), mode=UpdateMode.REPLACE)
        return str(meta["etag"])

    def create(self, record: T) -> str | None:
        """Insert a new record; None, with nothing written, when one with its keys exists.

        Not sent again after a lost answer: one that went through would then come back "already
        exists", which callers read as losing a race. The stored record says instead: if it is
        the one sent, this create made it (`_ours_after_lost_answer`); if another, the race was
        lost; if none, the failure is raised and the work is redelivered."""
        from azure.core.exceptions import ResourceExistsError, ServiceResponseError

        pk, rk = self.keys(record)
        with storage_errors("creating " + self._where(pk, rk)):
            try:
                meta = self._post(partial(self._client.create_entity, to_entity(record, pk, rk)),
                                  resend=False)
            except ResourceExistsError:
                return None
            except ServiceResponseError:
                found = self.get_versioned(pk, rk)
                if found is None:
                    raise
                return self._ours_after_lost_answer(found, record)
        return str(meta["etag"])

    @staticmethod
    def _ours_after_lost_answer(found: Versioned[T], record: T) -> str | None:
        """After a write whose answer was lost, read back as `found`: its ETag when it holds
        exactly the record written (the write went through), else None (another writer's).

        An identical record written by another writer at the same moment reads as ours too:
        both then go on as the writer that made the change, so what follows a change (the next
        step's message, an approval request) happens at least once, never not at all; every
        step takes a repeated message (tests/e2e/test_pipeline_faults.py)."""
        return found.etag if found.record == record else None

    def upsert_many(self, records: Iterable[T]) -> None:
        """Insert or replace many records: one transaction per partition and 100 records (sent
        again after a lost answer: replacing with the same records twice is doing it once)."""
        from azure.data.tables import UpdateMode

        for group in _transactions(records, self.keys):
            ops: list[Any] = [("upsert", e, {"mode": UpdateMode.REPLACE}) for e in group]
            with storage_errors(f"writing {len(ops)} records to {self.name}"):
                self._post(partial(self._client.submit_transaction, ops), resend=True)

    def create_many(self, records: Iterable[T]) -> None:
        """Insert many new records (transactions of up to 100); where one already exists the
        others of its transaction are created one by one and the existing one is left as is. A
        transaction whose answer was lost is sent again: if it went through, its records now
        exist and are left as they are, which is what sending it once did."""
        from azure.data.tables import TableTransactionError

        for group in _transactions(records, self.keys):
            ops = [("create", e) for e in group]
            try:
                with storage_errors(f"creating {len(group)} records in {self.name}"):
                    self._post(partial(self._client.submit_transaction, ops), resend=True)
            except StorageError as exc:
                if not isinstance(exc.__cause__, TableTransactionError):
                    raise
                for entity in group:
                    self.create(from_entity(entity, self.record_type))

    def get_versioned(self, partition_key: str, row_key: str) -> Versioned[T] | None:
        """The record and its ETag, or None when there is no such entity."""
        from azure.core.exceptions import ResourceNotFoundError

        with storage_errors("reading " + self._where(partition_key, row_key)):
            try:
                entity = self._client.get_entity(encode_key(partition_key), encode_key(row_key))
            except ResourceNotFoundError as exc:
                if _missing_entity(exc):
                    return None
                raise
        return Versioned(from_entity(entity, self.record_type), str(entity.metadata["etag"]))

    def get(self, partition_key: str, row_key: str) -> T | None:
        found = self.get_versioned(partition_key, row_key)
        return found.record if found else None

    def query_partition(self, partition_key: str) -> list[T]:
        """Every record in one partition, in RowKey order. A big run's verdicts are tens of
        thousands of records, read with the cyclic collector paused (shared.bulk)."""
        with paused_gc():
            return list(self.query("PartitionKey eq @pk", pk=encode_key(partition_key)))

    def row_keys(self, partition_key: str) -> set[str]:
        """The (raw) row keys of one partition, read without the records' other properties."""
        with storage_errors("listing keys of " + self.name):
            return {decode_key(entity["RowKey"]) for entity in self._client.query_entities(
                "PartitionKey eq @pk", parameters={"pk": encode_key(partition_key)},
                select=["RowKey"])}

    def query(self, query_filter: str, **parameters: Any) -> Iterator[T]:
        """Records matching an OData filter; values go in `parameters` (escaped by the SDK),
        referenced as @name, never formatted into the filter text."""
        with storage_errors("querying " + self.name):
            for entity in self._client.query_entities(query_filter, parameters=parameters):
                yield from_entity(entity, self.record_type)

    def update_if_match(self, record: T, etag: str) -> str:
        """Replace the record only if it is unchanged since read with `etag`; the new ETag.

        Raises ConcurrencyConflict when another writer got there first (or deleted it).
        """
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        pk, rk = self.keys(record)
        sent: list[Any] = []  # the pipeline request, whose context counts the SDK's retries
        with storage_errors("updating " + self._where(pk, rk)):
            try:
                meta = self._client.update_entity(
                    to_entity(record, pk, rk), mode=UpdateMode.REPLACE, etag=etag,
                    match_condition=MatchConditions.IfNotModified, raw_request_hook=sent.append,
                )
            except (ResourceModifiedError, ResourceNotFoundError) as exc:
                if isinstance(exc, ResourceNotFoundError) and not _missing_entity(exc):
                    raise
                # Sent again by the SDK (a PUT is retried after a lost answer), the write may
                # have gone through the first time and met its own ETag change the second
                # (the retry policy keeps the failed tries in the context's "history":
                # azure-core RetryPolicy.update_context, which TablesRetryPolicy calls too).
                retried = bool(sent) and bool(sent[0].context.get("history"))
                found = self.get_versioned(pk, rk) if retried else None
                ours = self._ours_after_lost_answer(found, record) if found else None
                if ours is not None:
                    return ours
                where = self._where(pk, rk)
                raise ConcurrencyConflict(f"{where} changed since it was read") from None
        return str(meta["etag"])

    def modify(
        self, partition_key: str, row_key: str, change: Callable[[T | None], T], *,
        attempts: int = 30,
    ) -> Modified[T]:
        """Read, apply `change` (given None when absent), write if unchanged meanwhile; repeat
        on conflict. `change` must be a pure function of the record it is given: it may run
        several times. No write happens when it returns an equal record."""
        for attempt in range(attempts):
            current = self.get_versioned(partition_key, row_key)
            before = current.record if current else None
            after = change(before)
            if self.keys(after) != (partition_key, row_key):
                where = self._where(partition_key, row_key)
                raise InputError(f"modify changed the keys of {where}")
            if current is not None and after == before:
                return Modified(before, after, current.etag)
            try:
                etag = (self.update_if_match(after, current.etag) if current is not None
                        else self.create(after))
            except ConcurrencyConflict:
                etag = None
            if etag is not None:
                return Modified(before, after, etag)
            time.sleep(random.uniform(0, 0.02 * (attempt + 1)))  # spread contending writers
        raise ConcurrencyConflict(
            f"{self._where(partition_key, row_key)} kept changing: gave up after {attempts} tries"
        )

    def delete(self, partition_key: str, row_key: str) -> None:
        """Delete the entity if it exists."""
        with storage_errors("deleting " + self._where(partition_key, row_key)):
            self._client.delete_entity(encode_key(partition_key), encode_key(row_key))
