"""Importers on written fixtures (tests/data/imports) and small files made in each test:
the portal download, format detection and refusals, planted bad rows, dates, duplicates."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from shared.errors import InputError
from shared.imports import read_paths
from shared.imports.dates import decide_date_order, parse_sign_in_time
from shared.model import DeviceDetail, SignIn, SignInPage

DATA = Path(__file__).resolve().parents[1] / "data" / "imports"
PORTAL_CSV = DATA / "InteractiveSignIns_2025-03-10_2025-03-17.csv"
PORTAL_JSON = DATA / "InteractiveSignIns_2025-03-10_2025-03-17.json"

GRAPH_SIGN_IN = {
    "id": "g-1",
    "createdDateTime": "2025-03-10T08:00:00Z",
    "userId": "u-1",
    "userPrincipalName": "o'brien@contoso.com",
    "ipAddress": "203.0.113.5",
    "status": {"errorCode": 50126},
    "location": {"city": "Paris", "countryOrRegion": "FR",
                 "geoCoordinates": {"latitude": 48.85, "longitude": 2.35}},
}


def graph_rows(count: int) -> list[dict[str, object]]:
    return [{**GRAPH_SIGN_IN, "id": f"g-{n}"} for n in range(count)]


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


# --- The portal download ----------------------------------------------------------------------

def test_portal_csv_rows_and_planted_bad_rows() -> None:
    result = read_paths([PORTAL_CSV])
    assert result.formats[str(PORTAL_CSV)] == "portal"
    assert len(result.sign_ins) == 8
    bad = {(p.line, p.message.split(":")[0]) for p in result.problems}
    assert {line for line, _ in bad} == {9, 10}  # "yesterday", Failure without code
    # "AS12400" is an unreadable optional field: set aside alone, its sign-in kept.
    assert result.summary.fields_set_aside == {"autonomousSystemNumber": 1}
    assert result.summary.rows_rejected == {"unreadable sign-in time": 1, "no result code": 1}
    assert (result.summary.rows_read, result.summary.sign_ins_kept) == (10, 8)
    assert all(p.source == str(PORTAL_CSV) for p in result.problems)


def test_portal_csv_fields() -> None:
    by_id = {s.id: s for s in read_paths([PORTAL_CSV]).sign_ins}
    mfa_denied = by_id["a1f0c2d4-4444-4a6b-9c0d-1e2f3a4b5c04"]
    assert mfa_denied.error_code == 500121
    assert mfa_denied.additional_details == "MFA denied; user declined the authentication"
    assert mfa_denied.user_principal_name == "alice.moreno@contoso.com"
    assert mfa_denied.app_id == "5d661950-3475-41cd-a2c3-d671a3162bc1"  # "Application ID "
    assert mfa_denied.autonomous_system_number == 49505  # "Autonomous system  number"
    assert mfa_denied.client_app_used == "Browser"
    assert mfa_denied.sign_in_event_types == ("interactiveUser",) and mfa_denied.is_interactive
    assert mfa_denied.created_date_time == datetime(2025, 3, 15, 2, 14, 30, tzinfo=UTC)
    first = by_id["a1f0c2d4-1111-4a6b-9c0d-1e2f3a4b5c01"]
    assert first.device_detail == DeviceDetail(
        device_id="3f9c2b1a-8e7d-4c6b-a5f4-e3d2c1b0a987", operating_system="Windows10",
        browser="Edge 122.0.0", is_compliant=True, is_managed=True)  # join type is not kept


def test_portal_locations_are_placed_by_the_gazetteer() -> None:
    by_id = {s.id: s for s in read_paths([PORTAL_CSV]).sign_ins}
    moscow = by_id["a1f0c2d4-3333-4a6b-9c0d-1e2f3a4b5c03"]  # "Moscow, Moscow, Russia"
    assert moscow.country == "RU" and moscow.city == "Moscow"
    assert moscow.coordinates is not None and abs(moscow.coordinates[0] - 55.75) < 0.1
    redmond = by_id["a1f0c2d4-2222-4a6b-9c0d-1e2f3a4b5c02"]  # "..., United States"
    assert redmond.country == "US" and redmond.coordinates is not None
    assert redmond.error_code == 50140
    no_location = by_id["b2e1d3c5-7777-4b7c-8d1e-2f3a4b5c6d07"]
    assert no_location.location is None and no_location.country is None


def test_portal_json_is_graph_shaped() -> None:
    result = read_paths([PORTAL_JSON])
    assert result.formats[str(PORTAL_JSON)] == "graph"
    assert len(result.sign_ins) == 3
    (problem,) = result.problems
    assert problem.line == 49 and "record 3" in problem.message
    by_id = {s.id: s for s in result.sign_ins}
    moscow = by_id["d4a3f5e7-0002-4d9e-8f3a-4b5c6d7e8f02"]
    assert moscow.autonomous_system_number == 49505 and moscow.risk_level_during_sign_in == "high"
    assert moscow.coordinates is not None  # empty geoCoordinates filled from "Moscow", RU
    assert read_paths([PORTAL_JSON], format="portal").formats[str(PORTAL_JSON)] == "portal"


def test_older_export_decides_day_first_from_its_own_dates() -> None:
    result = read_paths([DATA / "SignIns_2025-03_old_export_day_first.csv"])
    times = sorted(s.created_date_time for s in result.sign_ins)
    assert times[0] == datetime(2025, 3, 10, 8, 2, 11, tzinfo=UTC)  # 10/03/2025, with 15/03 seen
    assert times[-1] == datetime(2025, 3, 15, 2, 13, 7, tzinfo=UTC)
    assert {s.country for s in result.sign_ins} == {"US", "RU", "IL"}


def test_older_export_with_ambiguous_dates_is_refused_unless_told() -> None:
    path = DATA / "SignIns_2025-03_old_export_ambiguous.csv"
    with pytest.raises(InputError, match="ambiguous") as raised:
        read_paths([path])
    assert str(path) in str(raised.value)
    told = read_paths([path], date_order="day-first")
    assert sorted(s.created_date_time.month for s in told.sign_ins) == [3, 3, 4]
    month_first = read_paths([path], date_order="month-first")
    assert sorted(s.created_date_time.month for s in month_first.sign_ins) == [3, 10, 11]


def test_stated_date_order_contradicted_by_the_file_is_refused() -> None:
    with pytest.raises(InputError, match="day-first, not month-first"):
        read_paths([DATA / "SignIns_2025-03_old_export_day_first.csv"], date_order="month-first")


# --- Graph JSON -------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["page", "array", "lines", "single"])
def test_graph_layouts(tmp_path: Path, layout: str) -> None:
    rows = graph_rows(3)
    text = {
        "page": json.dumps({"@odata.context": "x", "value": rows, "@odata.nextLink": "y"}),
        "array": json.dumps(rows, indent=2),
        "lines": "\n".join(json.dumps(r) for r in rows) + "\n",
        "single": json.dumps(rows[0], indent=2),
    }[layout]
    result = read_paths([write(tmp_path, "signins.json", text)])
    assert list(result.formats.values()) == ["graph"]
    assert len(result.sign_ins) == (1 if layout == "single" else 3)
    assert result.sign_ins[0].user_principal_name == "o'brien@contoso.com"
    assert result.sign_ins[0].error_code == 50126


def test_graph_decodes_as_the_shared_page_type(tmp_path: Path) -> None:
    rows = graph_rows(2)
    data = json.dumps({"value": rows}).encode()
    expected = msgspec.json.decode(data, type=SignInPage).value
    assert read_paths([write(tmp_path, "p.json", data)]).sign_ins == expected


def test_graph_bad_record_in_a_page_is_reported_with_its_line(tmp_path: Path) -> None:
    rows = graph_rows(4)
    rows[2] = {**rows[2], "status": {"errorCode": "lots"}}
    path = write(tmp_path, "page.json", json.dumps({"value": rows}, indent=1))
    result = read_paths([path])
    assert len(result.sign_ins) == 3
    (problem,) = result.problems
    lines = path.read_text().splitlines()
    assert problem.line is not None
    assert '"id": "g-2"' in "".join(lines[problem.line - 1 : problem.line + 2])
    assert "errorCode" in problem.message


def test_graph_json_lines_bad_lines(tmp_path: Path) -> None:
    lines = [json.dumps(r) for r in graph_rows(5)]
    lines[1] = lines[1][:40]  # truncated
    lines[3] = json.dumps({**GRAPH_SIGN_IN, "id": "g-3", "createdDateTime": 12})
    result = read_paths([write(tmp_path, "s.jsonl", "\n".join(lines))])
    assert len(result.sign_ins) == 3
    assert [p.line for p in result.problems] == [2, 4]


def test_utf16_and_bom_files(tmp_path: Path) -> None:
    text = json.dumps({"value": graph_rows(2)})
    utf16 = write(tmp_path, "ps.json", text.encode("utf-16"))
    bom = write(tmp_path, "bom.json", b"\xef\xbb\xbf" + text.encode())
    result = read_paths([utf16, bom])
    assert len(result.sign_ins) == 2  # the same two sign-ins, kept once
    assert set(result.formats.values()) == {"graph"}


def test_naive_times_are_utc(tmp_path: Path) -> None:
    row = {**GRAPH_SIGN_IN, "createdDateTime": "2023-07-26 22:58:30.983201900"}
    (sign_in,) = read_paths([write(tmp_path, "n.json", json.dumps([row]))]).sign_ins
    assert sign_in.created_date_time == datetime(2023, 7, 26, 22, 58, 30, 983202, tzinfo=UTC)


# --- Other formats made small -----------------------------------------------------------------

def test_azure_monitor_records_wrapper_and_lower_case(tmp_path: Path) -> None:
    record = {"time": "2025-01-15 08:15:23.456", "category": "NonInteractiveUserSignInLogs",
              "resultType": "50126", "callerIpAddress": "4.4.4.4", "operationName": "Sign-in",
              "properties": {"id": "m-1", "userId": "u-9", "userPrincipalName": "x@y.com"}}
    lower = {k.lower(): v for k, v in record.items()} | {"properties": {
        **record["properties"], "id": "m-2"}}  # type: ignore[dict-item]
    path = write(tmp_path, "PT1H.json", json.dumps({"records": [record, lower]}))
    result = read_paths([path])
    assert result.formats[str(path)] == "azure-monitor"
    assert [s.ip_address for s in result.sign_ins] == ["4.4.4.4", "4.4.4.4"]
    assert {s.error_code for s in result.sign_ins} == {50126}
    assert result.sign_ins[0].sign_in_event_types == ("nonInteractiveUser",)


def test_sentinel_json_with_nested_json_text(tmp_path: Path) -> None:
    row = {"TimeGenerated": "2025-02-01T10:00:00Z", "Id": "s-1", "UserPrincipalName": "a@b.com",
           "UserId": "u-1", "IPAddress": "198.51.100.4", "ResultType": "50057",
           "LocationDetails": json.dumps({"city": "Lagos", "countryOrRegion": "NG"}),
           "Status": "{}", "Type": "SigninLogs"}
    (sign_in,) = read_paths([write(tmp_path, "q.json", json.dumps([row]))]).sign_ins
    assert sign_in.error_code == 50057 and sign_in.country == "NG"
    assert sign_in.coordinates is not None  # placed by the gazetteer


# --- Refusals ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.json", b"", "empty"),
        ("blank.csv", b"  \n\n", "empty"),
        ("logo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG image"),
        ("book.xlsx", b"PK\x03\x04\x14\x00\x06\x00", "ZIP archive"),
        ("settings.json", b'{"logging": {"level": "info"}, "retries": 3}', "not a sign-in export"),
        ("host.json", b'{"version": "2.0", "extensions": {"queues": {"batchSize": 16}}}',
         "not a sign-in export"),
        ("people.csv", b"name,email\nAda,ada@example.com\n", "not a sign-in export"),
        ("cut.json", b'{"value": [{"id": "a", "createdDateTime": "2025-', "not valid JSON"),
        ("empty-array.json", b"[]", "no sign-in records"),
    ],
)
def test_not_an_export_is_one_clear_error(tmp_path: Path, name: str, content: bytes,
                                          message: str) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(InputError, match=message) as raised:
        read_paths([path])
    assert str(path) in str(raised.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_paths([tmp_path / "nope.csv"])
    with pytest.raises(InputError, match="directory"):
        read_paths([tmp_path])


def test_wrong_explicit_format_is_refused() -> None:
    with pytest.raises(InputError, match="looks like a portal export, not sentinel"):
        read_paths([PORTAL_CSV], format="sentinel")
    with pytest.raises(InputError, match="unknown format"):
        read_paths([PORTAL_CSV], format="excel")


# --- Dates ---------------------------------------------------------------------------------------

def test_sentinel_style_dates() -> None:
    assert parse_sign_in_time("4/28/2021, 2:08:45.221 PM", "month-first") == datetime(
        2021, 4, 28, 14, 8, 45, 221000, tzinfo=UTC)
    assert parse_sign_in_time("4/28/2021, 12:01:00.000 AM", "month-first").hour == 0
    assert parse_sign_in_time("2021-04-28T14:08:45Z", None).tzinfo is UTC


def test_date_order_decisions() -> None:
    us_dates = ["3/12/2025 7:22:01 AM", "3/13/2025 7:22:01 AM"]
    assert decide_date_order(us_dates, None) == "month-first"
    assert decide_date_order(["13/03/2025 07:22:01"], None) == "day-first"
    assert decide_date_order(["2025-03-12T07:22:01Z"], None) is None
    assert decide_date_order(["3/12/2025 7:22:01 AM"], "month-first") == "month-first"


def test_sign_ins_are_the_shared_record(tmp_path: Path) -> None:
    result = read_paths([PORTAL_CSV, PORTAL_JSON])
    assert all(isinstance(s, SignIn) for s in result.sign_ins)
    assert all(s.created_date_time.tzinfo is not None for s in result.sign_ins)
