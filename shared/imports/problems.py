"""What an import found wrong: bad rows (file and line) and notes about skipped records."""

from __future__ import annotations

import msgspec

from shared.model import SignIn

# A hostile or badly broken file must not flood the report: past this many problems in one file,
# the rest are counted in one closing note.
MAX_PROBLEMS_PER_FILE = 100


class ImportProblem(msgspec.Struct, frozen=True):
    """A row that was skipped, or a note about a whole file; `line` is 1-based when known."""

    source: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}" if self.line else \
            f"{self.source}: {self.message}"


class ImportResult(msgspec.Struct):
    """Sign-ins read from export files, the problems met, and the format detected per file."""

    sign_ins: list[SignIn]
    problems: list[ImportProblem]
    formats: dict[str, str]  # path -> detected format


class ProblemLog:
    """Collects the problems of one file, keeping at most MAX_PROBLEMS_PER_FILE of them."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[ImportProblem] = []
        self.dropped = 0

    def add(self, line: int | None, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS_PER_FILE:
            self.problems.append(ImportProblem(self.source, line, _shorten(message)))
        else:
            self.dropped += 1

    def note(self, message: str) -> None:
        """A remark about the whole file (always kept)."""
        self.problems.append(ImportProblem(self.source, None, message))

    def finish(self) -> list[ImportProblem]:
        if self.dropped:
            self.note(f"{self.dropped} more bad rows skipped (only the first "
                      f"{MAX_PROBLEMS_PER_FILE} are listed)")
            self.dropped = 0
        return self.problems


def _shorten(message: str, limit: int = 300) -> str:
    """Problem text quotes file content; a huge cell must not become a huge message."""
    return message if len(message) <= limit else message[: limit - 3] + "..."
