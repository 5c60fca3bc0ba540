"""Which span of time a scheduled review covers, computed in the tenant's time zone.

The timer fires on business-day mornings. A morning that follows non-business days (a weekend,
holidays, or both) reviews everything since the last business day closed: Friday evening to Monday
morning, Thursday evening to Tuesday morning around a Friday and Monday holiday. An ordinary
weekday morning reviews the night before only when REVIEW_WEEKDAY_NIGHTS is on; otherwise the
timer has nothing to do. A morning that is itself a holiday or weekend does nothing: its span is
not over yet and the next business morning will cover it.

Pure functions: `now` is an argument, never read from a clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from shared.config import Settings
from shared.model import DataSource, Window

MAX_LOOKBACK_DAYS = 30  # Graph keeps sign-ins 30 days (P1/P2); a longer span cannot be fetched


def is_business_day(day: date, settings: Settings) -> bool:
    return day.weekday() in settings.business_days and day not in settings.holidays


def previous_business_day(day: date, settings: Settings) -> date | None:
    for back in range(1, MAX_LOOKBACK_DAYS + 1):
        candidate = day - timedelta(days=back)
        if is_business_day(candidate, settings):
            return candidate
    return None


def scheduled_window(now: datetime, settings: Settings) -> Window | None:
    """The window a timer firing at `now` should review, or None when there is nothing to do.

    The end is `now` floored to the hour (and never after the business day starts), so a timer
    that fires twice or late (past due) in the same hour computes the same window, which keys
    the run.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zone = settings.zone
    local_now = now.astimezone(zone)
    today = local_now.date()
    if not is_business_day(today, settings):
        return None
    last_day = previous_business_day(today, settings)
    if last_day is None:
        return None
    followed_days_off = last_day != today - timedelta(days=1)
    if not followed_days_off and not settings.review_weekday_nights:
        return None
    start_local = datetime.combine(last_day, settings.business_end, tzinfo=zone)
    day_start_local = datetime.combine(today, settings.business_start, tzinfo=zone)
    end_local = min(local_now.replace(minute=0, second=0, microsecond=0), day_start_local)
    start, end = start_local.astimezone(UTC), end_local.astimezone(UTC)
    if end <= start:
        return None
    return Window(start=start, end=end)


QUARTER_FIRST_MONTHS = (1, 4, 7, 10)


def quarterly_window(now: datetime, settings: Settings) -> Window | None:
    """The quarter just ended, when `now` is the first business morning of a quarter (in the
    tenant's time zone); else None. The quarter runs from its first local midnight to the next
    quarter's, so a timer that fires twice or late that morning computes the same window."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zone = settings.zone
    today = now.astimezone(zone).date()
    if today.month not in QUARTER_FIRST_MONTHS or not is_business_day(today, settings):
        return None
    if any(is_business_day(today.replace(day=d), settings) for d in range(1, today.day)):
        return None  # an earlier business day of the quarter already reviewed it
    year, month = (today.year, today.month - 3) if today.month > 1 else (today.year - 1, 10)
    start = datetime(year, month, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(today.year, today.month, 1, tzinfo=zone).astimezone(UTC)
    return Window(start=start, end=end - timedelta(microseconds=1))


def settle_wait(end: datetime, now: datetime, settings: Settings) -> float:
    """Seconds until sign-ins up to `end` have settled in the log (0 when they have).

    Sign-ins reach Graph late: Microsoft's report-latency figures give p95 about 2 minutes and
    p99 about 5 minutes for sign-in logs, sometimes much later (REFERENCE.md). A slice read at
    its end's minute misses its last rows; one read SIGNIN_SETTLE_MINUTES (default 15) later
    does not, except in an incident."""
    settled = end + timedelta(minutes=settings.signin_settle_minutes)
    return max(0.0, (settled - now).total_seconds())


def settling_note(window: Window, now: datetime, settings: Settings) -> DataSource | None:
    """What a review of a window that ends less than SIGNIN_SETTLE_MINUTES ago says about its
    last minutes (None when the window has settled)."""
    if settle_wait(window.end, now, settings) <= 0:
        return None
    since = max(window.start, window.end - timedelta(minutes=settings.signin_settle_minutes))
    return DataSource(
        "signInLatency", False,
        f"the window ends less than {settings.signin_settle_minutes} minutes before the review: "
        f"sign-ins after {since:%Y-%m-%d %H:%M} UTC may not have reached the log yet "
        "(Microsoft's sign-in log latency: p95 about 2 minutes, p99 about 5); review again "
        "later for them")


def slices(window: Window, hours: int) -> list[Window]:
    """Split a window into consecutive slices of at most `hours`, covering it exactly once.

    Graph's filter is inclusive at both ends (ge/le), so each slice ends one microsecond before
    the next begins; the last ends at the window's end.
    """
    if hours < 1:
        raise ValueError("slice hours must be at least 1")
    step = timedelta(hours=hours)
    result: list[Window] = []
    start = window.start
    while start < window.end:
        end = min(start + step, window.end)
        last = end >= window.end
        result.append(Window(start=start, end=end if last else end - timedelta(microseconds=1)))
        start = end
    return result


def run_id_for(window: Window, kind: str = "scheduled") -> str:
    """A run's id, derived from its window so the same window always maps to the same run."""
    fmt = "%Y%m%dT%H%MZ"
    return f"{kind}-{window.start.astimezone(UTC):{fmt}}-{window.end.astimezone(UTC):{fmt}}"
