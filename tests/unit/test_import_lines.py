"""Sign-ins with the JSON lines they were read from (shared.imports.lines), which a spilled review
writes to its shard files instead of encoding every sign-in again: each record's JSON decodes to
exactly its sign-in (a repaired record is encoded again), whatever the layout of the lines, and
the shards give the same users either way."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from shared.imports import graph, read_each
from shared.imports.lines import SignInLines, users_only
from shared.model import InputSummary, SignIn
from shared.user_shards import UserShards

_ONE = msgspec.json.Decoder(SignIn)
AT = datetime(2025, 3, 1, 8, tzinfo=UTC)


def _row(n: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": f"s-{n}", "createdDateTime": f"2025-03-{1 + n % 28:02d}T08:{n % 60:02d}:00Z",
        "userId": f"u-{n % 7}", "userPrincipalName": f"user{n % 7}@contoso.com",
        "ipAddress": f"203.0.113.{n % 250}", "status": {"errorCode": 50126 if n % 5 else 0},
        "location": {"city": "Paris", "countryOrRegion": "FR",
                     "geoCoordinates": {"latitude": 48.85, "longitude": 2.35}},
        "userAgent": 'Mozilla/5.0 "},{" (X11)' if n % 9 == 0 else "Mozilla/5.0",
        "correlationId": f"c-{n}",  # not a SignIn field: kept in the line, ignored on decoding
    }
    if n % 6 == 1:
        row["createdDateTime"] = f"2025-03-{1 + n % 28:02d}T10:{n % 60:02d}:00+02:00"  # to UTC
    if n % 8 == 2:
        row["location"]["countryOrRegion"] = "France"  # to FR
    if n % 10 == 3:
        del row["userId"], row["userPrincipalName"]  # a service principal's
    return row


ROWS = [_row(n) for n in range(60)]


def _lines(rows: list[dict[str, Any]], end: str = "\n") -> bytes:
    return "".join(json.dumps(row) + end for row in rows).encode()


def _assert_lines_decode_to_sign_ins(read: list[SignIn]) -> None:
    assert isinstance(read, SignInLines)
    assert len(read.lines) == len(read)
    for line, sign_in in zip(read.lines, read, strict=True):
        assert _ONE.decode(line) == sign_in


@pytest.mark.parametrize("data", [
    _lines(ROWS),
    _lines(ROWS, "\r\n"),
    _lines(ROWS).rstrip(b"\n"),
    _lines(ROWS).replace(b"\n", b"\n  \n", 7),
    _lines(ROWS[:1]),
], ids=["lines", "crlf", "no-last-line-end", "blank-lines", "one"])
def test_each_kept_line_decodes_to_exactly_the_sign_in_read(data: bytes) -> None:
    read = graph.decode_lines(data, keep_lines=True)
    assert read is not None
    assert read == graph.decode_lines(data)
    _assert_lines_decode_to_sign_ins(read)


def test_a_repaired_record_is_kept_encoded_again_not_as_read() -> None:
    data = _lines(ROWS[:10])
    read = graph.decode_lines(data, keep_lines=True)
    assert isinstance(read, SignInLines)
    as_read = data.split(b"\n")
    repaired = [n for n in range(10) if bytes(read.lines[n]) != as_read[n]]
    assert repaired == [1, 2, 7]  # an offset time and a country name
    assert read[1].created_date_time.utcoffset() is not None
    assert read[1].created_date_time.hour == 8 and read[2].country == "FR"


@pytest.mark.parametrize("data", [
    b'{"id":"a","createdDateTime":"2025-03-01T08:00:00Z","userId":"u",\n'
    b'"status":{"errorCode":0}}\n'
    b'{"id":"b","createdDateTime":"2025-03-01T08:00:00Z","userId":"u"}'
    b' {"id":"c","createdDateTime":"2025-03-01T08:00:00Z","userId":"u"}\n',
    json.dumps(ROWS[:3], indent=1)[1:-1].replace("\n },", "\n }").encode(),
    _lines([{**ROWS[0], "userAgent": "Mozilla/5.0 }\\n{ (X11)"}, ROWS[1]]),
], ids=["spanning-and-sharing", "indented", "line-break-in-a-string"])
def test_records_not_one_a_line_keep_their_own_json(data: bytes) -> None:
    read = graph.decode_lines(data, keep_lines=True)
    assert read is not None and read == graph.decode_lines(data)
    _assert_lines_decode_to_sign_ins(read)


def test_any_layout_keeps_each_records_json() -> None:
    rng = random.Random(7)
    for _ in range(200):
        rows = rng.sample(ROWS, rng.randint(1, 8))
        text = "".join(json.dumps(row, indent=rng.choice([None, None, None, 1]))
                       + rng.choice(["\n", "\n", "\n", " ", "", "\r\n", "\n\n"]) for row in rows)
        read = graph.decode_lines(text.encode(), keep_lines=True)
        assert read is not None and read == graph.decode_lines(text.encode())
        _assert_lines_decode_to_sign_ins(read)


def test_users_only_keeps_each_line_with_its_sign_in() -> None:
    read = graph.decode_lines(_lines(ROWS), keep_lines=True)
    assert read is not None
    users = users_only(read)
    assert users == [s for s in read if s.user_id or s.user_principal_name] != read
    _assert_lines_decode_to_sign_ins(users)
    with_users = users_only(users)
    assert with_users is users
    assert type(users_only(list(read))) is list


@pytest.mark.parametrize("part_bytes", [None, 500, 10**6])
def test_graph_lines_come_with_their_lines_only_when_spilling(tmp_path: Path,
                                                              part_bytes: int | None) -> None:
    path = tmp_path / "signins.jsonl"
    path.write_bytes(_lines(ROWS))
    parts = list(read_each([path], InputSummary(), part_bytes=part_bytes))
    for _, _, sign_ins, _ in parts:
        if part_bytes is None:
            assert not isinstance(sign_ins, SignInLines)
        else:
            _assert_lines_decode_to_sign_ins(sign_ins)
    assert (len(parts) > 1) == (part_bytes == 500)


def _users(shards: UserShards) -> list[tuple[str, list[SignIn]]]:
    return [(user, list(rows)) for user, rows in shards.users()]


def test_shards_give_the_same_users_from_lines_as_from_sign_ins() -> None:
    read = users_only(graph.decode_lines(_lines(ROWS * 2), keep_lines=True) or [])
    assert isinstance(read, SignInLines)
    half = len(read) // 2
    with UserShards(shards=4) as encoded, UserShards(shards=4) as as_read, \
            UserShards(shards=4) as mixed:
        encoded.add_all(list(read))
        as_read.add_all(read)
        mixed.add_all(SignInLines(read[:half], read.lines[:half]))
        mixed.add_all(list(read[half:]))
        expected = _users(encoded)
        assert _users(as_read) == expected and _users(mixed) == expected
        assert as_read.rows == mixed.rows == encoded.rows == len(read)
        assert as_read.repeated == encoded.repeated == len(read) // 2
        assert as_read.conflicting_ids == encoded.conflicting_ids == 0


def test_shards_count_ids_shared_by_other_sign_ins_and_ids_holding_line_breaks() -> None:
    rows = [SignIn(id=name, created_date_time=AT, user_id=user, ip_address=address)
            for name, user, address in [("a", "u1", "1.1.1.1"), ("a", "u2", "1.1.1.1"),
                                        ("b\nc", "u1", "1.1.1.1"), ("b\nc", "u3", "1.1.1.1"),
                                        ("b", "u1", "1.1.1.1"), ("c", "u2", "1.1.1.1"),
                                        ("d", "u1", "1.1.1.1"), ("d", "u1", "2.2.2.2")]]
    with UserShards(shards=3) as shards:
        shards.add_all(rows)
        assert sum(len(timeline) for _, timeline in shards.users()) == len(rows)
        assert shards.conflicting_ids == 3  # "a", "b\nc" and "d"; not "b" nor "c"

