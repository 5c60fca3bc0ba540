"""Progress of a long `analyze` on stderr (rich): rows read, users reviewed, time left.

Shown only when stderr is a terminal, `--quiet` was not given, and the run has lasted a second:
a short run prints nothing, and a pipe or a log file never receives control sequences.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

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

    @classmethod
    def for_terminal(cls, *, quiet: bool) -> AnalyzeProgress:
        return cls(enabled=not quiet and sys.stderr.isatty())

    def rows_read(self, count: int) -> None:
        self.rows += count
        self._draw()

    def users_reviewed(self, done: int, total: int) -> None:
        self.users, self.users_total = done, total
        if done % 256 == 0 or done == total:
            self._draw()

    def _draw(self) -> None:
        if not self.enabled or time.monotonic() - self._started < SHOW_AFTER_S:
            return
        if self._progress is None:
            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(),
                TextColumn("{task.completed:,.0f}"), TimeRemainingColumn(),
                console=Console(file=self._stream), transient=True,
            )
            self._progress.start()
            self._rows = self._progress.add_task("rows read", total=None)
        self._progress.update(self._rows or TaskID(0), completed=self.rows)
        if self.users_total is not None:
            if self._users is None:
                self._users = self._progress.add_task("users reviewed", total=self.users_total)
            self._progress.update(self._users, completed=self.users)

    def __enter__(self) -> AnalyzeProgress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()
