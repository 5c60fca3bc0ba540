"""`signin-review analyze` on public exports with Identity Protection fields: the risk inventory
in the JSON, as `--output risk-csv`, and in the HTML, including a risk a person had dismissed
(no finding, verdict none, still listed)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from shared.cli import main

PANTHER = Path(__file__).resolve().parents[1] / "data" / "public" / "panther-analysis"
FILES = [str(PANTHER / "azure_high_risk_signin.jsonl"),
         str(PANTHER / "azure_multiple_protection_alerts.jsonl")]


def _analyze(capsys: pytest.CaptureFixture[str], output: str) -> str:
    assert main(["analyze", *FILES, "--output", output]) == 0
    return capsys.readouterr().out


def test_json_inventory_lists_every_risky_sign_in(capsys: pytest.CaptureFixture[str]) -> None:
    review = json.loads(_analyze(capsys, "json"))
    entries = review["riskInventory"]["entries"]
    assert [(e["userPrincipalName"], e["level"], e["state"]) for e in entries] == [
        ("aragorn@lotr.com", "high", "confirmedCompromised"),
        ("john@justice.org", "high", "atRisk"),
        ("cross@lotr.com", "high", "dismissed")]
    verdicts = {u["userPrincipalName"]: u["verdict"] for u in review["users"]}
    assert verdicts["cross@lotr.com"] == "none"  # dismissed: no finding, but listed above


def test_risk_csv_output(capsys: pytest.CaptureFixture[str]) -> None:
    rows = list(csv.DictReader(io.StringIO(_analyze(capsys, "risk-csv"))))
    assert [(r["userPrincipalName"], r["verdict"], r["riskState"], r["country"]) for r in rows] == [
        ("aragorn@lotr.com", "high", "confirmedCompromised", "CN"),
        ("john@justice.org", "high", "atRisk", "RU"),
        ("cross@lotr.com", "none", "dismissed", "")]
    assert all(r["source"] == "signIn" and r["time"].endswith("Z") for r in rows)


def test_html_shows_the_dismissed_risk(capsys: pytest.CaptureFixture[str]) -> None:
    html = _analyze(capsys, "html")
    section = html.split('id="risk-inventory"', 1)[1].split("</section>", 1)[0]
    assert "cross@lotr.com" in section and "dismissed" in section
    assert "no other finding" in section


DETECTIONS = [
    {"id": "d-in", "riskEventType": "leakedCredentials", "riskLevel": "high",
     "riskState": "atRisk", "detectionTimingType": "offline",
     "activityDateTime": "2025-01-15T12:00:00Z", "detectedDateTime": "2025-01-16T12:00:00Z",
     "userId": "user-sam", "userPrincipalName": "sam@lotr.com"},
    {"id": "d-out", "riskEventType": "unfamiliarFeatures", "riskLevel": "low",
     "riskState": "atRisk", "activityDateTime": "2025-01-10T12:00:00Z",
     "userId": "user-sam", "userPrincipalName": "sam@lotr.com"},
    {"riskEventType": "no id at all", "activityDateTime": "2025-01-15T12:00:00Z"},
]


@pytest.mark.parametrize("layout", ["graph-page", "json-lines-with-bom"])
def test_risk_detections_file_joins_the_inventory(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path, layout: str) -> None:
    path = tmp_path / "riskDetections.json"
    if layout == "graph-page":
        path.write_text(json.dumps({"@odata.context": "x", "value": DETECTIONS}))
    else:
        path.write_bytes(b"\xef\xbb\xbf" + "\n".join(map(json.dumps, DETECTIONS)).encode())
    assert main(["analyze", *FILES, "--risk-detections", str(path), "--output", "json"]) == 0
    captured = capsys.readouterr()
    review = json.loads(captured.out)
    detections = [e for e in review["riskInventory"]["entries"] if e["kind"] == "detection"]
    assert [(e["detectionId"], e["userPrincipalName"], e["timing"]) for e in detections] == [
        ("d-in", "sam@lotr.com", "offline")]  # d-out lies before the window
    assert "risk detection 3 skipped" in captured.err  # no id: reported, not lost silently


@pytest.mark.parametrize("content, message", [
    (b"time,user\n2025-01-15,sam\n", "no risk detection could be read"),
    (b'{"value": []}', "no risk detections in the file"),
])
def test_unusable_risk_detections_file_is_a_clear_error(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "detections.json"
    path.write_bytes(content)
    assert main(["analyze", *FILES, "--risk-detections", str(path)]) == 2
    assert message in capsys.readouterr().err
