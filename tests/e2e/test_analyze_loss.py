"""`analyze` says what it read and lost, in every output, and exits 3 when rows were rejected;
it reads Elastic documents and folders of Microsoft-Extractor-Suite files; times print as UTC."""

from __future__ import annotations

import codecs
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from shared.cli import main
from shared.commands.analyze import EXIT_ROWS_REJECTED

PUBLIC = Path(__file__).resolve().parents[1] / "data" / "public"
ELASTIC_SAMPLE = PUBLIC / "elastic-integrations" / "sample_event.json"
EXTRACTOR = PUBLIC / "Microsoft-Extractor-Suite"


def sign_in(number: int, *, at: str = "2025-05-02T10:00:00Z", **changes: Any) -> dict[str, Any]:
    record = {
        "id": f"s-{number}", "createdDateTime": at, "userId": f"u-{number % 3}",
        "userPrincipalName": f"user{number % 3}@contoso.com", "ipAddress": "203.0.113.7",
        "status": {"errorCode": 0}, "isInteractive": True,
        "location": {"city": "Lyon", "countryOrRegion": "FR",
                     "geoCoordinates": {"latitude": 45.76, "longitude": 4.84}},
    }
    record.update(changes)
    return record


@pytest.fixture
def lossy_export(tmp_path: Path) -> Path:
    """Five good sign-ins, one with text for coordinates (kept), two without a readable time."""
    rows = [sign_in(n) for n in range(5)]
    rows.append(sign_in(5, location={"geoCoordinates": {"latitude": "north", "longitude": 4}}))
    rows += [sign_in(6, at="yesterday"), sign_in(7, at="")]
    path = tmp_path / "signins.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["analyze", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_output_carries_the_loss_summary_and_exit_code_3(capsys, lossy_export):
    code, out, err = run(capsys, str(lossy_export), "--output", "json")
    assert code == EXIT_ROWS_REJECTED == 3
    summary = json.loads(out)["input"]
    assert summary["rowsRead"] == 8 and summary["signInsKept"] == 6
    assert summary["fieldsSetAside"] == {"location.geoCoordinates.latitude": 1}
    assert summary["rowsRejected"] == {"unreadable createdDateTime": 1, "no sign-in time": 1}
    assert summary["rejectedExamples"]["unreadable createdDateTime"] == [f"{lossy_export}:7"]
    assert "8 rows read from 1 file: 6 sign-ins kept, 2 rows rejected" in err
    assert f"no sign-in time x1 (e.g. {lossy_export}:8)" in err


@pytest.mark.parametrize("output", ["table", "html", "csv"])
def test_every_output_shows_the_loss_summary(capsys, lossy_export, output):
    code, out, err = run(capsys, str(lossy_export), "--output", output)
    assert code == EXIT_ROWS_REJECTED
    # The CSV is a clean table (spreadsheets show comment lines as data): its summary is on
    # stderr, as every output's is.
    shown = err if output == "csv" else out
    assert "8 rows read from 1 file: 6 sign-ins kept, 2 rows rejected" in shown
    assert "location.geoCoordinates.latitude x1" in shown
    assert "unreadable createdDateTime x1" in shown
    if output == "csv":
        assert out.splitlines()[0].startswith("userId,") and "#" not in out


def test_clean_input_exits_0_and_still_says_what_was_read(capsys):
    code, out, err = run(capsys, str(PUBLIC / "msticnb" / "aad_signin_random.jsonl"))
    review = json.loads(out)
    assert code == 0
    assert review["tenant"]["signIns"] == 300 and review["tenant"]["users"] == 202
    assert review["input"]["rowsRejected"] == {}
    assert review["input"]["fieldsSetAside"]["location.geoCoordinates.latitude"] == 296
    assert "300 rows read from 1 file: 300 sign-ins kept" in err


def test_nothing_usable_says_which_fields_failed(capsys, tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join(json.dumps(sign_in(n, at="soon")) for n in range(31)))
    code, out, err = run(capsys, str(path))
    assert code == 2 and out == ""
    assert "no user sign-in could be read: 31 rows rejected (unreadable createdDateTime x31)" \
        in err


def test_offsets_print_as_utc(capsys):
    code, out, _ = run(capsys, str(ELASTIC_SAMPLE), "--output", "json")
    review = json.loads(out)
    assert code == 0
    assert review["window"]["start"] == "2019-10-18T09:45:48.072989Z"  # was 04:45:48-05:00
    code, out, _ = run(capsys, str(ELASTIC_SAMPLE), "--output", "table")
    assert "2019-10-18 09:45 to 2019-10-18 09:45 UTC" in out


def ecs_mapped(document: dict[str, Any]) -> dict[str, Any]:
    """The sample without event.original: only the ECS-mapped fields remain."""
    mapped = json.loads(json.dumps(document))
    del mapped["event"]["original"]
    return mapped


@pytest.mark.parametrize("shape", ["document", "mapped_only", "search_response", "hits_lines"])
def test_elastic_documents(capsys, tmp_path, shape):
    document = json.loads(ELASTIC_SAMPLE.read_text())
    mapped = ecs_mapped(document)
    path = tmp_path / "export.json"
    if shape == "document":
        path.write_text(json.dumps(document))
    elif shape == "mapped_only":
        path.write_text(json.dumps(mapped) + "\n" + json.dumps(
            {**mapped, "azure": {**mapped["azure"], "signinlogs": {
                **mapped["azure"]["signinlogs"],
                "properties": {**mapped["azure"]["signinlogs"]["properties"], "id": "other"}}}}))
    elif shape == "search_response":
        path.write_text(json.dumps({"took": 3, "hits": {"total": {"value": 1}, "hits": [
            {"_index": "logs-azure.signinlogs-default", "_id": "x", "_source": document}]}}))
    else:
        path.write_text(json.dumps({"_index": "i", "_id": "a", "_source": mapped}) + "\n"
                        + json.dumps({"_index": "i", "_id": "b", "_source": document}) + "\n")
    code, out, _ = run(capsys, str(path))
    review = json.loads(out)
    assert code == 0, shape
    [user] = review["users"]
    assert user["userPrincipalName"] == "test@elastic.co"
    assert review["window"]["start"] == "2019-10-18T09:45:48.072989Z"
    expected = 2 if shape == "mapped_only" else 1  # hits_lines: the same sign-in twice
    assert review["tenant"]["signIns"] == expected
    assert user["stats"]["countries"] == ["FR"]


def write_powershell_json(path: Path, records: list[dict[str, Any]]) -> None:
    """As PowerShell's ConvertTo-Json | Out-File -Encoding UTF8 writes them: BOM, `:  `."""
    text = json.dumps(records, indent=4).replace('": ', '":  ')
    path.write_bytes(codecs.BOM_UTF8 + text.encode())


def test_folder_of_extractor_suite_files(capsys, tmp_path):
    folder = tmp_path / "20250502-SignInLogs"
    folder.mkdir()
    interactive = [sign_in(n, at=f"2025-05-0{1 + n % 2}T1{n}:00:00Z") for n in range(6)]
    non_interactive = [sign_in(10 + n, isInteractive=False) for n in range(4)]
    write_powershell_json(folder / "20250501-interactiveUser-SignInLogs.json", interactive[:3])
    write_powershell_json(folder / "20250502-interactiveUser-SignInLogs.json", interactive[3:])
    # The non-interactive file repeats one interactive sign-in: merged, kept once.
    write_powershell_json(folder / "20250502-nonInteractiveUser-SignInLogs.json",
                          [*non_interactive, interactive[0]])
    shutil.copy(EXTRACTOR / "20250502132321-managedIdentity-SignInLogs.json", folder)
    code, out, err = run(capsys, str(folder))
    review = json.loads(out)
    assert code == 0
    assert review["tenant"]["signIns"] == 10
    summary = review["input"]
    assert (summary["files"], summary["rowsRead"], summary["repeated"]) == (3, 11, 1)
    [refused] = summary["filesRefused"]
    assert refused.endswith("managedIdentity-SignInLogs.json")
    assert "file refused:" in err and "holds no user sign-ins" in err
    # A glob reads the same files.
    code, out, _ = run(capsys, str(folder / "*User-SignInLogs.json"))
    assert code == 0 and json.loads(out)["tenant"]["signIns"] == 10


@pytest.mark.parametrize("inputs", [
    [str(PUBLIC / "msticpy"), str(PUBLIC / "Azure-Sentinel" / "disable_accounts.csv"),
     str(PUBLIC / "Azure-Sentinel" / "sign-in_adelete.csv")],
    [str(PUBLIC / "panther-analysis" / "azure_high_risk_signin.jsonl"),
     str(PUBLIC / "panther-analysis" / "azure_excessive_account_lockouts.jsonl")],
])
def test_spilled_review_gives_the_verdicts_of_the_in_memory_one(capsys, inputs):
    code, in_memory, _ = run(capsys, *inputs, "--output", "json")
    spilled_code, spilled, _ = run(capsys, *inputs, "--output", "json", "--spill-above", "0")
    assert (code, spilled_code) == (0, 0)
    expected, actual = json.loads(in_memory), json.loads(spilled)
    assert actual["users"] == expected["users"]
    assert actual["tenant"] == expected["tenant"] and actual["window"] == expected["window"]
    for key in ("rowsRead", "signInsKept", "repeated", "withoutUser"):
        assert actual["input"][key] == expected["input"][key], key


@pytest.mark.parametrize("window", [
    (), ("--window-start", "2025-05-02T00:00:00Z", "--window-end", "2025-05-02T23:59:59Z")])
def test_spilled_review_counts_a_sign_in_read_twice_once(capsys, tmp_path, window):
    """The tenant-wide pass is taken as files are read; a sign-in in two files must still count
    once there (a spray's failures, the tenant's sign-ins), as in the in-memory review."""
    spray = [sign_in(n, at=f"2025-05-02T10:{n:02d}:00Z", userId=f"u-{n}",
                     userPrincipalName=f"user{n}@contoso.com", ipAddress="198.51.100.9",
                     status={"errorCode": 50126}) for n in range(12)]
    history = [sign_in(100 + n, at=f"2025-05-01T0{n}:00:00Z") for n in range(3)]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in spray + history))
    (tmp_path / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in spray[:4]))
    code, in_memory, _ = run(capsys, str(tmp_path), "--output", "json", *window)
    spilled_code, spilled, _ = run(capsys, str(tmp_path), "--output", "json", *window,
                                   "--spill-above", "0")
    assert (code, spilled_code) == (0, 0)
    expected, actual = json.loads(in_memory), json.loads(spilled)
    assert expected["input"]["repeated"] == actual["input"]["repeated"] == 4
    assert expected["tenant"]["sprayingSources"]  # the spray is seen
    assert actual["tenant"] == expected["tenant"] and actual["window"] == expected["window"]
    assert actual["users"] == expected["users"]
    assert actual["campaigns"] == expected["campaigns"]


def test_spilled_review_reports_rejections_and_exit_code(capsys, lossy_export):
    code, out, err = run(capsys, str(lossy_export), "--spill-above", "0")
    assert code == EXIT_ROWS_REJECTED
    assert json.loads(out)["input"]["rowsRejected"] == {
        "unreadable createdDateTime": 1, "no sign-in time": 1}
    assert "8 rows read from 1 file: 6 sign-ins kept, 2 rows rejected" in err


@pytest.mark.parametrize("spilled", [False, True], ids=["in-memory", "spilled"])
@pytest.mark.parametrize("output", ["json", "table", "html", "csv"])
def test_every_output_counts_ids_shared_by_sign_ins_that_disagree(capsys, tmp_path, output,
                                                                  spilled):
    """One id on two addresses of one user at one time, another on two users: all kept, both ids
    counted in every output, in memory and spilled to shard files by user (where the two users'
    sign-ins sit in different shards)."""
    rows = [sign_in(n) for n in range(4)]
    rows.append(sign_in(1, ipAddress="198.51.100.30"))
    rows.append(sign_in(2))  # a repeat
    rows.append(sign_in(0, userId="u-9", userPrincipalName="other@contoso.com"))
    path = tmp_path / "signins.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    args = ["--output", output] + (["--spill-above", "0"] if spilled else [])
    code, out, err = run(capsys, str(path), *args)
    assert code == 0
    said = "2 ids shared by sign-ins that disagree (other user, time or address: all kept)"
    assert said in err
    if output == "json":
        summary = json.loads(out)["input"]
        assert (summary["conflictingIds"], summary["repeated"], summary["signInsKept"]) == (
            2, 1, 6)
    elif output != "csv":  # the CSV is a clean table: its summary is the stderr above
        assert said in " ".join(out.split())  # the terminal wraps long lines
