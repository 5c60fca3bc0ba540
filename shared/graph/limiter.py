"""A client-side request limiter: at most N requests in any sliding window of P seconds.

Graph's published limits are per app and tenant (sign-ins: 5 requests per 10 s; Identity
Protection: 1 per second). Pacing ourselves below them costs nothing, while a 429 costs the
Retry-After wait and, on Identity Protection, a guess (its 429s carry no Retry-After). Waiters
sleep until the moment a slot frees; nothing polls or spins. A 429's wait is shared through
`defer`, so every request of the process waits, not only the one that was refused.

The limit belongs to the app and tenant, not to one connection: `shared_limiter` hands every
connection of the process the same limiter for the same Graph endpoint and pace. Slots are
reserved under a thread lock and slept for outside it, so connections on different event loops
or threads (concurrent function invocations) share one budget safely.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Pacer(Protocol):
    """What a Graph call needs of a limiter: this class in one process, or a budget shared by
    every instance (`shared.store.budget.SharedBudget`)."""

    def now(self) -> float: ...

    async def acquire(self) -> float: ...

    def settle(self, granted: float, answered_at: float) -> None: ...

    def defer(self, seconds: float) -> None: ...


class RequestLimiter:
    """Grants at most `requests` per sliding `period_s`, plus `margin_s` of slack between
    the first and the (requests+1)-th grant."""

    def __init__(
        self,
        requests: int,
        period_s: float,
        *,
        margin_s: float = 0.0,
        hold_s: float = 400.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if requests < 1 or period_s <= 0 or margin_s < 0:
            raise ValueError("a limiter needs requests >= 1, period_s > 0 and margin_s >= 0")
        self.requests = requests
        self.period_s = period_s
        self.margin_s = margin_s
        self.hold_s = hold_s  # an unanswered grant is given up after this (its read timed out)
        self._clock = clock
        self._sleep = sleep
        # [counted from, answered?] per grant: kept until it can no longer decide a wait. An
        # unanswered grant stays however many grants follow it: its answer moves it later.
        self._grants: list[list[float]] = []
        self._not_before = float("-inf")
        self._mutex = threading.Lock()
        self.waited_s = 0.0

    @classmethod
    def per_second(
        cls,
        rate: float,
        *,
        margin_s: float = 0.0,
        hold_s: float = 400.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> RequestLimiter:
        """A limiter for a rate given per second (0.5 -> 1 request per 2 s, 3 -> 3 per 1 s)."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        requests = max(1, int(rate))
        return cls(requests, requests / rate, margin_s=margin_s, hold_s=hold_s, clock=clock,
                   sleep=sleep)

    def now(self) -> float:
        return self._clock()

    def delay(self, now: float) -> float:
        """Seconds from `now` until the next grant is allowed (0 when it is allowed now)."""
        earliest = self._not_before
        counted = sorted((g[0] for g in self._grants), reverse=True)
        if len(counted) >= self.requests:  # the N-th latest grant decides
            earliest = max(earliest, counted[self.requests - 1] + self.period_s + self.margin_s)
        return max(0.0, earliest - now)

    def _prune(self, now: float) -> None:
        """Forget grants that can no longer decide a wait: answered ones whose window has
        passed, and unanswered ones older than `hold_s` (their read has timed out)."""
        window = self.period_s + self.margin_s
        self._grants = [g for g in self._grants
                        if g[0] + window > now or (not g[1] and now - g[0] < self.hold_s)]

    async def acquire(self) -> float:
        """Reserve the next free slot (in arrival order), sleep until it, and return the grant
        time (for `settle`). A `defer` that arrives meanwhile is honoured before returning."""
        with self._mutex:
            now = self._clock()
            self._prune(now)
            granted = now + self.delay(now)
            self._grants.append([granted, 0.0])
        while (wait := max(granted, self._not_before) - self._clock()) > 0:
            self.waited_s += wait
            await self._sleep(wait)
        return granted

    def settle(self, granted: float, answered_at: float) -> None:
        """Count a grant from when its answer came back instead of when it was granted.

        The server counts a request when it arrives, somewhere between our grant and its
        answer; arrival lags (SDK warm-up, a new connection, the server's own queue) vary, and
        measured against Graph's window from the grant they turn into 429s. Counted from the
        answer, the next window can only start late, never early."""
        answered_at = max(answered_at, granted)
        with self._mutex:
            for grant in self._grants:
                if grant[0] == granted and not grant[1]:
                    grant[:] = [answered_at, 1.0]
                    return

    def defer(self, seconds: float) -> None:
        """Hold every grant back for `seconds` from now (a Retry-After, or a backoff)."""
        with self._mutex:
            self._not_before = max(self._not_before, self._clock() + max(0.0, seconds))


_shared: dict[tuple[object, ...], RequestLimiter] = {}
_shared_mutex = threading.Lock()


def shared_limiter(key: tuple[object, ...], make: Callable[[], RequestLimiter]) -> RequestLimiter:
    """The process's one limiter for `key` (endpoint and pace), made on first use."""
    with _shared_mutex:
        found = _shared.get(key)
        if found is None:
            found = _shared[key] = make()
        return found
