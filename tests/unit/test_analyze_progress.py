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
        assert tasks["input read"].fields["detail"] == "5,000 rows"
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


def test_input_against_its_size_files_users_total_and_the_writing_phase(tmp_path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_bytes(b"x" * 300)
    second.write_bytes(b"y" * 700)
    stream = io.StringIO()
    with AnalyzeProgress(enabled=True, stream=stream) as progress:
        progress._started -= SHOW_AFTER_S + 1
        progress.input_size(2, 1000)
        progress.rows_read(10, first)
        assert progress._progress is not None
        read = next(t for t in progress._progress.tasks if t.description == "input read")
        assert (read.total, read.completed) == (1000, 0)
        assert read.fields["detail"] == "0/2 files, 10 rows"
        progress.rows_read(20, second)  # a new file: the first was read whole
        assert read.completed == 300 and read.fields["detail"] == "1/2 files, 30 rows"
        progress.input_read()
        assert read.completed == 1000 and read.fields["detail"] == "2/2 files, 30 rows"
        progress.users_reviewed(256, 300)
        users = next(t for t in progress._progress.tasks if t.description == "users reviewed")
        assert users.fields["detail"] == "256/300"
        progress.writing("the HTML report")
        assert any(t.description == "writing the HTML report" for t in progress._progress.tasks)


def test_a_file_read_in_parts_moves_the_bar_within_it(tmp_path) -> None:
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"z" * 1000)
    with AnalyzeProgress(enabled=True, stream=io.StringIO()) as progress:
        progress._started -= SHOW_AFTER_S + 1
        progress.input_size(1, 1000)
        progress.rows_read(5, big, part_bytes=400)
        progress.rows_read(5, big, part_bytes=400)
        assert progress._progress is not None
        read = next(t for t in progress._progress.tasks if t.description == "input read")
        assert read.completed == 800
        progress.rows_read(5, big, part_bytes=400)
        assert read.completed == 1000  # never past the file's size
