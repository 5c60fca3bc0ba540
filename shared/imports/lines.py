"""Sign-ins read from JSON lines together with each one's line, for inputs spilled to shard files.

A review too large for memory writes every sign-in to a per-user shard file and reads it back
(shared.user_shards). Encoding each decoded sign-in again costs about as much as decoding it;
the line it was read from is the same record already. A line is kept only when decoding it
alone gives exactly the sign-in read (msgspec, as `SignIn`): lines that reading repaired
(`shared.imports.records.settle`) are written encoded again, and a block whose lines cannot be
told apart record by record keeps none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import msgspec

from shared.model import SignIn

# Two records on one line: a `}` closing one and a `{` opening the next with only spaces, tabs or
# carriage returns between (records are objects, and JSON allows nothing else between values).
# Inside a string it is harmless, but then the block keeps no lines (encoded again: correct).
_TWO_ON_A_LINE = re.compile(rb"\}[ \t\r]*\{")
_JSON_SPACE = b" \t\r"
_encode = msgspec.json.Encoder().encode


class SignInLines(list[SignIn]):
    """Sign-ins and, in `lines`, JSON that decodes to each one exactly (same order)."""

    __slots__ = ("lines",)

    def __init__(self, sign_ins: Iterable[SignIn], lines: list[bytes]) -> None:
        super().__init__(sign_ins)
        self.lines = lines


def with_lines(data: bytes | memoryview, decoded: list[SignIn],
               settled: list[SignIn]) -> list[SignIn]:
    """`settled` (the sign-ins of `data`, JSON lines that msgspec decoded as `decoded`, then
    settled one by one) with each one's line, when every record of `data` is alone on its
    line; else `settled` as it is."""
    blob = data if isinstance(data, bytes) else bytes(data)
    lines = _record_lines(blob, len(decoded))
    if lines is None:
        return settled
    for index, (read, kept) in enumerate(zip(decoded, settled, strict=True)):
        if read is not kept:  # repaired on reading: the line no longer says what was kept
            lines[index] = _encode(kept)
    return SignInLines(settled, lines)


def _record_lines(blob: bytes, records: int) -> list[bytes] | None:
    """The lines of `blob` that are not blank, when there are as many as `records` and no line
    holds two records (then each holds exactly one: a record spanning lines would leave a line
    without one of its own); else None."""
    if _TWO_ON_A_LINE.search(blob) is not None:
        return None
    lines = blob.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()  # after the last line end
    if len(lines) != records:
        lines = [line for line in lines if line.strip(_JSON_SPACE)]
    return lines if len(lines) == records else None


def users_only(sign_ins: list[SignIn]) -> list[SignIn]:
    """The sign-ins that have a user (object id or UPN), keeping their lines if they have any."""
    users = [s for s in sign_ins if s.user_id or s.user_principal_name]
    if not isinstance(sign_ins, SignInLines):
        return users
    if len(users) == len(sign_ins):
        return sign_ins
    return SignInLines(users, [line for s, line in zip(sign_ins, sign_ins.lines, strict=True)
                               if s.user_id or s.user_principal_name])
