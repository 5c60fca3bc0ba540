"""What an import found wrong: bad rows (file and line), fields set aside, notes about files,
and the counts behind the loss summary every output shows (`shared.model.InputSummary`)."""

from __future__ import annotations

from collections import Counter

import msgspec

from shared.imports.records import reason_of
from shared.model import InputSummary, SignIn

# A hostile or badly broken file must not flood the report: past this many problems in one file,
# the rest are counted in one closing note (and every one of them in the loss summary).
MAX_PROBLEMS_PER_FILE = 100
EXAMPLES_PER_REASON = 3


class ImportProblem(msgspec.Struct, frozen=True):
    """A row that was skipped, or a note about a whole file; `line` is 1-based when known."""

    source: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}" if self.line else \
            f"{self.source}: {self.message}"


class ImportResult(msgspec.Struct):
    """Sign-ins read from export files, the problems met, the format detected per file, and
    the loss summary (rows read, kept, rejected by reason, fields set aside by field)."""

    sign_ins: list[SignIn]
    problems: list[ImportProblem]
    formats: dict[str, str]  # path -> detected format
    summary: InputSummary = msgspec.field(default_factory=InputSummary)


class ProblemLog:
    """Collects the problems of one file (at most MAX_PROBLEMS_PER_FILE listed) and counts every
    rejected row by reason and every set-aside field by its path."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[ImportProblem] = []
        self.dropped = 0
        self.set_aside: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}
        self.rows_read = 0
        self.without_user = 0

    def reject(self, line: int | None, error: BaseException, message: str | None = None) -> None:
        """A row that cannot be read: counted under its reason, listed with its line."""
        self.add(line, message or str(error), reason_of(error))

    def add(self, line: int | None, message: str, reason: str | None = None) -> None:
        reason = reason or message
        self.rejected[reason] += 1
        examples = self.examples.setdefault(reason, [])
        if len(examples) < EXAMPLES_PER_REASON:
            examples.append(f"{self.source}:{line}" if line else self.source)
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
                      f"{MAX_PROBLEMS_PER_FILE} are listed; all are counted in the summary)")
            self.dropped = 0
        return self.problems


def add_to_summary(summary: InputSummary, log: ProblemLog) -> None:
    """Fold one file's counts into the run's loss summary."""
    summary.files += 1
    summary.rows_read += log.rows_read
    summary.without_user += log.without_user
    _merge(summary.fields_set_aside, log.set_aside)
    _merge(summary.rows_rejected, log.rejected)
    for reason, examples in log.examples.items():
        kept = summary.rejected_examples.setdefault(reason, [])
        kept.extend(examples[: EXAMPLES_PER_REASON - len(kept)])


def _merge(total: dict[str, int], more: Counter[str]) -> None:
    for key, count in more.items():
        total[key] = total.get(key, 0) + count


def _shorten(message: str, limit: int = 300) -> str:
    """Problem text quotes file content; a huge cell must not become a huge message."""
    return message if len(message) <= limit else message[: limit - 3] + "..."
