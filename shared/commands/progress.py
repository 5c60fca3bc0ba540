"""Progress of a long `analyze` on stderr (rich): the input read against its size (percent,
files, rows, time left), users reviewed against their number, then the report being written.

Shown only when stderr is a terminal, `--quiet` was not given, and the run has lasted a second:
a short run prints nothing, and a pipe or a log file never receives control sequences.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

SHOW_AFTER_S = 1.0


class AnalyzeProgress:
    """Counts rows read and users reviewed; draws them once the run has lasted a second."""

    def __init__(self, *, enabled: bool, stream: IO[str] | None = None) -> None:
        self.enabled = enabled
        self._stream = stream or sys.stderr
        self._started = time.monotonic()
        self._progress: Progress | None = None
        self._rows: TaskID | None = None
        self._users: TaskID | None = None
        self.rows = 0
        self.users = 0
        self.users_total: int | None = None
        self.files_total = 0
        self.bytes_total = 0
        self.files_done = 0
        self.bytes_done = 0
        self._current: str | None = None
        self._current_size = 0
        self._within = 0  # bytes of the current file read so far, when it is read in parts
        self._writing: TaskID | None = None

    @classmethod
    def for_terminal(cls, *, quiet: bool) -> AnalyzeProgress:
        return cls(enabled=not quiet and sys.stderr.isatty())

    def input_size(self, files: int, total_bytes: int) -> None:
        """What will be read: the bar's total (known before the first row)."""
        self.files_total, self.bytes_total = files, total_bytes

    def rows_read(self, count: int, path: object = None, part_bytes: int = 0) -> None:
        """`count` more rows read, from `path` when known: a new path means the file before
        it was read whole; `part_bytes`, when the file is read in parts, moves the bar within
        it (at most to its size)."""
        self.rows += count
        if path is not None and str(path) != self._current:
            self._file_done()
            self._current = str(path)
            try:
                self._current_size = Path(str(path)).stat().st_size
            except OSError:
                self._current_size = 0
        if part_bytes and self._current is not None:
            self._within = min(self._current_size, self._within + part_bytes)
        self._draw()

    def input_read(self) -> None:
        """Every file has been read."""
        self._file_done()
        self.files_done = max(self.files_done, self.files_total)
        self.bytes_done = max(self.bytes_done, self.bytes_total)
        self._draw()

    def _file_done(self) -> None:
        if self._current is not None:
            self.files_done += 1
            self.bytes_done += self._current_size
            self._current, self._current_size, self._within = None, 0, 0

    def writing(self, what: str) -> None:
        """The report-writing phase has begun (`what`: "the HTML report")."""
        self.input_read()
        if self._progress is not None and self._writing is None:
            self._writing = self._progress.add_task(f"writing {what}", total=None, detail="")

    def users_reviewed(self, done: int, total: int) -> None:
        self.users, self.users_total = done, total
        if done % 256 == 0 or done == total:
            self._draw()

    def _draw(self) -> None:
        if not self.enabled or time.monotonic() - self._started < SHOW_AFTER_S:
            return
        if self._progress is None:
            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                TextColumn("{task.fields[detail]}"), TimeRemainingColumn(),
                console=Console(file=self._stream), transient=True,
            )
            self._progress.start()
            self._rows = self._progress.add_task("input read", total=self.bytes_total or None,
                                                 detail="")
        files = f"{self.files_done}/{self.files_total} files, " if self.files_total else ""
        self._progress.update(self._rows or TaskID(0), completed=self.bytes_done + self._within,
                              detail=f"{files}{self.rows:,} rows")
        if self.users_total is not None:
            if self._users is None:
                self._users = self._progress.add_task("users reviewed", total=self.users_total,
                                                      detail="")
            self._progress.update(self._users, completed=self.users,
                                  detail=f"{self.users:,}/{self.users_total:,}")

    def __enter__(self) -> AnalyzeProgress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()
