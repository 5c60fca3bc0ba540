"""The local runner keeps a message invisible while its handler runs, as the Functions host
does (local/runner.py names the host's source): a handler that runs past the visibility timeout
is not delivered a second time, even when a renewal fails once. Nothing here waits for a sleep
to be long enough: the handler waits until a renewal has happened later than the timeout would
have let the message come back, and every wait has only a hang guard."""

from __future__ import annotations

import threading
import time
import uuid

from azure.functions.queue import QueueMessage as TriggerMessage

from local.runner import QueueRunner
from shared.config import Settings
from shared.errors import StorageError
from shared.pipeline.records import RunReady
from shared.services import Services
from shared.store import ReceivedMessage

VISIBILITY_S = 2  # renewed every second, 0.5 s after a failed renewal
GUARD_S = 30


def test_a_long_handler_keeps_its_message_through_a_failed_renewal(
        storage_settings: Settings) -> None:
    services = Services(storage_settings, store_prefix="v" + uuid.uuid4().hex[:10])
    services.store.ensure_resources()
    queues = services.store.queues
    queue = services.store.names.run_ready
    queues.send(queue, RunReady(run_id="r1"))
    runner = QueueRunner(services, visibility_timeout_s=VISIBILITY_S,
                         only=frozenset({"run-ready"}))
    started = time.monotonic()
    past_timeout = threading.Event()
    renewals: list[float] = []
    faults: list[float] = []
    real_renew = queues.renew

    def renew(message: ReceivedMessage, *, visibility_timeout_s: int) -> ReceivedMessage:
        if not faults:  # the first renewal fails, as a storage hiccup would
            faults.append(time.monotonic())
            raise StorageError("renewing: the account answered 503 ServerBusy")
        renewed = real_renew(message, visibility_timeout_s=visibility_timeout_s)
        renewals.append(time.monotonic())
        if renewals[-1] - started > VISIBILITY_S:
            past_timeout.set()
        return renewed

    queues.renew = renew  # type: ignore[method-assign]
    seen_meanwhile: list[list[ReceivedMessage]] = []
    calls: list[str] = []

    def handler(message: TriggerMessage) -> None:
        calls.append(message.id)
        assert past_timeout.wait(GUARD_S), "no renewal after the visibility timeout"
        # without the renewals the message would be visible again by now
        assert time.monotonic() - started > VISIBILITY_S
        seen_meanwhile.append(queues.receive(queue, visibility_timeout_s=1))

    runner.handlers[queue] = handler
    assert runner.step() == 1
    assert seen_meanwhile == [[]]  # another instance could not take it while it ran
    assert len(faults) == 1 and len(renewals) >= 2
    assert not runner.failures  # deleted with the renewed pop receipt
    assert queues.receive(queue, visibility_timeout_s=1) == []
    assert len(calls) == 1
    services.store.close()


def test_a_slow_message_does_not_hold_the_queue(storage_settings: Settings) -> None:
    """As the host does, the runner takes another batch once only `scoring_threshold`
    messages are still running: the first message handled waits until every other one has
    been handled, which a runner waiting for a whole batch to finish would never do."""
    services = Services(storage_settings, store_prefix="v" + uuid.uuid4().hex[:10])
    services.store.ensure_resources()
    queue = services.store.names.user_scoring
    for n in range(20):
        services.store.queues.send(queue, RunReady(run_id=f"r{n}"))
    runner = QueueRunner(services, scoring_concurrency=4, scoring_threshold=2,
                         only=frozenset({"user-scoring"}))
    lock = threading.Lock()
    handled: list[str] = []
    others_done = threading.Event()
    first: list[str] = []

    def handler(message: TriggerMessage) -> None:
        with lock:
            slow = not first
            if slow:
                first.append(message.id)
        if slow:
            assert others_done.wait(GUARD_S), f"only {len(handled)} others were handled"
        with lock:
            handled.append(message.id)
            if len(handled) == 19:
                others_done.set()

    runner.handlers[queue] = handler
    assert runner.step() == 20
    assert not runner.failures and len(set(handled)) == 20 and handled[-1] == first[0]
    services.store.close()
