"""A review's window is checked against how far back its sign-in source reaches: Graph's 30 days
(P1/P2, which reading signIns needs), the archive's and a workspace's as their owner kept them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.api.validation import ReviewBody, review_window
from shared.errors import InputError

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def body(days_back: int) -> ReviewBody:
    start = NOW - timedelta(days=days_back)
    return ReviewBody(start=start, end=start + timedelta(days=2))


def test_graph_windows_reach_back_30_days() -> None:
    assert review_window(body(29), NOW, "graph").start == NOW - timedelta(days=29)
    with pytest.raises(InputError, match="within the last 30 days"):
        review_window(body(40), NOW, "graph")


@pytest.mark.parametrize("source", ["archive", "log-analytics"])
def test_archives_and_workspaces_are_not_held_to_graphs_30_days(source: str) -> None:
    assert review_window(body(40), NOW, source).start == NOW - timedelta(days=40)
