"""Lenient where it is safe, strict where it matters: an unreadable optional field is set aside
alone and counted by field; a row is rejected (and counted by reason) only when its time, result
or user cannot be read. Also: every time is kept in UTC, whatever offset the export wrote."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.imports import read_paths

GOOD = {
    "id": "s-1", "createdDateTime": "2025-03-10T08:02:11Z", "userId": "u-1",
    "userPrincipalName": "alice@contoso.com", "ipAddress": "203.0.113.7",
    "status": {"errorCode": 0},
    "location": {"city": "Lyon", "countryOrRegion": "FR",
                 "geoCoordinates": {"latitude": 45.76, "longitude": 4.84}},
    "deviceDetail": {"deviceId": "d-1", "isManaged": True, "isCompliant": False},
    "autonomousSystemNumber": 3215, "isInteractive": True, "riskLevelDuringSignIn": "none",
}


def graph_file(tmp_path: Path, *records: dict[str, Any]) -> Path:
    path = tmp_path / "signins.json"
    path.write_text(json.dumps({"value": list(records)}))
    return path


def with_changes(changes: dict[str, Any], path: tuple[str, ...] = ()) -> dict[str, Any]:
    record = json.loads(json.dumps(GOOD))
    node = record
    for key in path:
        node = node[key]
    node.update(changes)
    return record


@pytest.mark.parametrize(
    ("name", "path", "changes", "set_aside"),
    [
        ("coordinates_as_text", ("location", "geoCoordinates"),
         {"latitude": "opnrpkcponejdcfb", "longitude": "n"},
         {"location.geoCoordinates.latitude": 1, "location.geoCoordinates.longitude": 1}),
        ("boolean_as_word", (), {"isInteractive": "lcbc"}, {"isInteractive": 1}),
        ("boolean_as_yes", (), {"isInteractive": "maybe"}, {"isInteractive": 1}),
        ("number_as_word", (), {"autonomousSystemNumber": "AS12400"},
         {"autonomousSystemNumber": 1}),
        ("object_as_text", (), {"deviceDetail": "Windows 10"}, {"deviceDetail": 1}),
        ("list_of_numbers", (), {"riskEventTypes_v2": [1, 2]}, {"riskEventTypes_v2": 1}),
        ("text_where_enum_expected", (), {"riskLevelDuringSignIn": 7},
         {"riskLevelDuringSignIn": 1}),
        ("word_outside_the_enum", (), {"riskState": "somewhatRisky"}, {"riskState": 1}),
    ],
)
def test_unreadable_optional_field_is_set_aside_alone(
    tmp_path: Path, name: str, path: tuple[str, ...], changes: dict[str, Any],
    set_aside: dict[str, int],
) -> None:
    result = read_paths([graph_file(tmp_path, with_changes(changes, path))])
    (sign_in,) = result.sign_ins
    assert result.summary.fields_set_aside == set_aside, name
    assert result.summary.rows_rejected == {}
    assert (sign_in.user_principal_name, sign_in.ip_address, sign_in.error_code) == (
        "alice@contoso.com", "203.0.113.7", 0)
    assert sign_in.city == "Lyon"  # the rest of the record stays


@pytest.mark.parametrize(
    ("name", "changes", "value"),
    [
        ("number_as_text", {"autonomousSystemNumber": "3215"}, 3215),
        ("empty_string_for_number", {"autonomousSystemNumber": ""}, None),
        ("boolean_as_text", {"isInteractive": "false"}, False),
        ("unknown_enum_value", {"riskLevelDuringSignIn": "unknownFutureValue"},
         "unknownFutureValue"),
    ],
)
def test_values_written_as_text_are_read(tmp_path: Path, name: str, changes: dict[str, Any],
                                         value: object) -> None:
    result = read_paths([graph_file(tmp_path, with_changes(changes))])
    (sign_in,) = result.sign_ins
    field = next(iter(changes))
    attribute = {"autonomousSystemNumber": "autonomous_system_number",
                 "isInteractive": "is_interactive",
                 "riskLevelDuringSignIn": "risk_level_during_sign_in"}[field]
    assert getattr(sign_in, attribute) == value, name
    assert result.summary.fields_set_aside == {}


@pytest.mark.parametrize(
    ("name", "changes", "reason"),
    [
        ("time_unreadable", {"createdDateTime": "yesterday"}, "unreadable createdDateTime"),
        ("time_a_number", {"createdDateTime": 1741593731}, "unreadable createdDateTime"),
        ("result_unreadable", {"status": {"errorCode": "denied"}}, "unreadable status.errorCode"),
        ("status_not_an_object", {"status": "failure"}, "unreadable status"),
        ("user_unreadable", {"userId": 12, "userPrincipalName": ["x"]}, "unreadable user"),
    ],
)
def test_row_is_rejected_only_when_what_detections_need_is_unreadable(
    tmp_path: Path, name: str, changes: dict[str, Any], reason: str,
) -> None:
    bad = with_changes({**changes, "id": "s-2"})
    path = graph_file(tmp_path, GOOD, bad)
    result = read_paths([path])
    assert [s.id for s in result.sign_ins] == ["s-1"], name
    summary = result.summary
    assert (summary.rows_read, summary.sign_ins_kept) == (2, 1)
    assert summary.rows_rejected == {reason: 1}
    assert summary.rejected_examples == {reason: [f"{path}:1"]}


def test_rejections_are_counted_past_the_listed_problems(tmp_path: Path) -> None:
    rows = [GOOD] + [with_changes({"id": f"b{i}", "createdDateTime": "soon"}) for i in range(250)]
    path = tmp_path / "many.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows))
    result = read_paths([path])
    assert result.summary.rows_rejected == {"unreadable createdDateTime": 250}
    assert result.summary.rejected_examples["unreadable createdDateTime"] == [
        f"{path}:2", f"{path}:3", f"{path}:4"]
    assert result.summary.rows_read == 251


def test_an_offset_becomes_utc(tmp_path: Path) -> None:
    record = with_changes({"createdDateTime": "2019-10-18T04:45:48.0729893-05:00"})
    (sign_in,) = read_paths([graph_file(tmp_path, record)]).sign_ins
    assert sign_in.created_date_time == datetime(2019, 10, 18, 9, 45, 48, 72989, tzinfo=UTC)
    assert sign_in.created_date_time.tzinfo is UTC
