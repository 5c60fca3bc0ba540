"""CSV (one row per user, safe in a spreadsheet) and JSON (the `analyze` shape)."""

from __future__ import annotations

import csv
import io

import msgspec
import pytest

from shared.model import ReviewResult, UserStats, UserVerdict
from shared.report import render_csv, render_json
from shared.report.csv_report import COLUMNS, spreadsheet_safe
from tests.unit.test_report_sample import sample_review


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_one_row_per_user_flagged_first() -> None:
    result, _ = sample_review()
    table = rows(render_csv(result))
    assert [r["userPrincipalName"] for r in table][:4] == [
        "alice@contoso.com", "bob@contoso.com", "carol@contoso.com", "dave@contoso.com"]
    assert len(table) == len(result.users)
    alice = table[0]
    assert alice["verdict"] == "high" and alice["privileged"] == "yes" and alice["gotIn"] == "yes"
    assert alice["findingTypes"] == "impossible_travel;mfa_fatigue;risky_sign_in"
    assert alice["countries"] == "NG;US" and alice["signIns"] == "14" and alice["failures"] == "8"
    assert list(table[0]) == list(COLUMNS)


@pytest.mark.parametrize("cell", [
    "=HYPERLINK(\"http://evil.example\",\"x\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
    "\t=1+1", "\r=1+1",
])
def test_formula_cells_are_defused(cell: str) -> None:
    assert spreadsheet_safe(cell) == "'" + cell
    result, _ = sample_review()
    user = UserVerdict(cell, cell, "high", False, [], [cell], UserStats(countries=[cell]),
                       proposed_actions=[cell])
    result.users = [user]
    (row,) = rows(render_csv(result))
    for column in ("userId", "userPrincipalName", "reasons", "countries", "proposedActions"):
        assert row[column] == "'" + cell, column


def test_ordinary_cells_are_untouched() -> None:
    assert spreadsheet_safe("o'brien@contoso.com") == "o'brien@contoso.com"
    assert spreadsheet_safe("a=b") == "a=b"


def test_json_is_the_analyze_shape_and_round_trips() -> None:
    result, _ = sample_review()
    encoded = render_json(result)
    assert msgspec.json.decode(encoded, type=ReviewResult) == result
    first = msgspec.json.decode(encoded)["users"][0]
    assert first["userPrincipalName"] == "alice@contoso.com" and first["gotIn"] is True
    assert {"signIns", "failures", "countries", "ips", "devices"} <= set(first["stats"])
    pretty = render_json(result, indent=2)
    assert pretty.count(b"\n") > 50 and msgspec.json.decode(pretty, type=ReviewResult) == result
