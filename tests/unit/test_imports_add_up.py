"""Rows that add up: an address that is not one is an unreadable field (set aside, counted); a
CSV row whose cells were shifted by a stray quote is rejected with its line; rows sharing an id
but not its user, time or address are all kept and counted; older exports' `riskEventTypes` are
read where `riskEventTypes_v2` is absent."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from shared.imports import read_paths
from shared.model import InputSummary
from shared.report.loss import loss_lines

PUBLIC = Path(__file__).resolve().parents[1] / "data" / "public"
ADELE = PUBLIC / "Azure-Sentinel" / "sign-in_adelete.csv"

GOOD = {
    "id": "s-1", "createdDateTime": "2025-03-10T08:02:11Z", "userId": "u-1",
    "userPrincipalName": "alice@contoso.com", "ipAddress": "203.0.113.7",
    "status": {"errorCode": 0},
}


def record(**changes: Any) -> dict[str, Any]:
    return {**GOOD, **changes}


def write(tmp_path: Path, layout: str, rows: list[dict[str, Any]]) -> Path:
    if layout == "page":
        path = tmp_path / "signins.json"
        path.write_text(json.dumps({"value": rows}))
    elif layout == "lines":
        path = tmp_path / "signins.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    else:  # Azure Monitor diagnostic records around the same properties
        path = tmp_path / "records.jsonl"
        path.write_text("".join(json.dumps({
            "time": row["createdDateTime"], "category": "SignInLogs",
            "operationName": "Sign-in activity", "resultType": "0", "properties": row}) + "\n"
            for row in rows))
    return path


# --- addresses that are not addresses ---------------------------------------------------------

@pytest.mark.parametrize("layout", ["page", "lines", "azure-monitor"])
@pytest.mark.parametrize("address", ['latitude"":32.02956008911133}', "<IP ADDRESS>",
                                     "203.0.113", "999.1.1.1", "Tel Aviv"])
def test_an_address_that_is_not_one_is_set_aside_and_counted(tmp_path, layout, address):
    rows = [record(), record(id="s-2", ipAddress=address)]
    result = read_paths([write(tmp_path, layout, rows)])
    assert [s.id for s in result.sign_ins] == ["s-1", "s-2"]  # the sign-in is kept
    assert [s.ip_address for s in result.sign_ins] == ["203.0.113.7", None]
    assert result.summary.fields_set_aside == {"ipAddress": 1}
    assert result.summary.rows_rejected == {}
    assert "field set aside (unreadable, sign-in kept): ipAddress x1" in loss_lines(
        result.summary)


@pytest.mark.parametrize("layout", ["page", "lines", "azure-monitor"])
@pytest.mark.parametrize("address", ["2001:db8::7", "198.51.100.20", "::ffff:192.0.2.1"])
def test_real_addresses_are_kept(tmp_path, layout, address):
    result = read_paths([write(tmp_path, layout, [record(ipAddress=address)])])
    assert result.sign_ins[0].ip_address == address
    assert result.summary.fields_set_aside == {}


def test_the_schema_examples_placeholder_address_is_set_aside():
    """Microsoft's schema example writes `<IP ADDRESS>` where the address goes."""
    name = "reference-azure-monitor-sign-ins-log-schema.md.example.json"
    result = read_paths([PUBLIC / "azure-docs" / name])
    (sign_in,) = result.sign_ins
    assert sign_in.ip_address is None
    assert result.summary.fields_set_aside == {"ipAddress": 1}


# --- CSV rows shifted by a stray quote --------------------------------------------------------

def _adele_lines() -> tuple[str, list[str]]:
    """The header and the raw text of the first three rows of a real SigninLogs CSV export."""
    text = ADELE.read_text(encoding="utf-8-sig")
    header, rest = text.split("\n", 1)
    reader = csv.reader(io.StringIO(rest))
    lines = rest.split("\n")
    rows, start = [], 0
    for _ in range(3):
        next(reader)
        rows.append("\n".join(lines[start:reader.line_num]))
        start = reader.line_num
    return header, rows


def _shifted(row: str) -> str:
    """The row as a broken writer leaves it: the quote opening the LocationDetails cell is lost,
    so its JSON splits at every comma into five cells, and the four empty cells before it (the
    row's own) are gone, so the row keeps the header's 71 cells."""
    location = row.index(',"{""countryOrRegion""')
    closing = row.index('""city"":""Azor""}"', location) + len('""city"":""Azor""}')
    broken = row[:location] + ",{" + row[location + 3:closing] + row[closing + 1:]
    before = broken[:location]  # ... IPAddress,<empty>,LocationDetails: lose empties earlier
    trimmed = before.replace(",[],", ",", 1).replace(",,", ",", 3)
    return trimmed + broken[location:]


def test_a_row_shifted_by_a_stray_quote_is_rejected_with_its_line(tmp_path):
    header, (first, second, third) = _adele_lines()
    shifted = _shifted(second)
    cells = next(csv.reader(io.StringIO(shifted)))
    names = next(csv.reader(io.StringIO(header)))
    assert len(cells) == len(names)  # the length check passes
    assert cells[names.index("IPAddress")] == 'latitude"":32.02956008911133}'  # as reported
    path = tmp_path / "export.csv"
    path.write_text("\ufeff" + "\n".join([header, first, shifted, third]) + "\n",
                    encoding="utf-8")
    result = read_paths([path])
    assert len(result.sign_ins) == 2
    assert all(s.ip_address == "175.45.176.99" for s in result.sign_ins)
    assert result.summary.rows_rejected == {"cells shifted (a stray quote)": 1}
    line = 2 + first.count("\n") + 1  # header, then the first row's lines
    assert result.summary.rejected_examples == {"cells shifted (a stray quote)": [
        f"{path}:{line}"]}
    (problem,) = result.problems
    assert problem.line == line and "cells do not match the header" in problem.message


def test_the_real_export_has_no_shifted_rows():
    result = read_paths([ADELE])
    assert len(result.sign_ins) == 56 and result.summary.rows_rejected == {}


# --- one id, different sign-ins ---------------------------------------------------------------

def test_rows_sharing_an_id_but_not_the_sign_in_are_all_kept_and_counted(tmp_path):
    rows = [
        record(),
        record(),  # a repeat: same id, user, time and address (one row per step)
        record(userId="u-2", userPrincipalName="bob@contoso.com", ipAddress="198.51.100.4"),
        record(ipAddress="198.51.100.9"),  # same user and time, another address
        record(createdDateTime="2025-03-10T09:00:00Z"),  # another time
        record(id="s-9"),
    ]
    result = read_paths([write(tmp_path, "lines", rows)])
    assert len(result.sign_ins) == 5
    summary = result.summary
    assert (summary.repeated, summary.conflicting_ids, summary.sign_ins_kept) == (1, 1, 5)
    assert "1 id shared by sign-ins that disagree (other user, time or address: all kept)" in \
        loss_lines(summary)[0]


def test_no_conflict_no_mention():
    assert "ids shared" not in loss_lines(InputSummary(files=1, rows_read=1, sign_ins_kept=1))[0]


# --- riskEventTypes of older exports ----------------------------------------------------------

@pytest.mark.parametrize("layout", ["page", "lines", "azure-monitor"])
def test_old_risk_event_types_are_read_where_v2_is_absent(tmp_path, layout):
    rows = [record(riskEventTypes=["unfamiliarFeatures"], riskLevelDuringSignIn="medium")]
    result = read_paths([write(tmp_path, layout, rows)])
    assert result.sign_ins[0].risk_event_types_v2 == ("unfamiliarFeatures",)


@pytest.mark.parametrize("layout", ["page", "lines"])
def test_v2_wins_where_both_are_given(tmp_path, layout):
    rows = [record(riskEventTypes=["unlikelyTravel"], riskEventTypes_v2=["anonymizedIPAddress"])]
    result = read_paths([write(tmp_path, layout, rows)])
    assert result.sign_ins[0].risk_event_types_v2 == ("anonymizedIPAddress",)


def test_old_risk_event_types_of_a_sentinel_csv(tmp_path):
    header, (first, _, _) = _adele_lines()
    names = next(csv.reader(io.StringIO(header)))
    cells = next(csv.reader(io.StringIO(first)))
    cells[names.index("RiskEventTypes")] = '["unfamiliarFeatures"]'
    cells[names.index("RiskEventTypes_V2")] = ""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([names, cells])
    path = tmp_path / "old.csv"
    path.write_text("\ufeff" + out.getvalue(), encoding="utf-8")
    (sign_in,) = read_paths([path]).sign_ins
    assert sign_in.risk_event_types_v2 == ("unfamiliarFeatures",)
