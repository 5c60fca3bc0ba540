"""Readers for exported sign-in logs: every format becomes `shared.model.SignIn`.

    result = read_paths(["InteractiveSignIns_2025-03-10.csv", "signins.jsonl", "out/"])
    result.sign_ins   # list[SignIn], duplicates removed, in file order
    result.problems   # rows skipped (file and line) and notes about whole files
    result.formats    # path -> "graph" | "sentinel" | "azure-monitor" | "portal" | "elastic"
    result.summary    # InputSummary: rows read, kept, rejected by reason, fields set aside

Formats (auto-detected from content; see detect.py): Graph signIn JSON (`{"value": [...]}`, an
array, JSON lines; also the portal's JSON download), Log Analytics SigninLogs (CSV or JSON),
Azure Monitor diagnostic records, Elastic (ECS) documents of them, and the Entra portal's CSV
download. A file that is not a sign-in export, cannot be read, or holds no user sign-ins raises
InputError naming it; a row whose user, time or result cannot be read is reported as an
ImportProblem and skipped (counted by reason); an unreadable optional field is set aside alone
(counted by field) and its sign-in kept.

Two rules apply to every format: a record without a user (service principal and managed
identity sign-ins) is not reviewed and is counted in a note; and a record repeating an earlier
one (same id, user, time and address: Log Analytics writes one row per authentication step) is
dropped. Records sharing an id but not its user, time or address are all kept, and their ids
counted (`summary.conflicting_ids`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from shared.bulk import paused_gc
from shared.compact import compact
from shared.errors import InputError
from shared.imports.csvfiles import read_csv
from shared.imports.dates import DATE_ORDERS, DateOrder
from shared.imports.detect import FORMATS
from shared.imports.jsonfiles import read_json
from shared.imports.lines import users_only
from shared.imports.paths import expand_paths
from shared.imports.problems import ImportProblem, ImportResult, ProblemLog, add_to_summary
from shared.imports.sources import Source
from shared.model import InputSummary, SignIn

# Sign-ins read so far: the first per id, and every variant of an id that came back changed.
_Seen = tuple[dict[str, SignIn], dict[str, list[SignIn]]]

__all__ = ["DATE_ORDERS", "FORMATS", "ImportProblem", "ImportResult", "read_each", "read_file",
           "read_paths"]


def read_paths(
    paths: Sequence[str | Path], *, format: str = "auto", date_order: DateOrder | None = None
) -> ImportResult:
    """Read sign-in exports: files, folders of them, or glob patterns. `format`: "auto" or one
    of FORMATS, for every file. `date_order` ("month-first" / "day-first") settles numeric dates
    a file cannot settle itself. One file that cannot be read (or holds no user sign-ins) raises
    InputError; among several, such a file is refused with one line and the others are read,
    unless every one is refused."""
    result = ImportResult(sign_ins=[], problems=[], formats={})
    seen: _Seen = ({}, {})
    for path, fmt, sign_ins, log in read_each(paths, result.summary, format=format,
                                              date_order=date_order):
        with paused_gc():  # held for the whole review: repeated values shared (shared.compact)
            repeated = _add_new(result.sign_ins, compact(sign_ins), seen)
        result.formats[str(path)] = fmt
        if repeated:
            log.note(f"{repeated} rows repeat a sign-in already read (same id, user and time): "
                     "kept once")
        result.summary.repeated += repeated
        result.problems.extend(log.finish())
    result.summary.sign_ins_kept = len(result.sign_ins)
    result.summary.conflicting_ids = sum(len(variants) > 1 for variants in seen[1].values())

    return result


def read_each(
    paths: Sequence[str | Path], summary: InputSummary, *, format: str = "auto",
    date_order: DateOrder | None = None, part_bytes: int | None = None,
) -> Iterator[tuple[Path, str, list[SignIn], ProblemLog]]:
    """File by file (for inputs too large to hold at once): (path, format, user sign-ins, log),
    its counts already in `summary`; repeats across files are the caller's to remove. Refuses
    files as `read_paths` does.

    With `part_bytes`, a JSON-lines file or Graph JSON document larger than that comes in parts
    (shared.imports.parts), the same path several times with the same log, whose counts so far
    cover the parts given; the file's counts reach `summary` after its last part. A file refused
    after some of its parts were given (broken JSON part-way) is refused as a whole file would
    be, and the refusal says how many of its sign-ins were given before. With `part_bytes`,
    Graph JSON lines also come with their lines where they can, for spilling them to shard files
    as read (shared.imports.lines)."""
    if format != "auto" and format not in FORMATS:
        raise InputError(f"unknown format {format!r}: use auto, {', '.join(FORMATS)}")
    if date_order is not None and date_order not in DATE_ORDERS:
        raise InputError(f"unknown date order {date_order!r}: use {' or '.join(DATE_ORDERS)}")
    files = expand_paths(paths)
    readable = 0
    for path in files:
        if part_bytes is not None and _larger(path, part_bytes):
            try:
                yield from _read_in_parts(path, format, part_bytes, summary)
            except InputError as error:
                if len(files) == 1:
                    raise
                summary.files_refused[str(path)] = error.message.removeprefix(f"{path}: ")
                continue
            except _NotSplit:
                pass
            else:
                readable += 1
                continue
        try:
            with paused_gc():
                fmt, sign_ins, log = _read_one(path, format, date_order,
                                               keep_lines=part_bytes is not None)
        except InputError as error:
            if len(files) == 1:
                raise
            summary.files_refused[str(path)] = error.message.removeprefix(f"{path}: ")
            continue
        readable += 1
        add_to_summary(summary, log)
        yield path, fmt, sign_ins, log
    if not readable:
        raise InputError("no file could be read:\n" + "\n".join(
            f"  {path}: {why}" for path, why in summary.files_refused.items()))


class _NotSplit(Exception):
    """The file cannot be read in parts (nothing of it was given): read it whole."""


def _larger(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size > size
    except OSError:
        return False


def _read_in_parts(path: Path, format: str, part_bytes: int,
                   summary: InputSummary) -> Iterator[tuple[Path, str, list[SignIn], ProblemLog]]:
    from shared.imports.parts import NotSplittable, read_parts, splittable

    source = Source(path)
    if not splittable(source, format):
        raise _NotSplit
    log = ProblemLog(source.name)
    fmt, read, given = "", 0, 0
    try:
        for fmt, sign_ins in read_parts(source, format, log, part_bytes, keep_lines=True):
            users = users_only(sign_ins)
            read += len(sign_ins)
            log.without_user += len(sign_ins) - len(users)
            log.rows_read = read + log.rejected.total()
            given += len(users)
            yield path, fmt, users, log
    except NotSplittable:
        if read or log.rejected:
            raise InputError("cannot be read in parts after all", source=source.name) from None
        raise _NotSplit from None
    except InputError as error:
        if given:  # those sign-ins are the caller's already: the file's counts say so
            add_to_summary(summary, log)
            raise InputError(f"{error.message.removeprefix(f'{source.name}: ')} (after "
                             f"{given} of its sign-ins were read)", source=source.name) from None
        raise
    if not given and not log.rejected:
        raise InputError(_why_empty(fmt, log.without_user), source=source.name)
    if log.without_user:
        log.note(f"{log.without_user} sign-ins without a user (service principals, managed "
                 "identities) skipped: this review covers user accounts")
    add_to_summary(summary, log)


def read_file(
    path: str | Path, *, format: str = "auto", date_order: DateOrder | None = None
) -> tuple[str, list[SignIn], list[ImportProblem]]:
    """One export file: (format, user sign-ins, problems). Raises InputError."""
    fmt, users, log = _read_one(Path(path), format, date_order)
    return fmt, users, log.finish()


def _read_one(
    path: Path, format: str, date_order: DateOrder | None, *, keep_lines: bool = False
) -> tuple[str, list[SignIn], ProblemLog]:
    """(format, user sign-ins, the file's log with its counts). Raises InputError when the
    file is not an export, or when none of its records is a user's sign-in."""
    source = Source(path)
    log = ProblemLog(source.name)
    if source.layout == "csv":
        fmt, sign_ins = read_csv(source, format, date_order, log)
    else:
        fmt, sign_ins = read_json(source, format, log, keep_lines=keep_lines)
    users = users_only(sign_ins)
    without_user = len(sign_ins) - len(users)
    if not users and not log.rejected:
        raise InputError(_why_empty(fmt, without_user), source=source.name)
    log.rows_read = len(sign_ins) + log.rejected.total()
    log.without_user = without_user
    if without_user:
        log.note(f"{without_user} sign-ins without a user (service principals, managed "
                 "identities) skipped: this review covers user accounts")
    return fmt, users, log


def _why_empty(fmt: str, without_user: int) -> str:
    if without_user:
        return (f"holds no user sign-ins: its {without_user} {fmt} records are service "
                "principal or managed identity sign-ins, which this review does not cover")
    return f"holds no sign-in records ({fmt} layout)"


def _add_new(kept: list[SignIn], new: list[SignIn], seen: _Seen) -> int:
    """Append the sign-ins not read before; a repeat has the same id, user, time and address
    (ids alone are not enough: test data and some pipelines reuse them across users). Rows
    sharing an id but not the rest are all kept; `seen` lists them, to be counted."""
    repeated = 0
    first_by_id, others = seen
    for sign_in in new:
        first = first_by_id.setdefault(sign_in.id, sign_in)
        if first is sign_in:
            kept.append(sign_in)
            continue
        variants = others.setdefault(sign_in.id, [first])
        if any(_same_event(sign_in, other) for other in variants):
            repeated += 1
        else:
            variants.append(sign_in)
            kept.append(sign_in)
    return repeated


def _same_event(a: SignIn, b: SignIn) -> bool:
    return a.user_key == b.user_key and a.created_date_time == b.created_date_time and \
        a.ip_address == b.ip_address


