"""The sample tenant's clock: the weekend window, the history before it, local working days.

Everything is epoch seconds (UTC). Local times go through zoneinfo once per (time zone, day), so
daylight-saving changes inside the history (the US changes in early March) come out right.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.model import Window

# The default window is the last full weekend before this date, so output never depends on today.
REFERENCE_DATE = datetime(2025, 3, 19, tzinfo=UTC)
HOUR = 3600
DAY = 86400
WINDOW_HOURS = 60  # Friday 18:00 to Monday 06:00


def weekend_window(window_end: datetime | None = None) -> Window:
    """The weekend (Friday 18:00 to Monday 06:00 UTC) ending at or before `window_end`.

    Without `window_end`, the last such weekend before REFERENCE_DATE; a naive `window_end` is
    taken as UTC.
    """
    limit = window_end or REFERENCE_DATE
    limit = limit.replace(tzinfo=UTC) if limit.tzinfo is None else limit.astimezone(UTC)
    monday = limit.date() - timedelta(days=limit.weekday())
    end = datetime.combine(monday, time(6), tzinfo=UTC)
    if end > limit:
        end -= timedelta(days=7)
    return Window(start=end - timedelta(hours=WINDOW_HOURS), end=end)


class Timeline:
    """The span a tenant covers: `history_days` before the window, then the window."""

    def __init__(self, window: Window, history_days: int) -> None:
        self.window = window
        self.start = int(window.start.timestamp())
        self.end = int(window.end.timestamp())
        self.history_start = self.start - history_days * DAY
        first = window.start.date() - timedelta(days=history_days + 1)
        last = window.end.date() + timedelta(days=1)
        self.days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        self._midnights: dict[tuple[str, date], int] = {}
        self._zones: dict[str, ZoneInfo] = {}

    def midnight(self, time_zone: str, day: date) -> int:
        """Epoch seconds of local midnight starting `day` in `time_zone`."""
        key = (time_zone, day)
        found = self._midnights.get(key)
        if found is None:
            zone = self._zones.setdefault(time_zone, ZoneInfo(time_zone))
            found = int(datetime.combine(day, time(0), tzinfo=zone).timestamp())
            self._midnights[key] = found
        return found

    def local(self, time_zone: str, day: date, hour: float) -> int:
        """Epoch seconds of `hour` (fractions allowed) local time on `day`."""
        return self.midnight(time_zone, day) + int(hour * HOUR)

    def in_range(self, at: int) -> bool:
        """Whether a time falls in history or the window."""
        return self.history_start <= at < self.end

    @property
    def saturday(self) -> date:
        return self.window.start.date() + timedelta(days=1)

    @property
    def sunday(self) -> date:
        return self.window.start.date() + timedelta(days=2)
