"""Table POSTs (creates and transactions) when the connection fails, over real sockets.

azure-core retries no POST after a connection error (`RetryPolicy._is_method_retryable`
allows a POST only an answered 500, 503 or 504), so `EntityTable` retries them itself
(shared/store/tables.py, `_post`). A proxy on 127.0.0.1 in front of Azurite's Table endpoint
cuts chosen requests the way a network does:

- "lost": the request reaches Table and is carried out, the answer never comes back (the
  connection is closed when Table answers): the client cannot know whether it happened;
- "dropped": the request is sent but never reaches Table (the connection closed at once);
- refused: nothing listens, so nothing is sent.

Faults are counted requests, not timings: each test says which POST fails and how.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import msgspec
import pytest

from local.azurite import Azurite
from shared import config
from shared.errors import ConcurrencyConflict
from shared.store import RetrySchedule, Store
from shared.store.tables import EntityTable

FAST = RetrySchedule(retries=4, first_backoff_s=0.01, max_backoff_s=0.05)


class Note(msgspec.Struct):
    run_id: str
    user: str
    text: str


class CuttingProxy:
    """Forwards TCP to `target`; `cut(marker, how)` makes the next request whose head holds
    `marker` fail ("lost" or "dropped"). Each request's head arrives as one read: the
    client sends a request only after the previous answer, so reads start at request lines."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.cuts: list[tuple[bytes, str]] = []
        self.requests: list[bytes] = []  # request lines, in order
        self.lock = threading.Lock()
        self.listener: socket.socket | None = None
        self.port = 0
        self.open()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        if self.listener is not None:
            _hang_up(self.listener)  # wakes the accepting thread, so the port is closed
            self.listener = None

    def cut(self, marker: bytes, how: str) -> None:
        with self.lock:
            self.cuts.append((marker, how))

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            state = {"cut_on_answer": False}
            threading.Thread(target=self._to_table, args=(client, upstream, state),
                             daemon=True).start()
            threading.Thread(target=self._to_client, args=(upstream, client, state),
                             daemon=True).start()

    def _fault_for(self, head: bytes) -> str | None:
        method = head.split(b" ", 1)[0]
        if not (method.isalpha() and method.isupper()):  # a request's body, not its head
            return None
        with self.lock:
            self.requests.append(head.split(b"\r\n", 1)[0])
            for n, (marker, how) in enumerate(self.cuts):
                if marker in head:
                    del self.cuts[n]
                    return how
        return None

    def _to_table(self, client: socket.socket, upstream: socket.socket,
                  state: dict[str, bool]) -> None:
        try:
            while data := client.recv(65536):
                how = self._fault_for(data)
                if how == "dropped":
                    _hang_up(client)
                    _hang_up(upstream)
                    return
                if how == "lost":
                    state["cut_on_answer"] = True
                upstream.sendall(data)
        except OSError:
            pass
        _hang_up(upstream)

    def _to_client(self, upstream: socket.socket, client: socket.socket,
                   state: dict[str, bool]) -> None:
        try:
            while data := upstream.recv(65536):
                if state["cut_on_answer"]:
                    _hang_up(client)
                    _hang_up(upstream)
                    return
                client.sendall(data)
        except OSError:
            pass
        _hang_up(client)


def _hang_up(sock: socket.socket) -> None:
    """End the connection both ways. Shut down before closing: a close alone does not reach
    the peer while the other pump thread is still blocked reading the same socket."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


@pytest.fixture
def proxy(azurite: Azurite) -> Iterator[CuttingProxy]:
    service = CuttingProxy(("127.0.0.1", azurite.table_port))
    yield service
    service.close()


@pytest.fixture
def prefix(storage_connection_string: str) -> str:
    name = "t" + uuid.uuid4().hex[:10]
    direct = Store(config.load({"AzureWebJobsStorage": storage_connection_string}), prefix=name)
    direct.ensure_resources()
    direct.close()
    return name


def through(proxy: CuttingProxy, connection_string: str, prefix: str) -> Store:
    """A store whose Table requests pass the proxy (blobs and queues go straight to Azurite)."""
    table = next(part.split("=", 1)[1] for part in connection_string.split(";")
                 if part.startswith("TableEndpoint="))
    address = urlsplit(table)
    proxied = table.replace(f"{address.hostname}:{address.port}", f"127.0.0.1:{proxy.port}")
    settings = config.load({"AzureWebJobsStorage": connection_string.replace(table, proxied)})
    return Store(settings, prefix=prefix, retry=FAST)


@pytest.fixture
def table(proxy: CuttingProxy, storage_connection_string: str, prefix: str
          ) -> Iterator[EntityTable[Note]]:
    """The notes table of a store whose Table requests pass the proxy."""
    store = through(proxy, storage_connection_string, prefix)
    yield notes_of(store)
    store.close()


def notes_of(store: Store) -> EntityTable[Note]:
    return store.table(store.names.runs, Note, keys=lambda n: (n.run_id, n.user))


def notes(n: int, text: str) -> list[Note]:
    return [Note(run_id="r1", user=f"u{i:03d}", text=text) for i in range(n)]


def test_a_transaction_whose_answer_is_lost_is_sent_again(
        proxy: CuttingProxy, table: EntityTable[Note]) -> None:
    proxy.cut(b"$batch", "lost")
    table.upsert_many(notes(150, "first"))
    assert sorted(n.text for n in table.query_partition("r1")) == ["first"] * 150
    assert len(batches(proxy)) == 3  # 100 + 50, the first twice


def test_a_create_transaction_carried_out_then_lost_leaves_its_records_once(
        proxy: CuttingProxy, table: EntityTable[Note]) -> None:
    proxy.cut(b"$batch", "lost")
    table.create_many(notes(20, "made"))
    # Sent again, the transaction met its own records (EntityAlreadyExists), so each was tried
    # one by one and left as it is: the same 20 records, as one clean send makes.
    assert [n.user for n in table.query_partition("r1")] == [f"u{i:03d}" for i in range(20)]
    assert len(batches(proxy)) == 2


def test_a_create_transaction_that_never_reached_table_is_sent_again(
        proxy: CuttingProxy, table: EntityTable[Note]) -> None:
    proxy.cut(b"$batch", "dropped")
    table.create_many(notes(5, "made"))
    assert len(table.query_partition("r1")) == 5


def batches(proxy: CuttingProxy) -> list[bytes]:
    return [line for line in proxy.requests if line.startswith(b"POST") and b"$batch" in line]


def test_a_single_create_whose_answer_is_lost_is_read_back_not_sent_again(
        proxy: CuttingProxy, table: EntityTable[Note]) -> None:
    """Sent again, a create that went through would come back "already exists", which callers
    read as having lost a race: the stored record is read instead, and it is the one sent."""
    proxy.cut(b"POST /", "lost")
    etag = table.create(Note(run_id="r1", user="u1", text="once"))
    assert [line.split(b" ")[0] for line in proxy.requests] == [b"POST", b"GET"]  # read back
    stored = table.get_versioned("r1", "u1")
    assert stored is not None and etag == stored.etag and stored.record.text == "once"


def test_a_conditional_update_whose_answer_is_lost_is_still_the_change_made(
        proxy: CuttingProxy, table: EntityTable[Note]) -> None:
    """The SDK sends a PUT again after a lost answer; the first went through, so the second
    meets its own ETag change (412). Before, that read as another writer's change, and
    `modify` then found the change made and reported none: the write that settled the last
    batch of a run did not know it, and nothing sent the run on."""
    table.create(Note(run_id="r1", user="u1", text="open"))
    proxy.cut(b"If-Match", "lost")
    changed = table.modify("r1", "u1", lambda n: msgspec.structs.replace(n, text="settled"))
    assert changed.before is not None and changed.before.text == "open"
    assert changed.after.text == "settled"
    stored = table.get_versioned("r1", "u1")
    assert stored is not None and stored.etag == changed.etag
    puts = [line for line in proxy.requests if line.startswith(b"PUT")]
    assert len(puts) == 2  # the lost one and the SDK's retry
    # A real conflict is still one: another writer's change is never taken for ours.
    old = table.get_versioned("r1", "u1")
    assert old is not None
    table.upsert(Note(run_id="r1", user="u1", text="theirs"))
    proxy.cut(b"If-Match", "lost")
    with pytest.raises(ConcurrencyConflict):
        table.update_if_match(msgspec.structs.replace(old.record, text="mine"), old.etag)


def test_a_create_refused_a_connection_is_tried_again(
        proxy: CuttingProxy, table: EntityTable[Note], monkeypatch: pytest.MonkeyPatch) -> None:
    """Connection refused: nothing was sent, so a create (not only a transaction) is sent
    again. The proxy opens again during the first backoff, whatever the machine's speed."""
    import shared.store.tables as tables

    proxy.close()
    waits: list[float] = []

    def backoff(seconds: float) -> None:
        waits.append(seconds)
        if proxy.listener is None:
            proxy.open()

    monkeypatch.setattr(tables, "_pause", backoff)
    assert table.create(Note(run_id="r1", user="u1", text="made")) is not None
    assert waits == [FAST.backoff(1)]
    assert [n.text for n in table.query_partition("r1")] == ["made"]
