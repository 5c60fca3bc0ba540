"""Sign-ins and failures over the review window, as bars for the overview chart.

One bar per hour; windows longer than two weeks use wider bars (2, 3, 6, 12 or 24 hours) so the
chart stays readable. Each bar stacks successes, interrupts and failures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.model import SignIn, Window
from shared.report.text import utc
from shared.report.timeline import outcome

MAX_BARS = 336
_BAR_HOURS = (1, 2, 3, 6, 12, 24)

WIDTH = 1000.0
HEIGHT = 160.0


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    start: datetime
    success: int
    interrupt: int
    failure: int

    @property
    def total(self) -> int:
        return self.success + self.interrupt + self.failure


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    bar_hours: int
    peak: int
    outside_window: int
    day_ticks: list[tuple[float, str]]

    def height_of(self, count: int) -> float:
        return round(HEIGHT * count / self.peak, 1) if self.peak else 0.0


def _bar_hours(window: Window) -> int:
    hours = max((window.end - window.start).total_seconds() / 3600, 1)
    return next((h for h in _BAR_HOURS if hours / h <= MAX_BARS), 24)


def activity_chart(window: Window, sign_ins: Iterable[SignIn]) -> Chart:
    """Counts per bar of the window, and where each day starts on the x axis."""
    bar_hours = _bar_hours(window)
    start = utc(window.start).replace(minute=0, second=0, microsecond=0)
    end = utc(window.end)
    step = timedelta(hours=bar_hours)
    count = max(int((end - start) / step) + (1 if (end - start) % step else 0), 1)
    tallies = [[0, 0, 0] for _ in range(count)]
    outside = 0
    for sign_in in sign_ins:
        moment = utc(sign_in.created_date_time)
        index = int((moment - start) / step) if moment >= start else -1
        if index < 0 or index >= count or moment > end:
            outside += 1
            continue
        how = outcome(sign_in.error_code)
        tallies[index][("success", "interrupt", "failure").index(how)] += 1
    width = WIDTH / count
    bars = [Bar(round(i * width, 2), round(width, 2), start + i * step, *tally)
            for i, tally in enumerate(tallies)]
    peak = max((bar.total for bar in bars), default=0)
    return Chart(bars, bar_hours, peak, outside, _day_ticks(bars, width))


def _day_ticks(bars: Sequence[Bar], width: float) -> list[tuple[float, str]]:
    """x position and label of each midnight UTC; thinned to at most 14 labels."""
    midnights = [(bar.x, bar.start.strftime("%a %d %b")) for bar in bars
                 if bar.start.hour == 0]
    every = max(1, -(-len(midnights) // 14))
    return midnights[::every]
