"""The request limiter, on a virtual clock: when grants happen, not how long the test takes."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.graph.limiter import RequestLimiter


class VirtualClock:
    """A clock that only moves when someone sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert seconds > 0, "the limiter must never sleep for nothing (that would spin)"
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(
    clock: VirtualClock, requests: int, period: float, margin: float = 0.0
) -> RequestLimiter:
    return RequestLimiter(requests, period, margin_s=margin, clock=clock, sleep=clock.sleep)


async def grant_times(lim: RequestLimiter, clock: VirtualClock, count: int) -> list[float]:
    times = []
    for _ in range(count):
        await lim.acquire()
        times.append(clock.now)
    return times


def test_first_burst_is_free_then_waits_a_period() -> None:
    clock = VirtualClock()
    times = asyncio.run(grant_times(limiter(clock, 5, 10.0), clock, 11))
    assert times == [0.0] * 5 + [10.0] * 5 + [20.0]


def test_margin_spaces_windows() -> None:
    clock = VirtualClock()
    times = asyncio.run(grant_times(limiter(clock, 2, 1.0, margin=0.1), clock, 5))
    assert times == pytest.approx([0.0, 0.0, 1.1, 1.1, 2.2])


def test_slow_caller_never_waits() -> None:
    clock = VirtualClock()
    lim = limiter(clock, 5, 10.0)

    async def run() -> None:
        for _ in range(20):
            await lim.acquire()
            clock.now += 2.5  # work between requests: 4 per 10 s, under the limit

    asyncio.run(run())
    assert clock.sleeps == []
    assert lim.waited_s == 0.0


def test_defer_holds_every_grant() -> None:
    clock = VirtualClock()
    lim = limiter(clock, 5, 10.0)

    async def run() -> list[float]:
        await lim.acquire()
        lim.defer(30.0)  # a 429 with Retry-After: 30
        return await grant_times(lim, clock, 2)

    assert asyncio.run(run()) == [30.0, 30.0]


def test_defer_never_shortens_a_wait() -> None:
    clock = VirtualClock()
    lim = limiter(clock, 1, 1.0)
    lim.defer(5.0)
    lim.defer(1.0)
    assert lim.delay(clock.now) == 5.0


def test_concurrent_waiters_share_the_window() -> None:
    clock = VirtualClock()
    lim = limiter(clock, 2, 1.0)
    granted: list[float] = []

    async def worker() -> None:
        for _ in range(3):
            await lim.acquire()
            granted.append(clock.now)

    async def run() -> None:
        await asyncio.gather(*(worker() for _ in range(4)))

    asyncio.run(run())
    assert sorted(granted) == [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 5.0, 5.0]


def test_per_second_rates() -> None:
    one = RequestLimiter.per_second(1.0)
    half = RequestLimiter.per_second(0.5)
    three = RequestLimiter.per_second(3.0)
    assert (one.requests, one.period_s) == (1, 1.0)
    assert (half.requests, half.period_s) == (1, 2.0)
    assert (three.requests, three.period_s) == (3, 1.0)


def test_bad_arguments_refused() -> None:
    with pytest.raises(ValueError):
        RequestLimiter(0, 1.0)
    with pytest.raises(ValueError):
        RequestLimiter(1, 0.0)
    with pytest.raises(ValueError):
        RequestLimiter.per_second(0)


@settings(max_examples=60, deadline=None)
@given(
    requests=st.integers(1, 8),
    period=st.floats(0.01, 20.0),
    gaps=st.lists(st.floats(0.0, 5.0), min_size=1, max_size=40),
)
def test_no_window_ever_holds_more_than_the_limit(
    requests: int, period: float, gaps: list[float]
) -> None:
    clock = VirtualClock()
    lim = limiter(clock, requests, period)
    times: list[float] = []

    async def run() -> None:
        for gap in gaps:
            clock.now += gap
            await lim.acquire()
            times.append(clock.now)

    asyncio.run(run())
    for i in range(len(times) - requests):
        assert times[i + requests] - times[i] >= period - 1e-9


def test_window_counts_from_the_answer_of_a_slow_request() -> None:
    clock = VirtualClock()
    lim = limiter(clock, 2, 1.0)

    async def run() -> list[float]:
        first = await lim.acquire()
        clock.now += 0.3  # the first answer came 0.3 s after the grant
        lim.settle(first, clock.now)
        await lim.acquire()
        return await grant_times(lim, clock, 1)

    assert asyncio.run(run()) == [1.3]


def test_settle_never_moves_a_grant_earlier() -> None:
    clock = VirtualClock()
    lim = limiter(clock, 1, 1.0)

    async def run() -> list[float]:
        clock.now = 5.0
        granted = await lim.acquire()
        lim.settle(granted, 4.0)
        return await grant_times(lim, clock, 1)

    assert asyncio.run(run()) == [6.0]


def test_an_unanswered_grant_keeps_its_slot_however_many_follow() -> None:
    """A slow request's slot is not dropped when more grants follow it: its answer still moves
    it later. Here the first of five is answered at 8 s; the sixth to ninth go out after the
    others' window, and the tenth only once 10 s have passed since that answer (before the fix
    the first grant fell out after five newer ones, and the tenth went out at 10.1 s: six
    requests in Graph's 10 s)."""
    clock = VirtualClock()
    lim = limiter(clock, 5, 10.0)

    async def run() -> list[float]:
        first = await lim.acquire()
        others = [await lim.acquire() for _ in range(4)]
        clock.now = 0.1
        for granted in others:
            lim.settle(granted, 0.1)
        times = [await lim.acquire()]  # waits for the first grant's window: 10 s
        lim.settle(first, 8.0)  # the slow first request's answer came at 8 s
        times += await grant_times(lim, clock, 4)
        return times

    assert asyncio.run(run()) == pytest.approx([10.0, 10.1, 10.1, 10.1, 18.0])


def test_an_unanswered_grant_is_given_up_after_its_hold() -> None:
    clock = VirtualClock()
    lim = RequestLimiter(1, 1.0, hold_s=5.0, clock=clock, sleep=clock.sleep)

    async def run() -> None:
        await lim.acquire()  # never answered
        clock.now = 6.0
        await lim.acquire()

    asyncio.run(run())
    assert len(lim._grants) == 1  # the first was forgotten, the second holds the slot
