"""Queue messages: small JSON documents with a schema version, base64 on the wire.

host.json sets `messageEncoding: base64`, so the Functions trigger base64-decodes what it reads
and writes; the queue clients made by `StorageClients.queue` encode and decode base64 too, so
both sides agree. A trigger hands its body (`msg.get_body()`, already decoded) to
`decode_message`; the local runner receives through `QueueStore` and gets the same bytes.

A message is a `QueueMessage` subclass. It carries ids, never sign-in rows: sends over 60 KiB
on the wire (base64 included; the service limit is 64 KiB) are refused.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, ClassVar, TypeVar

import msgspec

from shared.errors import InputError
from shared.store.retry import storage_errors

if TYPE_CHECKING:
    from shared.store.clients import StorageClients

MAX_WIRE_BYTES = 60 * 1024


class QueueMessage(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every queue message. Subclasses add their fields and may raise `version`."""

    version: ClassVar[int] = 1
    v: int = 1

    def __post_init__(self) -> None:
        if self.v != self.version:
            raise ValueError(f"schema version {self.v} is not supported (expected {self.version})")


M = TypeVar("M", bound=QueueMessage)


class _Envelope(msgspec.Struct):
    v: int


def wire_size(body: bytes) -> int:
    """Bytes on the wire once base64-encoded."""
    return 4 * ((len(body) + 2) // 3)


def encode_message(message: QueueMessage) -> bytes:
    """The JSON body of a message; InputError when it would not fit a queue message."""
    body = msgspec.json.encode(message)
    if wire_size(body) > MAX_WIRE_BYTES:
        raise InputError(
            f"{type(message).__name__} is {wire_size(body)} bytes in base64, over the "
            f"{MAX_WIRE_BYTES}-byte limit: messages carry ids, put data in storage"
        )
    return body


def decode_message(body: bytes | str, message_type: type[M], *, queue: str = "queue") -> M:
    """Validate a message body (JSON, already base64-decoded) as `message_type`.

    Raises InputError saying what is wrong: not JSON, no schema version, an unsupported
    version, a missing or mistyped field.
    """
    try:
        envelope = msgspec.json.decode(body, type=_Envelope)
    except msgspec.ValidationError as exc:  # a subclass of DecodeError: test it first
        raise InputError(f"message has no schema version 'v': {exc}", source=queue) from None
    except msgspec.DecodeError as exc:
        raise InputError(f"not a JSON message: {exc}", source=queue) from None
    if envelope.v != message_type.version:
        raise InputError(
            f"{message_type.__name__} schema version {envelope.v} is not supported "
            f"(expected {message_type.version})", source=queue,
        )
    try:
        return msgspec.json.decode(body, type=message_type)
    except msgspec.ValidationError as exc:
        raise InputError(f"not a valid {message_type.__name__}: {exc}", source=queue) from None


def decode_queue_text(text: str | bytes) -> bytes:
    """A message's body from its base64 queue text (as seen by a client without a decode
    policy, e.g. Storage Explorer or a raw REST read)."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError(f"queue message is not base64: {exc}") from None


class ReceivedMessage(msgspec.Struct, frozen=True):
    """A message taken off a queue (invisible until deleted or its visibility times out)."""

    queue: str
    id: str
    pop_receipt: str
    dequeue_count: int
    body: bytes


class QueueStore:
    """Send, receive and settle messages on the program's queues."""

    def __init__(self, clients: StorageClients) -> None:
        self._clients = clients

    def send(self, queue: str, message: QueueMessage, *, delay_s: int | None = None) -> str:
        """Enqueue one message; returns its id. Delivery is at least once: handlers are
        idempotent."""
        body = encode_message(message)
        with storage_errors("sending to queue " + queue):
            sent = self._clients.queue(queue).send_message(body, visibility_timeout=delay_s)
        return str(sent.id)

    def receive(
        self, queue: str, *, max_messages: int = 32, visibility_timeout_s: int = 30
    ) -> list[ReceivedMessage]:
        """Up to `max_messages` messages, hidden for `visibility_timeout_s` while handled."""
        with storage_errors("receiving from queue " + queue):
            got = self._clients.queue(queue).receive_messages(
                max_messages=max_messages, visibility_timeout=visibility_timeout_s
            )
            return [
                ReceivedMessage(
                    queue=queue, id=m.id, pop_receipt=m.pop_receipt or "",
                    dequeue_count=m.dequeue_count or 1, body=bytes(m.content),
                )
                for m in got
            ]

    def delete(self, message: ReceivedMessage) -> None:
        """Settle a handled message."""
        with storage_errors("deleting a message from queue " + message.queue):
            self._clients.queue(message.queue).delete_message(message.id, message.pop_receipt)

    def renew(self, message: ReceivedMessage, *, visibility_timeout_s: int) -> ReceivedMessage:
        """Keep a message being handled invisible `visibility_timeout_s` more seconds; the
        message with its new pop receipt (the old one no longer settles it)."""
        with storage_errors("renewing a message's visibility on queue " + message.queue):
            updated = self._clients.queue(message.queue).update_message(
                message.id, message.pop_receipt, visibility_timeout=visibility_timeout_s
            )
        return msgspec.structs.replace(message, pop_receipt=updated.pop_receipt or "")

    def make_visible(self, message: ReceivedMessage, *, after_s: int = 0) -> None:
        """Give a message back for redelivery after `after_s` seconds (a failed attempt)."""
        with storage_errors("returning a message to queue " + message.queue):
            self._clients.queue(message.queue).update_message(
                message.id, message.pop_receipt, visibility_timeout=after_s
            )

    def move_to_poison(self, message: ReceivedMessage) -> None:
        """What the host does after the last failed delivery: copy to `<queue>-poison`, delete."""
        from shared.store.names import poison

        with storage_errors("moving a message to " + poison(message.queue)):
            self._clients.queue(poison(message.queue)).send_message(message.body)
        self.delete(message)

    def approximate_count(self, queue: str) -> int:
        with storage_errors("counting queue " + queue):
            props = self._clients.queue(queue).get_queue_properties()
        return int(props.approximate_message_count or 0)
