"""Queue messages against Azurite: base64 on the wire, schema-checked on receive, size-capped."""

from __future__ import annotations

import base64

import pytest
from azure.storage.queue import QueueClient

from shared.errors import InputError
from shared.store import (
    QueueMessage,
    Store,
    decode_message,
    decode_queue_text,
    encode_message,
    poison,
)


class SliceMessage(QueueMessage, frozen=True):
    run_id: str
    slice_id: str
    start: str
    end: str


class BatchMessage(QueueMessage, frozen=True):
    run_id: str
    user_ids: list[str]


SLICE = SliceMessage(run_id="r1", slice_id="s0", start="2025-03-07T18:00:00Z",
                     end="2025-03-08T00:00:00Z")


def plain_client(store: Store, conn: str, queue: str) -> QueueClient:
    """A client with no encode/decode policy: sees exactly the text on the queue."""
    return QueueClient.from_connection_string(conn, queue)


def test_a_message_round_trips(store: Store) -> None:
    store.queues.send(store.names.signin_slices, SLICE)
    [got] = store.queues.receive(store.names.signin_slices)
    assert got.dequeue_count == 1
    assert decode_message(got.body, SliceMessage) == SLICE
    store.queues.delete(got)
    assert store.queues.approximate_count(store.names.signin_slices) == 0


def test_the_wire_form_is_base64_json_as_the_functions_host_expects(
    store: Store, storage_connection_string: str
) -> None:
    store.queues.send(store.names.signin_slices, SLICE)
    [raw] = plain_client(store, storage_connection_string, store.names.signin_slices
                         ).receive_messages()
    assert raw.content == base64.b64encode(encode_message(SLICE)).decode()
    assert decode_message(decode_queue_text(raw.content), SliceMessage) == SLICE
    assert b'"v":1' in decode_queue_text(raw.content)


def test_a_message_written_base64_by_another_writer_is_read(
    store: Store, storage_connection_string: str
) -> None:
    body = b'{"v":1,"run_id":"r1","user_ids":["a","b"],"added_later":true}'
    plain_client(store, storage_connection_string, store.names.user_scoring).send_message(
        base64.b64encode(body).decode()
    )
    [got] = store.queues.receive(store.names.user_scoring)
    assert decode_message(got.body, BatchMessage) == BatchMessage(run_id="r1", user_ids=["a", "b"])


@pytest.mark.parametrize(("body", "says"), [
    (b"run r1 please", "not a JSON message"),
    (b'["v", 1]', "no schema version"),
    (b'{"run_id": "r1", "user_ids": []}', "no schema version"),
    (b'{"v": 2, "run_id": "r1", "user_ids": []}', "schema version 2 is not supported"),
    (b'{"v": 1, "run_id": "r1"}', "missing required field `user_ids`"),
    (b'{"v": 1, "run_id": 7, "user_ids": []}', "Expected `str`, got `int` - at `$.run_id`"),
])
def test_a_malformed_message_says_what_is_wrong(body: bytes, says: str) -> None:
    with pytest.raises(InputError, match="user-scoring") as caught:
        decode_message(body, BatchMessage, queue="user-scoring")
    assert says in str(caught.value)


def test_text_that_is_not_base64_is_refused() -> None:
    with pytest.raises(InputError, match="not base64"):
        decode_queue_text("{not base64}")


def test_a_message_over_60_kib_is_refused_at_send(store: Store) -> None:
    too_big = BatchMessage(run_id="r1", user_ids=[f"user-{i:06}" for i in range(4000)])
    with pytest.raises(InputError, match="over the 61440-byte limit"):
        store.queues.send(store.names.user_scoring, too_big)
    assert store.queues.approximate_count(store.names.user_scoring) == 0
    fits = BatchMessage(run_id="r1", user_ids=[f"user-{i:06}" for i in range(2000)])
    store.queues.send(store.names.user_scoring, fits)  # 200 users a batch is far below this


def test_a_poisoned_message_moves_to_the_poison_twin(store: Store) -> None:
    store.queues.send(store.names.run_ready, SLICE)
    [got] = store.queues.receive(store.names.run_ready)
    store.queues.move_to_poison(got)
    [dead] = store.queues.receive(poison(store.names.run_ready))
    assert dead.body == got.body
    assert store.queues.receive(store.names.run_ready, visibility_timeout_s=1) == []


def test_ensure_resources_is_idempotent_and_complete(store: Store) -> None:
    store.ensure_resources()  # the fixture already did once
    names = store.names
    listed = store.clients.queue_service.list_queues(name_starts_with=names.prefix)
    queues = {q.name for q in listed}
    assert queues == {names.prefix + q for q in (
        "signin-slices", "run-ready", "user-scoring", "review-user",
        "signin-slices-poison", "run-ready-poison", "user-scoring-poison",
        "review-user-poison")}
    tables = {t.name for t in store.clients.table_service.list_tables()}
    assert {names.runs, names.verdicts, names.baselines, names.remediations} <= tables
    containers = {c.name for c in store.clients.blob_service.list_containers(
        name_starts_with=names.prefix)}
    assert containers == {names.evidence, names.work}
