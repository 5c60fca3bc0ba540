"""`signin-review analyze` end to end: real files in, JSON / table / HTML out, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from shared.cli import main

PUBLIC = Path(__file__).resolve().parents[1] / "data" / "public"
SENTINEL = PUBLIC / "Azure-Sentinel"
ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shared.cli", "analyze", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def _json(capsys, *args: str) -> dict:
    assert main(["analyze", *args, "--output", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_disabled_account_attempts_from_pyongyang(capsys):
    review = _json(capsys, str(SENTINEL / "disable_accounts.csv"),
                   str(SENTINEL / "sign-in_adelete.csv"))
    users = {user["userPrincipalName"]: user for user in review["users"]}
    assert set(users) == {"johns@m365x816222.onmicrosoft.com",
                          "adelev@m365x816222.onmicrosoft.com"}
    johns = users["johns@m365x816222.onmicrosoft.com"]
    assert johns["verdict"] == "low"
    [finding] = johns["findings"]
    assert finding["type"] == "disabled_account" and len(finding["signInIds"]) == 4
    assert "175.45.176.99" in finding["summary"] and "nobody got in" in finding["summary"]
    assert johns["stats"] == {"signIns": 4, "failures": 4, "countries": ["KP"], "ips": 1,
                              "devices": 0, "failuresByClass": {"disabled_account": 4}}
    assert review["users"][0]["userPrincipalName"] == "johns@m365x816222.onmicrosoft.com"
    assert review["tenant"]["signIns"] == 60 and review["tenant"]["users"] == 2


def test_privileged_file_escalates(capsys, tmp_path):
    privileged = tmp_path / "admins.txt"
    privileged.write_text("# break-glass and admins\nJohnS@m365x816222.onmicrosoft.com\n\n")
    review = _json(capsys, str(SENTINEL / "disable_accounts.csv"), "--privileged",
                   str(privileged))
    [johns] = review["users"]
    assert johns["privileged"] and johns["verdict"] == "high"


def test_msticpy_logons_failed_attempt_abroad_is_not_travel(capsys):
    review = _json(capsys, str(PUBLIC / "msticpy" / "aad_logons.jsonl"))
    users = {user["userPrincipalName"]: user for user in review["users"]}
    assert len(users) == 6
    meganb = users["meganb@seccxp.ninja"]
    # Atlanta (90072, never past the password) then Liege: nobody travelled with a credential.
    assert meganb["findings"] == [] and meganb["stats"]["countries"] == ["BE", "US"]


def test_panther_high_risk_sign_in_is_high(capsys):
    review = _json(capsys, str(PUBLIC / "panther-analysis" / "azure_high_risk_signin.jsonl"))
    flagged = [user for user in review["users"] if user["verdict"] == "high"]
    assert flagged and all("risky_sign_in" in {f["type"] for f in user["findings"]}
                           for user in flagged)


def test_window_start_makes_history_a_baseline(capsys, tmp_path):
    rows = [_graph_row(f"h{n}", f"2025-02-{n + 1:02d}T09:00:00Z", "London", "GB",
                       "81.2.69.160") for n in range(25)]
    rows.append(_graph_row("w1", "2025-03-08T10:00:00Z", "London", "GB", "81.2.69.160"))
    rows.append(_graph_row("w2", "2025-03-09T02:00:00Z", "Lagos", "NG", "102.89.1.1",
                           os="Linux"))
    path = tmp_path / "signins.json"
    path.write_bytes(msgspec.json.encode({"value": rows}))
    review = _json(capsys, str(path), "--window-start", "2025-03-07T18:00:00Z",
                   "--window-end", "2025-03-10T06:00")
    [user] = review["users"]
    assert review["window"]["start"].startswith("2025-03-07T18:00")
    assert user["verdict"] == "high" and user["stats"]["signIns"] == 2
    assert not user["thinBaseline"]
    # 02:00 on a Sunday, hours the weekday history never shows, on a new device: off-hours too
    assert [f["type"] for f in user["findings"]] == ["unfamiliar_location", "off_hours"]


def test_trusted_networks_file_makes_a_vpn_egress_familiar(capsys, tmp_path):
    rows = [_graph_row(f"h{n}", f"2025-02-{n + 3:02d}T09:00:00Z", "London", "GB",
                       "81.2.69.160") for n in range(20)]
    rows.append(_graph_row("w1", "2025-03-10T09:00:00Z", "London", "GB", "81.2.69.160"))
    rows.append(_graph_row("w2", "2025-03-10T09:20:00Z", "Frankfurt", "DE", "165.225.72.14"))
    path = tmp_path / "signins.json"
    path.write_bytes(msgspec.json.encode({"value": rows}))
    args = (str(path), "--window-start", "2025-03-07T18:00:00Z")
    [alone] = _json(capsys, *args)["users"]
    assert {f["type"] for f in alone["findings"]} >= {"impossible_travel", "unfamiliar_location"}
    named = tmp_path / "namedLocations.json"
    named.write_text(json.dumps({"value": [{
        "@odata.type": "#microsoft.graph.ipNamedLocation", "displayName": "Corporate VPN",
        "isTrusted": True, "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange",
                                         "cidrAddress": "165.225.72.0/24"}]}]}))
    review = _json(capsys, *args, "--trusted-networks", str(named))
    [user] = review["users"]
    assert user["verdict"] == "none" and user["findings"] == []
    [source] = [s for s in review["sources"] if s["name"] == "namedLocations"]
    assert source["available"] and "1 trusted IP ranges" in source["detail"]
    cidrs = tmp_path / "trusted.txt"
    cidrs.write_text("# VPN egress\n165.225.72.0/24\n")
    assert _json(capsys, *args, "--trusted-networks", str(cidrs))["users"][0]["findings"] == []


def test_table_fits_100_columns_flagged_first():
    done = _run(str(SENTINEL / "disable_accounts.csv"), str(SENTINEL / "sign-in_adelete.csv"),
                "--output", "table")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(len(line) <= 100 for line in lines)
    first_johns = next(i for i, line in enumerate(lines) if line.strip().startswith("LOW"))
    first_adelev = next(i for i, line in enumerate(lines) if "adelev" in line)
    assert first_johns < first_adelev


def test_html_written_to_file(tmp_path):
    out = tmp_path / "review.html"
    done = _run(str(SENTINEL / "disable_accounts.csv"), "--output", "html", "--out", str(out))
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    assert page.lstrip().lower().startswith("<!doctype html") and "johns@" in page


@pytest.mark.parametrize("args", [
    ["missing-file.json"],
    [str(SENTINEL / "signinLogs.csv")],  # a rule's output, not sign-ins
    [str(SENTINEL / "disable_accounts.csv"), "--window-start", "last tuesday"],
    [str(SENTINEL / "disable_accounts.csv"), "--privileged", "no-such-list.txt"],
    [str(SENTINEL / "disable_accounts.csv"), "--window-start", "2021-05-01",
     "--window-end", "2021-04-01"],
    [str(SENTINEL / "disable_accounts.csv"), "--output", "pdf"],
    [str(SENTINEL / "disable_accounts.csv"), "--trusted-networks", "no-such-file.json"],
])
def test_bad_input_exits_2_without_traceback(args):
    done = _run(*args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.strip()
    assert done.stdout == ""


def _graph_row(sign_in_id: str, at: str, city: str, country: str, ip: str,
               os: str = "Windows 10") -> dict:
    return {
        "id": sign_in_id, "createdDateTime": at, "userId": "u-1",
        "userPrincipalName": "pat@contoso.com", "ipAddress": ip, "isInteractive": True,
        "status": {"errorCode": 0},
        "deviceDetail": {"deviceId": "" if os == "Linux" else "d-1", "operatingSystem": os,
                         "browser": "Edge"},
        "location": {"city": city, "countryOrRegion": country},
    }


# --- output chosen for who reads it; arguments checked before any input is read ---------------


def test_table_on_a_terminal_json_when_piped_or_named() -> None:
    from argparse import Namespace

    from shared.commands.analyze import chosen_output

    def chosen(terminal: bool, output: str | None = None, out: str | None = None) -> str:
        return chosen_output(Namespace(output=output, out=out), terminal=terminal)

    assert chosen(True) == "table" and chosen(False) == "json"
    assert chosen(True, out="weekend.html") == "html" and chosen(True, out="x.CSV") == "csv"
    assert chosen(True, out="review.out") == "json"
    assert chosen(False, output="table") == "table" and chosen(True, "json", "a.html") == "json"


@pytest.mark.parametrize(("args", "said"), [
    (["--window-start", "Monday"], "--window-start is not an ISO 8601 time: 'Monday'"),
    (["--window-start", "2025-03-17T00:00Z", "--window-end", "2025-03-14T00:00Z"],
     "--window-start (2025-03-17T00:00Z) is after --window-end (2025-03-14T00:00Z)"),
    (["--out", "/nonexistent-folder/review.json"], "cannot write /nonexistent-folder/review.json:"
                                                   " no folder /nonexistent-folder"),
])
def test_arguments_are_checked_before_any_input_is_read(
    args: list[str], said: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The input does not exist: had it been read first, that would be the complaint.
    assert main(["analyze", str(tmp_path / "not-read.csv"), *args]) == 2
    err = capsys.readouterr().err
    assert said in err and "not-read.csv" not in err


def test_a_window_start_after_every_sign_in_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["analyze", str(SENTINEL / "disable_accounts.csv"), "--window-start",
                 "2030-01-01T00:00:00Z", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--window-start (2030-01-01 00:00 UTC) is after the last sign-in read" in err
    assert "--window-end" not in err
