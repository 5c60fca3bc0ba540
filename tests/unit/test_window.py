"""Which span a scheduled review covers: weekends, holidays, time zones, late and double timers."""

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest

from shared import config
from shared.model import Window
from shared.pipeline.window import run_id_for, scheduled_window, slices

BERLIN = {"TENANT_TIME_ZONE": "Europe/Berlin"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_monday_reviews_friday_evening_to_monday_morning() -> None:
    settings = config.load(BERLIN)
    window = scheduled_window(at("2026-11-23T06:00:00+01:00"), settings)
    assert window == Window(start=at("2026-11-20T18:00:00+01:00"),
                            end=at("2026-11-23T06:00:00+01:00"))


def test_late_and_double_firing_give_the_same_window() -> None:
    settings = config.load(BERLIN)
    on_time = scheduled_window(at("2026-11-23T06:00:00.2+01:00"), settings)
    late = scheduled_window(at("2026-11-23T06:41:00+01:00"), settings)
    assert on_time == late and on_time is not None
    assert run_id_for(on_time) == run_id_for(late) == "scheduled-20261120T1700Z-20261123T0500Z"


def test_friday_and_monday_holidays_extend_the_window() -> None:
    settings = config.load({**BERLIN, "HOLIDAYS": "2026-12-25,2026-12-28"})
    assert scheduled_window(at("2026-12-28T06:00:00+01:00"), settings) is None  # a holiday
    window = scheduled_window(at("2026-12-29T06:00:00+01:00"), settings)
    assert window == Window(start=at("2026-12-24T18:00:00+01:00"),
                            end=at("2026-12-29T06:00:00+01:00"))


def test_ordinary_weekday_does_nothing_unless_nights_are_reviewed() -> None:
    tuesday = at("2026-11-24T06:00:00+01:00")
    assert scheduled_window(tuesday, config.load(BERLIN)) is None
    nights = config.load({**BERLIN, "REVIEW_WEEKDAY_NIGHTS": "true"})
    assert scheduled_window(tuesday, nights) == Window(
        start=at("2026-11-23T18:00:00+01:00"), end=at("2026-11-24T06:00:00+01:00"))


def test_weekend_timer_does_nothing() -> None:
    assert scheduled_window(at("2026-11-21T06:00:00+01:00"), config.load(BERLIN)) is None


def test_daylight_saving_change_inside_the_window() -> None:
    # Europe/Berlin leaves summer time on Sunday 2026-10-25: the weekend is an hour longer.
    window = scheduled_window(at("2026-10-26T06:00:00+01:00"), config.load(BERLIN))
    assert window is not None
    assert window.start == at("2026-10-23T18:00:00+02:00")
    assert window.end - window.start == timedelta(hours=61)


def test_timer_after_business_start_is_capped_at_business_start() -> None:
    window = scheduled_window(at("2026-11-23T11:30:00+01:00"), config.load(BERLIN))
    assert window is not None and window.end == at("2026-11-23T08:00:00+01:00")


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError):
        scheduled_window(datetime(2026, 11, 23, 6), config.load({}))


@pytest.mark.parametrize("hours", [1, 5, 6, 24, 100])
def test_slices_cover_the_window_once(hours: int) -> None:
    window = Window(start=at("2026-11-20T17:00:00+00:00"), end=at("2026-11-23T05:00:00+00:00"))
    parts = slices(window, hours)
    assert parts[0].start == window.start and parts[-1].end == window.end
    for before, after in pairwise(parts):
        assert after.start - before.end == timedelta(microseconds=1)
        assert before.end - before.start < timedelta(hours=hours)


def test_holiday_dates_are_local_dates() -> None:
    # 2026-12-25 00:30 in Auckland is still 12-24 in UTC: the local date decides.
    settings = config.load({"TENANT_TIME_ZONE": "Pacific/Auckland", "HOLIDAYS": "2026-12-25"})
    assert date(2026, 12, 25) in settings.holidays
    assert scheduled_window(at("2026-12-25T06:00:00+13:00"), settings) is None


def test_sign_ins_settle_for_fifteen_minutes_by_default() -> None:
    from shared.pipeline.window import settle_wait, settling_note

    settings = config.load({})
    end = at("2026-11-23T06:00:00+00:00")
    assert settings.signin_settle_minutes == 15
    assert settle_wait(end, end, settings) == 900.0
    assert settle_wait(end, end + timedelta(minutes=14), settings) == 60.0
    assert settle_wait(end, end + timedelta(minutes=15), settings) == 0.0
    window = Window(start=end - timedelta(hours=2), end=end)
    note = settling_note(window, end + timedelta(minutes=1), settings)
    assert note is not None and not note.available
    assert "after 2026-11-23 05:45 UTC may not have reached the log" in note.detail
    assert settling_note(window, end + timedelta(minutes=15), settings) is None
    none = config.load({"SIGNIN_SETTLE_MINUTES": "0"})
    assert settle_wait(end, end, none) == 0.0
