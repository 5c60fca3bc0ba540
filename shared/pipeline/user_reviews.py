"""One-user reviews asked for over HTTP, run by the `review-user` queue function.

POST /api/reviews writes the run record `queued` and sends a `ReviewUser` message (`enqueue`);
the HTTP worker then only reads the run record until it ends or its time is up (`wait`), so no
review work runs in the HTTP worker and a recycled instance loses nothing: the message is still
in the queue.

The queue function (`on_message`) does the review (shared/pipeline/adhoc.py) with the platform's
retries: an error that a retry cannot fix (a refused user, a source that is not set up, Graph's
licence or permission refusal, evidence that differs from what is stored) ends the run `failed`
at once; any other error is recorded on the run (`attempts`, `last_error`) and raised, so the
host delivers the message again, up to host.json's maxDequeueCount. Then the message lands in
`review-user-poison`, whose function (`on_poison`) ends the run `failed` with the last error.
A delivery that finds the run already ended does nothing (at-least-once delivery). What neither
path reaches (an instance that dies and a message that is never seen again) the stranded-run
timer ends (shared/pipeline/stranded.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from msgspec.structs import replace

from shared.errors import (
    ConfigError,
    EvidenceError,
    GraphUnavailable,
    InputError,
    NotFoundError,
    SigninReviewError,
    SourceUnavailable,
)
from shared.logs import bound, event
from shared.model import Window
from shared.pipeline import adhoc
from shared.pipeline.adhoc import FINAL
from shared.pipeline.records import ReviewUser, RunRecord
from shared.pipeline.runs import Tables
from shared.services import Services
from shared.store import decode_message

QUEUE = "review-user"
# Errors a retry cannot fix: the run ends `failed` on the first delivery that meets one.
PERMANENT: tuple[type[Exception], ...] = (
    InputError, NotFoundError, ConfigError, GraphUnavailable, SourceUnavailable, EvidenceError)


def enqueue(services: Services, *, user: str, window: Window, ticket_id: str | None = None,
            requested_by: str | None = None, source: str | None = None) -> RunRecord:
    """Check the request, write the run record `queued` and send its message; the record.
    A message that cannot be sent ends the run `failed` at once (the error goes on)."""
    tables = Tables.of(services.store)
    run = adhoc.new_run(services, user=user, window=window, ticket_id=ticket_id,
                        requested_by=requested_by, source=source, status="queued")
    tables.runs.create(run)
    with bound(runId=run.run_id):
        try:
            services.store.queues.send(services.store.names.review_user,
                                       ReviewUser(run_id=run.run_id))
        except Exception as exc:
            adhoc.fail(services, tables, run.run_id, exc)
            raise
        event("review.user_queued", ticketId=ticket_id)
    return run


def wait(services: Services, run_id: str, budget_s: float, *,
         sleep: Callable[[float], None] = time.sleep) -> RunRecord:
    """The run record once it has ended, or as it is when `budget_s` is spent. Reads the
    record from storage every poll (0.1 s at first, then up to 1 s apart)."""
    tables = Tables.of(services.store)
    deadline = time.monotonic() + budget_s
    pause = 0.1
    while True:
        run = tables.run(run_id)
        left = deadline - time.monotonic()
        if run.status in FINAL or left <= 0:
            return run
        sleep(min(pause, left))
        pause = min(1.0, pause * 2)


def on_message(services: Services, body: bytes, *, dequeue_count: int = 1,
               message_id: str | None = None) -> None:
    """The `review-user` queue function: run the review the message names."""
    try:
        message = decode_message(body, ReviewUser, queue=QUEUE)
    except InputError as exc:
        event("message.rejected", queue=QUEUE, reason=exc.message)
        return
    with bound(correlationId=message_id, runId=message.run_id):
        _review(services, message.run_id, dequeue_count)


def _started(dequeue_count: int) -> Callable[[RunRecord], RunRecord]:
    def start(run: RunRecord) -> RunRecord:
        if run.status in FINAL:
            return run
        return replace(run, status="fetching", attempts=max(run.attempts + 1, dequeue_count))

    return start


def _review(services: Services, run_id: str, dequeue_count: int) -> None:
    tables = Tables.of(services.store)
    found = tables.runs.get(run_id, "run")
    if found is None or found.kind != "user" or found.user_id is None:
        event("message.rejected", queue=QUEUE, reason="no one-user run of this id")
        return
    if found.status in FINAL:
        event("review.user_redelivered", status=found.status)
        return
    _, run = tables.change_run(run_id, _started(dequeue_count))
    if run.status in FINAL:  # ended between the two reads (the stranded-run timer)
        event("review.user_redelivered", status=run.status)
        return
    try:
        adhoc.run_review(services, tables, run)
    except PERMANENT as exc:
        adhoc.fail(services, tables, run_id, exc)
    except Exception as exc:
        reason = adhoc.failure_reason(exc)
        event("review.user_attempt_failed", attempt=run.attempts, reason=reason)
        _note_error(tables, run_id, reason)
        raise


def _note_error(tables: Tables, run_id: str, reason: str) -> None:
    try:
        tables.change_run(run_id, lambda r: replace(r, last_error=reason))
    except SigninReviewError as again:  # storage is failing too: the retry will say so again
        event("review.user_error_unrecorded", error=type(again).__name__)


def on_poison(services: Services, body: bytes, *, message_id: str | None = None) -> None:
    """The `review-user-poison` function: every delivery failed, so the run ends `failed`."""
    try:
        message = decode_message(body, ReviewUser, queue=QUEUE + "-poison")
    except InputError as exc:
        event("message.rejected", queue=QUEUE + "-poison", reason=exc.message)
        return
    with bound(correlationId=message_id, runId=message.run_id):
        tables = Tables.of(services.store)
        run = tables.runs.get(message.run_id, "run")
        if run is None:
            event("message.rejected", queue=QUEUE + "-poison", reason="no run of this id")
            return
        reason = (f"the review failed on every delivery ({run.attempts} started): "
                  f"{run.last_error or 'no reason recorded'}")
        event("review.user_poisoned", reason=reason)
        adhoc.fail(services, tables, run.run_id, reason)
