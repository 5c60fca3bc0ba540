"""Travel legs and speeds, the activity chart's bars, and long timelines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.model import Finding, Window
from shared.report.chart import activity_chart
from shared.report.map_picture import map_picture
from shared.report.timeline import TimelineGap, TimelineRow, outcome, timeline
from shared.report.travel import legs, places, projection
from tests.unit.test_report_sample import sign_in

T0 = datetime(2025, 3, 8, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_leg_speed_seattle_to_lagos() -> None:
    trip = [sign_in("x", at(0), "seattle", "1.1.1.1"), sign_in("x", at(600), "lagos", "2.2.2.2")]
    (leg,) = legs(trip, places(trip))
    assert leg.km == pytest.approx(12_003, rel=0.01)
    assert leg.kmh == pytest.approx(1_200, rel=0.01)
    assert leg.implausible


def test_short_hops_are_noise_and_same_second_is_implausible() -> None:
    hop = [sign_in("x", at(0), "seattle", "1.1.1.1"), sign_in("x", at(1), "redmond", "1.1.1.2")]
    assert legs(hop, places(hop)) == []
    jump = [sign_in("x", at(0), "seattle", "1.1.1.1"), sign_in("x", at(0), "portland", "1.1.1.3")]
    (leg,) = legs(jump, places(jump))
    assert leg.kmh is None and leg.implausible


def test_legs_follow_the_timeline_not_the_places_seen() -> None:
    trip = [sign_in("x", at(m), place, "1.1.1.1") for m, place in
            [(0, "seattle"), (60, "nowhere"), (6000, "amsterdam"), (6060, "amsterdam")]]
    (leg,) = legs(list(reversed(trip)), places(trip))
    assert (leg.origin.name, leg.destination.name) == ("Seattle, Washington, US",
                                                       "Amsterdam, North Holland, NL")
    assert leg.kmh is not None and leg.kmh < 900


def test_picture_keeps_every_point_inside_the_frame() -> None:
    trip = [sign_in("x", at(m * 60), p, "1.1.1.1")
            for m, p in enumerate(["seattle", "lagos", "amsterdam", "chicago", "nowhere"])]
    picture = map_picture(trip)
    assert len(picture.points) == 4 and picture.unlocated == 1
    for point in picture.points:
        assert 0 < point.x < picture.width and 0 < point.y < picture.height
    assert {line.leg.origin.number for line in picture.lines} == {1, 2, 3}
    assert picture.meridians and picture.parallels


def test_projection_of_a_single_point_is_centred() -> None:
    trip = [sign_in("x", at(0), "seattle", "1.1.1.1")]
    view = projection(list(places(trip).values()))
    assert view.xy(47.61, -122.33) == (320.0, 160.0)


def test_chart_counts_outcomes_per_hour() -> None:
    window = Window(T0, T0 + timedelta(hours=6))
    rows = [sign_in("x", at(5), "seattle", "1.1.1.1"),
            sign_in("x", at(10), "seattle", "1.1.1.1", code=50126),
            sign_in("x", at(70), "seattle", "1.1.1.1", code=50074),
            sign_in("x", at(-5), "seattle", "1.1.1.1")]
    chart = activity_chart(window, rows)
    assert len(chart.bars) == 6 and chart.bar_hours == 1
    first, second = chart.bars[:2]
    assert (first.success, first.failure, first.interrupt) == (1, 1, 0)
    assert (second.success, second.interrupt) == (0, 1)
    assert chart.peak == 2 and chart.outside_window == 1


def test_long_windows_use_wider_bars() -> None:
    chart = activity_chart(Window(T0, T0 + timedelta(days=30)), [])
    assert chart.bar_hours == 3 and len(chart.bars) == 240
    assert len(chart.day_ticks) <= 15


def test_outcomes_by_error_code() -> None:
    assert [outcome(c) for c in (0, 50126, 50074, 50140, 65001, 500121, 50053)] == [
        "success", "failure", "interrupt", "interrupt", "interrupt", "failure", "failure"]


def test_long_timeline_keeps_cited_sign_ins_and_marks_gaps() -> None:
    rows = [sign_in("x", at(m), "seattle", "1.1.1.1") for m in range(1000)]
    finding = Finding("repeated_failures", "medium", "x", [rows[700].id, rows[999].id])
    shown = timeline(rows, [finding], limit=50)
    kept = [r for r in shown if isinstance(r, TimelineRow)]
    gaps = [r for r in shown if isinstance(r, TimelineGap)]
    assert len(kept) == 50
    assert [r.cited_by for r in kept].count((1,)) == 2
    assert len(kept) + sum(g.skipped for g in gaps) == 1000
