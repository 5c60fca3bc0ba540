"""Storage outages against a dedicated Azurite on a data folder: stopped, then restarted.

A few seconds down is ridden out by the clients' bounded retries; a long outage ends in
StorageError (here with a short schedule, so the test does not wait a minute).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest

from local.azurite import Azurite
from shared import config
from shared.errors import StorageError
from shared.store import JSON, QueueMessage, RetrySchedule, Store, decode_message, page_name
from shared.store.retry import DEFAULT_RETRY

pytestmark = pytest.mark.slow


class Ping(QueueMessage, frozen=True):
    n: int


class Mark(msgspec.Struct):
    run_id: str
    note: str


@pytest.fixture
def azurite_on_disk(tmp_path: Path) -> Iterator[Azurite]:
    with Azurite(location=tmp_path / "azurite") as service:
        yield service


def operations(store: Store, tag: str) -> dict[str, Callable[[], object]]:
    marks = store.table(store.names.runs, Mark, keys=lambda m: (m.run_id, "mark"))
    return {
        "blob": lambda: store.evidence.put_evidence(
            page_name("r1", tag, 0), tag.encode(), content_type=JSON),
        "table": lambda: marks.upsert(Mark(run_id="r1", note=tag)),
        "queue": lambda: store.queues.send(store.names.run_ready, Ping(n=1)),
    }


def test_the_retry_schedule_is_bounded() -> None:
    assert [DEFAULT_RETRY.backoff(n) for n in range(1, 9)] == [
        0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]
    assert 45 < DEFAULT_RETRY.total_wait_s < 70


def test_a_short_outage_is_ridden_out(azurite_on_disk: Azurite) -> None:
    settings = config.load({"AzureWebJobsStorage": azurite_on_disk.connection_string})
    store = Store(settings, prefix="outage")
    store.ensure_resources()
    store.evidence.put_evidence(page_name("r1", "before", 0), b"kept", content_type=JSON)

    azurite_on_disk.stop()
    outcomes: dict[str, object] = {}
    started = {name: threading.Event() for name in ("blob", "table", "queue")}

    def run(name: str, op: Callable[[], object]) -> None:
        started[name].set()
        try:
            outcomes[name] = op()
        except Exception as exc:  # recorded, asserted below
            outcomes[name] = exc

    threads = [threading.Thread(target=run, args=item)
               for item in operations(store, "during").items()]
    for thread in threads:
        thread.start()
    # Every operation is under way (however long threads took to start), then storage stays
    # down for 3 s: each meets the closed port at once and is into its backoff (0.5 s, 1 s...).
    assert all(event.wait(120) for event in started.values())
    time.sleep(3)
    azurite_on_disk.start()  # same ports, same data folder
    for thread in threads:
        thread.join(timeout=90)

    assert not [o for o in outcomes.values() if isinstance(o, BaseException)], outcomes
    assert len(outcomes) == 3
    assert store.evidence.verify_evidence(
        store.evidence.put_evidence(page_name("r1", "before", 0), b"kept", content_type=JSON))
    [got] = store.queues.receive(store.names.run_ready)
    assert decode_message(got.body, Ping) == Ping(n=1)
    marks = store.table(store.names.runs, Mark, keys=lambda m: (m.run_id, "mark"))
    assert marks.get("r1", "mark") == Mark(run_id="r1", note="during")


def test_a_long_outage_ends_in_storage_error(azurite_on_disk: Azurite) -> None:
    settings = config.load({"AzureWebJobsStorage": azurite_on_disk.connection_string})
    Store(settings, prefix="outage").ensure_resources()
    short = RetrySchedule(retries=3, first_backoff_s=0.1, max_backoff_s=0.2)
    store = Store(settings, prefix="outage", retry=short)
    azurite_on_disk.stop()
    for op in operations(store, "down").values():
        with pytest.raises(StorageError, match="unreachable after retries"):
            op()
