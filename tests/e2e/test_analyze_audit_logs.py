"""`signin-review analyze --audit-logs FILE`, file by file: the same directory audit rows as Graph
answers them ({"value": [...]}, an array, JSON lines), as Log Analytics exports AuditLogs (CSV
with the portal's US dates and JSON text in dynamic columns, JSON) and as the diagnostic
settings archive writes them (PT1H.json records). Each must make Megan's authenticator,
registered from the attacker's address 4 minutes after the Lagos sign-in, a high `persistence`
finding, and leave Bob's new phone and self-service reset from home as nothing."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from shared.cli import main
from shared.imports.audit_logs import read_audit_logs

DATA = Path(__file__).resolve().parents[1] / "data" / "audit"
FILES = ["directoryAudits.json", "directoryAudits_array.json", "directoryAudits.jsonl",
         "AuditLogs_log_analytics.csv", "AuditLogs_log_analytics.json", "PT1H.json"]


def _review(capsys, *audit: str, output: str = "json") -> str:
    return _run(capsys, *audit, output=output)[0]


def _run(capsys, *audit: str, output: str = "json") -> tuple[str, str]:
    args = ["analyze", str(DATA / "signins.json"), "--window-start", "2025-03-15T00:00:00Z",
            "--quiet", "--output", output]
    for path in audit:
        args += ["--audit-logs", path]
    assert main(args) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err


@pytest.mark.parametrize("name", FILES)
def test_each_export_ties_the_attackers_authenticator(capsys, name):
    review = json.loads(_review(capsys, str(DATA / name)))
    users = {u["userPrincipalName"]: u for u in review["users"]}
    megan, bob = users["megan@contoso.com"], users["bob@contoso.com"]
    assert megan["verdict"] == "high"
    persistence = [f for f in megan["findings"] if f["type"] == "persistence"]
    assert [f["severity"] for f in persistence] == ["high", "high"]
    registered, consent = persistence
    assert "Microsoft Authenticator App" in registered["summary"]
    assert "102.89.1.1" in registered["summary"] and "2025-03-15T23:14Z" in registered["summary"]
    assert "4 minutes after" in registered["summary"]
    assert "Mail Backup Pro" in consent["summary"]
    assert consent["objects"] == [{"kind": "grant", "id": "8a1f2c3d-0000-4000-8000-00000000beef",
                                   "label": "Mail Backup Pro"}]
    assert bob["verdict"] == "none" and bob["findings"] == []
    (source,) = [s for s in review["sources"] if s["name"] == "auditLogs"]
    assert source["available"] and name in source["detail"]


def test_the_csv_export_counts_its_bad_row(capsys):
    events, read, problems = read_audit_logs(DATA / "AuditLogs_log_analytics.csv")
    assert read.format == "log-analytics csv"
    assert (read.rows_read, read.kept, read.rejected) == (6, 5, {"unreadable time": 1})
    assert len(events) == 5 and problems[0].line == 6
    assert "1 rejected (1 unreadable time)" in read.described()
    _, err = _run(capsys, str(DATA / "AuditLogs_log_analytics.csv"))
    assert "AuditLogs_log_analytics.csv:6: audit row 6 skipped" in err
    assert "6 audit rows read from AuditLogs_log_analytics.csv (log-analytics csv), 5 kept, " \
        "1 rejected (1 unreadable time)" in err


def test_microsofts_own_example_decodes_with_its_capital_type():
    """The directoryaudit-list example spells targetResources' `Type` with a capital."""
    path = DATA / "directoryaudit-list.md.example1.json"
    (event,), read, problems = read_audit_logs(path)
    assert not problems and read.kept == 1
    assert event.ip_address == "127.0.0.1"
    assert [t.type for t in event.target_resources or []] == ["Group", "User"]
    assert event.concerns(frozenset({"bob@contoso.com"}))
    assert not event.concerns(frozenset({"ef7e527d-6c92-4234-8c6d-cf6fdfb57f95"}))


def test_the_csv_report_shows_persistence(capsys):
    out = _review(capsys, str(DATA / "directoryAudits.json"), output="csv")
    lines = [line for line in out.splitlines() if not line.startswith("#")]
    rows = {r["userPrincipalName"]: r for r in csv.DictReader(io.StringIO("\n".join(lines)))}
    megan = rows["megan@contoso.com"]
    assert "persistence" in megan["findingTypes"].split(";")
    assert "Security info was registered (Microsoft Authenticator App)" in megan["reasons"]


def test_without_audit_logs_nothing_is_judged_on_them(capsys):
    review = json.loads(_review(capsys))
    (megan,) = [u for u in review["users"] if u["userPrincipalName"] == "megan@contoso.com"]
    assert not [f for f in megan["findings"] if f["type"] == "persistence"]
    assert not [s for s in review["sources"] if s["name"] == "auditLogs"]


@pytest.mark.parametrize("text,message", [
    ("not an export at all", "no directory audit rows"),
    ('{"value": [{"id": "x", "createdDateTime": "2025-03-15T00:00:00Z"}]}',
     "no directory audit rows"),
    ("", "no directory audit rows"),
])
def test_a_file_that_is_not_an_audit_log_is_refused(capsys, tmp_path, text, message):
    path = tmp_path / "audit.json"
    path.write_text(text)
    assert main(["analyze", str(DATA / "signins.json"), "--quiet", "--audit-logs",
                 str(path)]) == 2
    assert message in capsys.readouterr().err


def test_past_spill_above_the_audit_rows_still_count(capsys):
    assert main(["analyze", str(DATA / "signins.json"), "--window-start", "2025-03-15T00:00:00Z",
                 "--window-end", "2025-03-16T23:59:59Z", "--spill-above", "0", "--quiet",
                 "--audit-logs", str(DATA / "directoryAudits.jsonl")]) == 0
    review = json.loads(capsys.readouterr().out)
    (megan,) = [u for u in review["users"] if u["userPrincipalName"] == "megan@contoso.com"]
    assert [f["severity"] for f in megan["findings"] if f["type"] == "persistence"] == \
        ["high", "high"]
