"""How long storage calls keep trying, and how their final failure is reported.

The azure SDK clients retry transient failures themselves (connection refused, 5xx, 503 "server
busy"); here their schedule is made explicit and bounded: a storage outage of up to about a
minute is ridden out, a longer one ends in `shared.errors.StorageError`. Writes are retried too,
so every write in this package is idempotent or conditional (create-only, If-Match). One gap in
the SDK's retries: azure-core retries no POST after a connection error, and Table's creates and
transactions are POSTs; `EntityTable` retries those itself on the same schedule (tables.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgspec

from shared.errors import StorageError


class RetrySchedule(msgspec.Struct, frozen=True):
    """Retries of one storage request: backoff doubles from `first_backoff_s` up to the cap."""

    retries: int = 8
    first_backoff_s: float = 0.5
    max_backoff_s: float = 15.0

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1-based)."""
        return float(min(self.first_backoff_s * 2 ** max(retry - 1, 0), self.max_backoff_s))

    @property
    def total_wait_s(self) -> float:
        """The longest outage one request rides out (backoffs only, excluding request time)."""
        return sum(self.backoff(n) for n in range(1, self.retries + 1))


DEFAULT_RETRY = RetrySchedule()  # 0.5, 1, 2, 4, 8, 15, 15, 15: about a minute


def blob_queue_retry_policy(base: type[Any], schedule: RetrySchedule) -> Any:
    """A retry policy for the blob or queue client: `base` is that SDK's `ExponentialRetry`.

    Connection, read and status retries all get the full count: the SDK default of 3 connection
    retries would give up on a restarting emulator within seconds.
    """

    class ScheduledRetry(base):  # type: ignore[misc]
        def get_backoff_time(self, settings: dict[str, Any]) -> float:
            return schedule.backoff(int(settings["count"]))

    return ScheduledRetry(
        retry_total=schedule.retries,
        retry_connect=schedule.retries,
        retry_read=schedule.retries,
        retry_status=schedule.retries,
        random_jitter_range=0,
    )


def table_retry_options(schedule: RetrySchedule) -> dict[str, Any]:
    """Keyword options for the table client's retry policy (azure.core's exponential mode:
    an immediate first retry, then backoff_factor * 2 ** (n - 1), capped)."""
    return {
        "retry_total": schedule.retries,
        "retry_connect": schedule.retries,
        "retry_read": schedule.retries,
        "retry_status": schedule.retries,
        "retry_backoff_factor": schedule.first_backoff_s / 2,
        "retry_backoff_max": schedule.max_backoff_s,
    }


def describe(exc: BaseException) -> str:
    """A short account of an azure SDK error: status and service error code when there is one."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    code = getattr(exc, "error_code", None)
    code = str(getattr(code, "value", code) or "")  # the SDKs give str enums or plain strings
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    if status is None:
        return f"storage unreachable after retries ({type(exc).__name__}: {first_line})"
    missing = code in ("ContainerNotFound", "TableNotFound", "QueueNotFound")
    hint = " (create it with ensure_resources)" if missing else ""
    return f"HTTP {status} {code}{hint}: {first_line}"


@contextmanager
def storage_errors(action: str, **ids: str | None) -> Iterator[None]:
    """Turn an azure SDK error that escapes the block into a StorageError naming the action."""
    try:
        yield
    except Exception as exc:
        from azure.core.exceptions import AzureError

        if not isinstance(exc, AzureError):
            raise
        raise StorageError(f"{action} failed: {describe(exc)}", **ids) from exc
