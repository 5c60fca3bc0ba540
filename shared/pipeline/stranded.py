"""The stranded-run timer: ends `failed` any one-user run that nothing can finish any more, and
sends the fetch messages of a run of many users whose creator died before sending them.

A one-user run is driven by one `review-user` message (shared/pipeline/user_reviews.py). Its
life is bounded by the platform's settings in host.json:

- each delivery runs at most `functionTimeout` (30 minutes), then the host abandons it;
- a failed delivery comes back after `visibilityTimeout` (30 s);
- a delivery whose instance dies (scale-in, deployment, crash) comes back once the message's
  visibility lapses: the host receives messages invisible for 10 minutes and renews that while
  the function runs (azure-webjobs-sdk issue #1040, "this 10 minute timeout will only occur in
  rare cases, say if the host dies");
- after `maxDequeueCount` (5) deliveries the message goes to the poison queue, whose function
  ends the run.

So a run still `queued` or `fetching` after maxDequeueCount x (functionTimeout + 10 minutes +
visibilityTimeout) = 5 x 40.5 = 202.5 minutes from its creation has no delivery left that could
finish it (its message was lost, or the poison move or its function failed too): STRANDED_AFTER.
The timer runs every 15 minutes (SCHEDULE), so such a run ends `failed` at most 217.5 minutes
after it was asked for. A delivery that comes later still finds the run ended and does nothing.

Scheduled, tenant and privileged runs are not ended: they have no such bound (a large tenant's
weekend at Graph's ceiling takes hours), and each of their steps is a message of its own whose
poison function settles its slice or batch, so the run goes on to `partial`. Nor can "nothing
changed for a while" stand in for a bound there: their fetch slices wait, unchanged, for as long
as another run holds the tenant's one fetch lease (shared/pipeline/steps.py).

What no message carries yet is such a run's start: `start_run` writes the slice records, then
the run record marked `starting`, then one fetch message per slice, then clears the mark. A
process that dies in between (or a send that fails) leaves a run `fetching` that no message
names. Its creator is an invocation (the POST /api/reviews call, the Monday timer), which the
host ends after `functionTimeout`; so a run still `starting` and `fetching` past STARTING_AFTER
(functionTimeout) from its creation has lost its creator, and the timer sends its fetch messages
(`resume`). It ends as any run does, `complete` or `partial`, at most STARTING_AFTER +
SWEEP_EVERY = 45 minutes late. Sending twice is harmless (every step takes a message again, and
`tests/e2e/test_pipeline_faults.py` delivers each one twice), so the bound only spares a slow
creator a duplicate; it does not make the timer correct.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from shared.logs import bound, event
from shared.pipeline import adhoc
from shared.pipeline.records import RunRecord
from shared.pipeline.runs import Tables, send_fetches
from shared.services import Services

# host.json (tests/unit/test_stranded.py keeps these equal to it)
FUNCTION_TIMEOUT = timedelta(minutes=30)  # "functionTimeout"
VISIBILITY_TIMEOUT = timedelta(seconds=30)  # extensions.queues "visibilityTimeout"
MAX_DEQUEUE_COUNT = 5  # extensions.queues "maxDequeueCount"
# How long a message stays invisible once the host received it, if the host dies while running
# it (azure-webjobs-sdk issue #1040).
HOST_DIED_VISIBILITY = timedelta(minutes=10)

SCHEDULE = "0 */15 * * * *"  # NCRONTAB: every 15 minutes
SWEEP_EVERY = timedelta(minutes=15)


def stranded_after(*, function_timeout: timedelta = FUNCTION_TIMEOUT,
                   max_dequeue_count: int = MAX_DEQUEUE_COUNT,
                   visibility_timeout: timedelta = VISIBILITY_TIMEOUT,
                   host_died_visibility: timedelta = HOST_DIED_VISIBILITY) -> timedelta:
    """How long after its creation a one-user run can still be finished by a delivery."""
    return max_dequeue_count * (function_timeout + host_died_visibility + visibility_timeout)


STRANDED_AFTER = stranded_after()
# The longest the invocation that created a run of many users can still be sending its messages.
STARTING_AFTER = FUNCTION_TIMEOUT
WORKING = ("queued", "fetching", "scoring", "finalizing")


def is_stranded(run: RunRecord, now: datetime, bound_: timedelta = STRANDED_AFTER) -> bool:
    """Whether nothing can finish this run any more: a one-user run not ended past the bound."""
    return run.kind == "user" and run.status in WORKING and now - run.created_at > bound_


def is_unstarted(run: RunRecord, now: datetime, bound_: timedelta = STARTING_AFTER) -> bool:
    """Whether a run of many users lost the fetch messages its creator was to send."""
    return (run.kind != "user" and run.starting and run.status == "fetching"
            and now - run.created_at > bound_)


def on_timer(services: Services, now: datetime | None = None) -> None:
    """The `stranded_runs` timer: end stranded one-user runs, start runs that lost their start."""
    now = now or services.clock()
    sweep(services, now)
    resume(services, now)


def resume(services: Services, now: datetime | None = None) -> list[str]:
    """Send the fetch messages of every run whose creator died before sending them all; the ids
    of those runs."""
    now = now or services.clock()
    tables = Tables.of(services.store)
    marked = tables.runs.query("RowKey eq 'run' and starting eq true and status eq 'fetching'")
    resumed = []
    for run in marked:
        if not is_unstarted(run, now):
            continue
        with bound(runId=run.run_id):
            event("run.start_resumed", logging.WARNING, kind=run.kind,
                  slices=len(run.slice_ids), age=_minutes(now - run.created_at))
            send_fetches(services, tables, run)
        resumed.append(run.run_id)
    event("runs.start_sweep", resumed=len(resumed))
    return resumed


def sweep(services: Services, now: datetime | None = None) -> list[str]:
    """End `failed` every stranded one-user run; the ids of those it ended."""
    now = now or services.clock()
    tables = Tables.of(services.store)
    working = tables.runs.query(
        "RowKey eq 'run' and kind eq 'user' and status ne 'complete' and status ne 'partial' "
        "and status ne 'failed'")
    ended = []
    for run in working:
        if not is_stranded(run, now):
            continue
        with bound(runId=run.run_id):
            reason = (f"stranded: still {run.status} {_minutes(now - run.created_at)} after "
                      f"it was asked for, past the {_minutes(STRANDED_AFTER)} within which a "
                      f"delivery of its message could finish it"
                      + (f"; last error: {run.last_error}" if run.last_error else ""))
            event("review.user_stranded", logging.WARNING, status=run.status,
                  attempts=run.attempts)
            adhoc.fail(services, tables, run.run_id, reason)
        ended.append(run.run_id)
    event("runs.stranded_sweep", ended=len(ended))
    return ended


def _minutes(span: timedelta) -> str:
    return f"{span.total_seconds() / 60:.1f} minutes"
