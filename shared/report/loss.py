"""The loss summary: what reading exported logs kept and lost, in plain lines that every output
of `analyze` shows (terminal, HTML, CSV comment lines; JSON carries `input` itself).

Nothing read is lost silently: rows read, sign-ins kept, fields set aside (by field), rows
rejected (by reason, with the first few file:line examples), sign-ins without a user, repeats,
ids shared by sign-ins that disagree, and files refused.
"""

from __future__ import annotations

from shared.model import InputSummary
from shared.report.text import plain


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """`1 row`, `2 rows`, `1,234 rows`."""
    return f"{number:,} {singular if number == 1 else plural or singular + 's'}"


def headline(summary: InputSummary) -> str:
    """`1,234 rows read from 3 files: 1,200 sign-ins kept, 30 rows rejected, ...`"""
    parts = [f"{counted(summary.sign_ins_kept, 'sign-in')} kept"]
    if summary.rejected:
        parts.append(f"{counted(summary.rejected, 'row')} rejected")
    if summary.without_user:
        parts.append(f"{summary.without_user:,} without a user (service principals) skipped")
    if summary.repeated:
        parts.append(f"{counted(summary.repeated, 'repeat')} kept once")
    if summary.conflicting_ids:
        parts.append(f"{counted(summary.conflicting_ids, 'id')} shared by sign-ins that disagree "
                     "(other user, time or address: all kept)")
    if summary.set_aside:
        parts.append(f"{counted(summary.set_aside, 'unreadable field')} set aside")
    return (f"{counted(summary.rows_read, 'row')} read from {counted(summary.files, 'file')}: "
            + ", ".join(parts))


def loss_lines(summary: InputSummary, *, examples: bool = True) -> list[str]:
    """The headline, then one line per set-aside field, rejection reason and refused file."""
    lines = [headline(summary)]
    for field, count in _largest_first(summary.fields_set_aside):
        lines.append(f"field set aside (unreadable, sign-in kept): {plain(field, limit=80)} "
                     f"x{count:,}")
    for reason, count in _largest_first(summary.rows_rejected):
        shown = summary.rejected_examples.get(reason, []) if examples else []
        where = f" (e.g. {', '.join(plain(e, limit=120) for e in shown)})" if shown else ""
        lines.append(f"rows rejected: {plain(reason, limit=80)} x{count:,}{where}")
    for path, why in summary.files_refused.items():
        lines.append(f"file refused: {plain(path, limit=160)}: {plain(why, limit=200)}")
    return lines


def nothing_usable(summary: InputSummary) -> str:
    """Why no sign-in is left to review, naming what failed."""
    if summary.rejected:
        reasons = ", ".join(f"{plain(r, limit=60)} x{n:,}"
                            for r, n in _largest_first(summary.rows_rejected))
        return f"no user sign-in could be read: {counted(summary.rejected, 'row')} rejected " \
            f"({reasons})"
    if summary.without_user:
        return (f"no user sign-ins: the {summary.without_user:,} sign-ins read are service "
                "principal or managed identity sign-ins")
    return "no user sign-ins found in the input"


def _largest_first(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))
