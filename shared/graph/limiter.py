"""A client-side request limiter: at most N requests in any sliding window of P seconds.

Graph's published limits are per app and tenant (sign-ins: 5 requests per 10 s; Identity
Protection: 1 per second). Pacing ourselves below them costs nothing, while a 429 costs the
Retry-After wait and, on Identity Protection, a guess (its 429s carry no Retry-After). Waiters
sleep until the moment a slot frees; nothing polls or spins. A 429's wait is shared through
`defer`, so every request of the process waits, not only the one that was refused.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class RequestLimiter:
    """Grants at most `requests` per sliding `period_s`, plus `margin_s` of slack between
    the first and the (requests+1)-th grant, so a little jitter in arrival times at the server
    does not turn into a 429."""

    def __init__(
        self,
        requests: int,
        period_s: float,
        *,
        margin_s: float = 0.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if requests < 1 or period_s <= 0 or margin_s < 0:
            raise ValueError("a limiter needs requests >= 1, period_s > 0 and margin_s >= 0")
        self.requests = requests
        self.period_s = period_s
        self.margin_s = margin_s
        self._clock = clock
        self._sleep = sleep
        self._grants: deque[float] = deque(maxlen=requests)
        self._not_before = float("-inf")
        self._lock = asyncio.Lock()
        self.waited_s = 0.0

    @classmethod
    def per_second(
        cls,
        rate: float,
        *,
        margin_s: float = 0.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> RequestLimiter:
        """A limiter for a rate given per second (0.5 -> 1 request per 2 s, 3 -> 3 per 1 s)."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        requests = max(1, int(rate))
        return cls(requests, requests / rate, margin_s=margin_s, clock=clock, sleep=sleep)

    def delay(self, now: float) -> float:
        """Seconds from `now` until the next grant is allowed (0 when it is allowed now)."""
        earliest = self._not_before
        if len(self._grants) == self.requests:
            earliest = max(earliest, self._grants[0] + self.period_s + self.margin_s)
        return max(0.0, earliest - now)

    async def acquire(self) -> None:
        """Wait (sleeping, in arrival order) until a request may be sent, and count it."""
        async with self._lock:
            while (wait := self.delay(self._clock())) > 0:
                self.waited_s += wait
                await self._sleep(wait)
            self._grants.append(self._clock())

    def defer(self, seconds: float) -> None:
        """Hold every grant back for `seconds` from now (a Retry-After, or a backoff)."""
        self._not_before = max(self._not_before, self._clock() + max(0.0, seconds))
