"""Sign-ins read from JSON lines together with each one's JSON, for inputs spilled to shard files.

A review too large for memory writes every sign-in to a per-user shard file and reads it back
(shared.user_shards). Encoding each decoded sign-in again costs about as much as decoding it;
the JSON it was read from is the same record already. msgspec finds each record's extent
(`msgspec.Raw`, a view of the bytes read, no copy) in a quick second pass over the lines, and
that JSON is kept when decoding it gives exactly the sign-in read: a record that reading
repaired (`shared.imports.records.settle`) is kept encoded again instead.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from shared.model import SignIn

_records = msgspec.json.Decoder(msgspec.Raw).decode_lines
_encode = msgspec.json.Encoder().encode
Record = bytes | msgspec.Raw  # one record's JSON


class SignInLines(list[SignIn]):
    """Sign-ins and, in `lines`, JSON that decodes to each one exactly (same order)."""

    __slots__ = ("lines",)

    def __init__(self, sign_ins: Iterable[SignIn], lines: list[Record]) -> None:
        super().__init__(sign_ins)
        self.lines = lines


def with_lines(data: bytes | memoryview, decoded: list[SignIn],
               settled: list[SignIn]) -> list[SignIn]:
    """`settled` (the sign-ins of `data`, JSON lines that msgspec decoded as `decoded`, then
    settled one by one) with each one's JSON."""
    # The records of a view (a mapped file, closed after reading) are taken from a copy.
    try:
        records: list[Record] = list(_records(data if isinstance(data, bytes) else bytes(data)))
    except (msgspec.DecodeError, RecursionError):
        return settled  # never (the same parser read the same values), but then: encoded again
    if len(records) != len(decoded):
        return settled
    for index, (read, kept) in enumerate(zip(decoded, settled, strict=True)):
        if read is not kept:  # repaired on reading: its JSON no longer says what was kept
            records[index] = _encode(kept)
    return SignInLines(settled, records)


def users_only(sign_ins: list[SignIn]) -> list[SignIn]:
    """The sign-ins that have a user (object id or UPN), keeping their JSON if they have it."""
    users = [s for s in sign_ins if s.user_id or s.user_principal_name]
    if not isinstance(sign_ins, SignInLines):
        return users
    if len(users) == len(sign_ins):
        return sign_ins
    return SignInLines(users, [line for s, line in zip(sign_ins, sign_ins.lines, strict=True)
                               if s.user_id or s.user_principal_name])
