"""Runs function_app.py's handlers without the Functions host, for laptops, tests and the demo.

It does what the host does for this app and nothing more: fires the timer handler, receives
messages from the Azurite queues and hands each to the same queue-trigger function the host would
call (a real `func.QueueMessage` with its dequeue count), keeps it invisible while the function
runs, deletes it on success, leaves it for redelivery on failure, and after host.json's
maxDequeueCount moves it to `<queue>-poison`, whose trigger then runs. Queue names come from the
store, so tests can run with prefixed queues.

Visibility, as the Functions host's queue listener handles it (Azure/azure-sdk-for-net,
sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Common/src/Shared/Queues/QueueListener.cs):
messages are received invisible for 10 minutes and, while the function runs, a timer renews that
when it is halfway to expiring (`CreateUpdateMessageVisibilityTimer`, "Update a message's
visibility when it is halfway to expiring"), so a long scoring batch is never delivered again
while it runs; only an instance that dies stops renewing. host.json's `visibilityTimeout` is
something else: how long a failed message waits before it is retried (`retry_delay_s` here).
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest

import function_app
from shared.errors import SigninReviewError
from shared.services import Services, install
from shared.store import QueueStore, ReceivedMessage

HOST_JSON = Path(__file__).resolve().parent.parent / "host.json"
HOST_VISIBILITY_S = 600  # the host's queue listener receives messages invisible for 10 minutes


def user_function(builder: Any) -> Callable[..., Any]:
    """The plain Python function behind a decorated trigger."""
    return builder.build().get_user_function()  # type: ignore[no-any-return]


def _queue_settings() -> dict[str, int]:
    queues: dict[str, int] = json.loads(HOST_JSON.read_text())["extensions"]["queues"]
    return queues


def max_dequeue_count() -> int:
    return int(_queue_settings().get("maxDequeueCount", 5))


def queue_batch_size() -> int:
    """Messages the host takes from a queue at once and runs side by side: host.json's
    `batchSize` (default 16; https://learn.microsoft.com/azure/azure-functions/
    functions-bindings-storage-queue#host-json)."""
    return int(_queue_settings().get("batchSize", 16))


def new_batch_threshold() -> int:
    """When as few as this many messages are still running, the host takes another batch:
    host.json's `newBatchThreshold` (default batchSize / 2; the same page: "the maximum number
    of concurrent messages being processed per function is batchSize plus newBatchThreshold";
    QueueListener.WaitForNewBatchThreshold in the listener's source named above)."""
    return int(_queue_settings().get("newBatchThreshold", queue_batch_size() // 2))


@dataclass
class QueueRunner:
    """Drains the pipeline's queues through the function app's handlers."""

    services: Services
    max_dequeue: int = field(default_factory=max_dequeue_count)
    retry_delay_s: int = 0  # how long a failed message stays invisible before redelivery
    redeliver: bool = False  # send every handled message once more (at-least-once delivery)
    # Scoring messages handled at once, as the host runs a batch of queue messages (host.json's
    # batchSize) on its worker threads. Fetch slices stay one at a time: Graph's limit is per
    # tenant.
    scoring_concurrency: int = field(default_factory=queue_batch_size)
    # ... and another batch is taken as soon as only this many are still running, as the host
    # does: a slow batch never holds the queue (host.json's newBatchThreshold).
    scoring_threshold: int = field(default_factory=new_batch_threshold)
    # How long a received message stays invisible; renewed halfway while its handler runs, as
    # the host does, so only a runner that dies lets the message come back (after this long).
    visibility_timeout_s: int = HOST_VISIBILITY_S
    # Only these queues (names without the store's prefix, e.g. {"review-user"}); None: all.
    only: frozenset[str] | None = None
    failures: list[str] = field(default_factory=list)
    handled: int = 0

    def __post_init__(self) -> None:
        self._redelivered: set[bytes] = set()
        install(self.services)
        names = self.services.store.names
        # Queues whose messages run side by side, a batch at a time, as the host runs them.
        self.concurrent_queues = {names.user_scoring, names.review_user}
        handlers: dict[str, Callable[..., Any]] = {
            names.signin_slices: user_function(function_app.fetch_slice),
            names.run_ready: user_function(function_app.plan_scoring),
            names.user_scoring: user_function(function_app.score_users),
            names.review_user: user_function(function_app.review_user),
            names.signin_slices + "-poison": user_function(function_app.fetch_slice_poison),
            names.run_ready + "-poison": user_function(function_app.plan_scoring_poison),
            names.user_scoring + "-poison": user_function(function_app.score_users_poison),
            names.review_user + "-poison": user_function(function_app.review_user_poison),
        }
        prefix = names.prefix
        self.handlers = {
            queue: handler for queue, handler in handlers.items()
            if self.only is None
            or queue.removeprefix(prefix).removesuffix("-poison") in self.only}

    def fire_timer(self, *, past_due: bool = False) -> None:
        install(self.services)
        user_function(function_app.review_schedule)(TimerRequest(past_due=past_due))

    def fire_stranded_timer(self) -> None:
        """The stranded-run timer (every 15 minutes in Azure)."""
        install(self.services)
        user_function(function_app.stranded_runs)(TimerRequest())

    def step(self) -> int:
        """One pass over every queue; returns how many messages were handled."""
        install(self.services)
        handled = 0
        for queue, handler in self.handlers.items():
            if queue in self.concurrent_queues and self.scoring_concurrency > 1:
                handled += self._side_by_side(queue, handler)
                continue
            messages = self.services.store.queues.receive(
                queue, max_messages=16, visibility_timeout_s=self.visibility_timeout_s
            )
            for message in messages:
                self._deliver(handler, message)
            handled += len(messages)
        self.handled += handled
        return handled

    def _side_by_side(self, queue: str, handler: Callable[..., Any]) -> int:
        """Run a queue's messages as the host runs them, until it is empty: a batch of
        `scoring_concurrency`, and another each time only `scoring_threshold` are still
        running; returns how many were handled."""
        handled = 0
        running: set[Future[None]] = set()
        with ThreadPoolExecutor(max_workers=self.scoring_concurrency
                                + self.scoring_threshold) as pool:
            while True:
                if len(running) <= self.scoring_threshold:
                    messages = self.services.store.queues.receive(
                        queue, max_messages=self.scoring_concurrency,
                        visibility_timeout_s=self.visibility_timeout_s)
                    running.update(pool.submit(self._deliver, handler, m) for m in messages)
                    handled += len(messages)
                    if not running:
                        return handled
                    if messages and len(running) <= self.scoring_threshold:
                        continue  # fewer than a batch came: see whether more have arrived
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for finished in done:
                    finished.result()  # what the runner itself failed at (not the handler)

    def drain(self, *, timeout_s: float = 600.0, idle_passes: int = 2) -> int:
        """Handle messages until every queue stays empty; returns how many were handled."""
        deadline = time.monotonic() + timeout_s
        total, idle = 0, 0
        while idle < idle_passes:
            if time.monotonic() > deadline:
                raise TimeoutError(f"queues still busy after {timeout_s}s")
            handled = self.step()
            total += handled
            idle = idle + 1 if handled == 0 else 0
            if handled == 0 and self.retry_delay_s:
                time.sleep(min(1.0, self.retry_delay_s))
        return total

    def drain_until(self, done: Callable[[], bool], *, timeout_s: float = 600.0,
                    poll_s: float = 0.2) -> int:
        """Drain, and again while `done()` is false (messages sent with a visibility delay, or
        made visible again later, come back); `timeout_s` is a hang guard, not a pace."""
        deadline = time.monotonic() + timeout_s
        total = 0
        while True:
            total += self.drain(timeout_s=max(1.0, deadline - time.monotonic()))
            if done():
                return total
            if time.monotonic() > deadline:
                raise TimeoutError(f"not done after {timeout_s}s")
            time.sleep(poll_s)

    def _deliver(self, handler: Callable[..., Any], message: ReceivedMessage) -> None:
        queues = self.services.store.queues
        trigger_message = QueueMessage(
            id=message.id, body=message.body, dequeue_count=message.dequeue_count,
            pop_receipt=message.pop_receipt,
        )
        renewal = Renewal(queues, message, self.visibility_timeout_s)
        try:
            with renewal:
                handler(trigger_message)
        except Exception as exc:  # what the host does with a failed invocation
            message = renewal.message
            self.failures.append(f"{message.queue}: {type(exc).__name__}: {exc}")
            if message.queue.endswith("-poison"):
                # A poison queue has no poison queue of its own (the listener factory's
                # CreatePoisonQueueReference: "The queue itself isn't already a poison queue"),
                # and the host leaves a message its function failed on invisible, to come back
                # when that lapses, until its time to live ends (QueueProcessor.
                # CompleteProcessingMessageAsync, azure-webjobs-sdk). The runner tries it again
                # after the retry delay, and gives up after maxDequeueCount tries so a test ends.
                if message.dequeue_count >= self.max_dequeue:
                    queues.delete(message)
                    traceback.print_exc()
                else:
                    queues.make_visible(message, after_s=self.retry_delay_s)
            elif message.dequeue_count >= self.max_dequeue:
                queues.move_to_poison(message)
            else:
                queues.make_visible(message, after_s=self.retry_delay_s)
            return
        message = renewal.message
        queues.delete(message)
        if self.redeliver and message.body not in self._redelivered:
            self._redelivered.add(message.body)
            self.services.store.clients.queue(message.queue).send_message(message.body)


class Renewal:
    """While a handler runs (`with`), keeps its message invisible: renews the visibility each
    time half of it has passed, as the host's listener does. `message` carries the latest pop
    receipt once the block has ended (the renewing thread has stopped by then)."""

    def __init__(self, queues: QueueStore, message: ReceivedMessage, visibility_s: int) -> None:
        self.message = message
        self.renewals = 0
        self._queues = queues
        self._visibility_s = visibility_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"renew-{message.id[:8]}")

    def _run(self) -> None:
        wait = self._visibility_s / 2
        while not self._stop.wait(wait):
            try:
                self.message = self._queues.renew(self.message,
                                                  visibility_timeout_s=self._visibility_s)
            except SigninReviewError:  # sooner next time, as the host speeds up after a failure
                wait = self._visibility_s / 4
                continue
            self.renewals += 1
            wait = self._visibility_s / 2

    def __enter__(self) -> Renewal:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main(argv: list[str] | None = None) -> int:
    """`python -m local.runner`: a worker process that runs queued messages until it is stopped,
    with the app settings from the environment (as the host reads them)."""
    import argparse
    import signal
    import sys

    from shared.services import current

    parser = argparse.ArgumentParser(prog="python -m local.runner", description=main.__doc__)
    parser.add_argument("--only", action="append", help="run only this queue (and its poison "
                        "twin); repeat for more")
    parser.add_argument("--visibility", type=int, default=HOST_VISIBILITY_S,
                        help="seconds a received message stays invisible (renewed halfway while "
                        "it is handled)")
    parser.add_argument("--every", type=float, default=0.2, help="seconds between idle polls")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    runner = QueueRunner(current(), visibility_timeout_s=args.visibility,
                         only=frozenset(args.only) if args.only else None)
    print(f"runner ready: {', '.join(runner.handlers)}", flush=True)
    while True:
        if runner.step() == 0:
            time.sleep(args.every)


if __name__ == "__main__":
    raise SystemExit(main())
