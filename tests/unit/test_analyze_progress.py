"""The progress display of `analyze`: drawn on a terminal once a run has lasted a second,
never for --quiet or a pipe. The clock is not waited on: the start time is set back."""

from __future__ import annotations

import io

from shared.commands.progress import SHOW_AFTER_S, AnalyzeProgress


def test_a_long_run_shows_rows_and_users() -> None:
    stream = io.StringIO()
    with AnalyzeProgress(enabled=True, stream=stream) as progress:
        progress._started -= SHOW_AFTER_S + 1  # a run that has lasted past the threshold
        progress.rows_read(5000)
        progress.users_reviewed(256, 300)
        assert progress._progress is not None
        tasks = {task.description: task for task in progress._progress.tasks}
        assert tasks["rows read"].completed == 5000
        assert (tasks["users reviewed"].completed, tasks["users reviewed"].total) == (256, 300)


def test_short_or_quiet_runs_draw_nothing() -> None:
    for enabled, lasted in ((True, 0.0), (False, SHOW_AFTER_S + 1)):
        stream = io.StringIO()
        with AnalyzeProgress(enabled=enabled, stream=stream) as progress:
            progress._started -= lasted
            progress.rows_read(10)
            progress.users_reviewed(1, 1)
        assert progress._progress is None and stream.getvalue() == ""


def test_not_a_terminal_means_no_display() -> None:
    assert not AnalyzeProgress.for_terminal(quiet=False).enabled  # pytest captures stderr
    assert not AnalyzeProgress.for_terminal(quiet=True).enabled
