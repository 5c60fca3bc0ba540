"""A privileged-account review may cover a quarter: the API accepts up to 93 days starting within
730 days (what Log Analytics keeps interactively), other scopes stay within Graph's 30 days; a
run on Graph reads the last 30 days of the period and says so, the archive and Log Analytics all
of it (reference-reports-data-retention; REFERENCE.md, Retention)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared import config
from shared.api.validation import ReviewBody, review_window
from shared.errors import InputError
from shared.model import Window
from shared.pipeline.runs import readable_part
from shared.pipeline.window import quarterly_window

NOW = datetime(2026, 10, 1, 7, tzinfo=UTC)
QUARTER = Window(start=datetime(2026, 7, 1, tzinfo=UTC),
                 end=datetime(2026, 9, 30, 23, 59, 59, tzinfo=UTC))


def body(scope: str, window: Window) -> ReviewBody:
    return ReviewBody(scope=scope, start=window.start, end=window.end)  # type: ignore[arg-type]


def test_a_quarter_is_accepted_for_privileged_scope_only() -> None:
    assert review_window(body("privileged", QUARTER), NOW) == QUARTER
    with pytest.raises(InputError, match="within the last 30 days"):
        review_window(body("tenant", QUARTER), NOW)


def test_privileged_limits_are_a_quarter_and_two_years() -> None:
    too_long = Window(start=QUARTER.start - timedelta(days=10), end=QUARTER.end)
    with pytest.raises(InputError, match="at most 93 days"):
        review_window(body("privileged", too_long), NOW)
    too_old = Window(start=NOW - timedelta(days=800), end=NOW - timedelta(days=750))
    with pytest.raises(InputError, match="within the last 730 days"):
        review_window(body("privileged", too_old), NOW)


def test_graph_reads_the_last_30_days_and_says_so() -> None:
    read, said = readable_part(QUARTER, "privileged", "graph", NOW)
    assert read.start == NOW - timedelta(days=30) + timedelta(hours=1)
    assert read.end == QUARTER.end
    assert said is not None and not said.available
    assert "Graph keeps sign-ins 30 days: read 2026-09-01 08:00" in said.detail


def test_archive_and_log_analytics_read_the_whole_quarter() -> None:
    for source in ("archive", "log-analytics"):
        read, said = readable_part(QUARTER, "privileged", source, NOW)
        assert read == QUARTER and said is not None and said.available
    assert readable_part(QUARTER, "tenant", "graph", NOW) == (QUARTER, None)


def test_a_period_graph_keeps_nothing_of_is_refused_not_reported_dormant() -> None:
    """Graph answers a query past its retention with no rows, not an error: read from Graph, a
    quarter that ended 31 days ago would show every privileged account dormant."""
    old = Window(start=NOW - timedelta(days=120), end=NOW - timedelta(days=31))
    for kind in ("privileged", "tenant", "scheduled"):
        with pytest.raises(InputError, match="nothing in it can be read from Graph"):
            readable_part(old, kind, "graph", NOW)
    for source in ("archive", "log-analytics"):
        assert readable_part(old, "privileged", source, NOW)[0] == old
    # a last hour still inside the 30 days is read, and the rest said not read
    edge = Window(start=old.start, end=NOW - timedelta(days=30) + timedelta(hours=2))
    read, said = readable_part(edge, "privileged", "graph", NOW)
    assert read.end == edge.end and said is not None and not said.available


def test_the_quarterly_timer_reviews_the_quarter_just_ended_on_its_first_business_morning(
) -> None:
    """Berlin's time zone; 1 October 2026 is a Thursday: the review of July to September starts
    that morning, and the days after do nothing. On 1 January 2027 (a Friday, a holiday) the
    first business morning is Monday 4 January."""
    settings = config.load({"AzureWebJobsStorage": "UseDevelopmentStorage=true",
                            "TENANT_TIME_ZONE": "Europe/Berlin", "HOLIDAYS": "2027-01-01"})
    window = quarterly_window(datetime(2026, 10, 1, 4, tzinfo=UTC), settings)
    assert window is not None
    assert window.start == datetime(2026, 6, 30, 22, tzinfo=UTC)  # 1 July, 00:00 in Berlin
    assert window.end == datetime(2026, 9, 30, 21, 59, 59, 999999, tzinfo=UTC)
    assert quarterly_window(datetime(2026, 10, 2, 4, tzinfo=UTC), settings) is None
    assert quarterly_window(datetime(2026, 11, 2, 5, tzinfo=UTC), settings) is None
    assert quarterly_window(datetime(2027, 1, 1, 5, tzinfo=UTC), settings) is None  # holiday
    assert quarterly_window(datetime(2027, 1, 2, 5, tzinfo=UTC), settings) is None  # Saturday
    january = quarterly_window(datetime(2027, 1, 4, 5, tzinfo=UTC), settings)
    assert january is not None and january.start == datetime(2026, 9, 30, 22, tzinfo=UTC)
    assert settings.privileged_review_schedule == "0 0 6 1-7 1,4,7,10 *"
