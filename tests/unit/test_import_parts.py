"""One file of any size in parts (shared.imports.parts): on small files split into tiny parts,
the sign-ins, rejections (with their lines), fields set aside and counts are those of reading
the file whole, for JSON lines, Graph `{"value": [...]}` documents (indented and compact) and
arrays; record boundaries inside strings and nested objects are not taken for records' ends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.cli import main
from shared.errors import InputError
from shared.imports import read_each
from shared.imports.problems import ImportProblem
from shared.model import InputSummary, SignIn

PART_SIZES = (64, 300, 1000, 5000)


def _row(n: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": f"s-{n}", "createdDateTime": f"2025-03-{1 + n % 28:02d}T08:{n % 60:02d}:00Z",
        "userId": f"u-{n % 7}", "userPrincipalName": f"user{n % 7}@contoso.com",
        "ipAddress": f"203.0.113.{n % 250}", "status": {"errorCode": 50126 if n % 5 else 0},
        "location": {"city": "Paris", "countryOrRegion": "FR",
                     "geoCoordinates": {"latitude": 48.85, "longitude": 2.35}},
        # A nested array of objects: `},{` one level down is not a record boundary.
        "authenticationDetails": [{"authenticationStepResultDetail": "ok"},
                                  {"authenticationStepResultDetail": "MFA},{done"}],
        "userAgent": 'Mozilla/5.0 "},{" (X11)' if n % 3 == 0 else "Mozilla/5.0",
    }
    if n % 11 == 4:
        del row["id"]  # a fallback id from the record's position in the file
    if n % 13 == 6:
        row["createdDateTime"] = "not a time"  # rejected, with its line
    if n % 17 == 8:
        row["location"]["geoCoordinates"]["latitude"] = "north"  # set aside, sign-in kept
    if n % 19 == 9:
        del row["userId"], row["userPrincipalName"]  # a service principal's: not reviewed
    return row


ROWS = [_row(n) for n in range(120)]


def _files(tmp_path: Path) -> dict[str, Path]:
    lines = "".join(json.dumps(row) + "\n" for row in ROWS)
    document = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns",
                "value": ROWS, "@odata.nextLink": "https://graph.microsoft.com/v1.0/next"}
    contents = {
        "lines.jsonl": lines,
        "blank-lines-bom.jsonl": "\ufeff" + lines.replace("\n", "\n\n", 5),
        "indented.json": json.dumps(document, indent=2),
        "compact.json": json.dumps(document, separators=(",", ":")),
        "array.json": json.dumps(ROWS),
    }
    paths = {}
    for name, text in contents.items():
        paths[name] = tmp_path / name
        paths[name].write_text(text, encoding="utf-8")
    return paths


def _read(path: Path, part_bytes: int | None
          ) -> tuple[str, list[SignIn], list[ImportProblem], InputSummary, int]:
    summary = InputSummary()
    parts = list(read_each([path], summary, part_bytes=part_bytes))
    _, fmt, _, log = parts[-1]
    sign_ins = [sign_in for _, _, part, _ in parts for sign_in in part]
    return fmt, sign_ins, log.finish(), summary, len(parts)


@pytest.mark.parametrize("name", ["lines.jsonl", "blank-lines-bom.jsonl", "indented.json",
                                  "compact.json", "array.json"])
def test_parts_read_what_the_whole_file_reads(tmp_path: Path, name: str) -> None:
    path = _files(tmp_path)[name]
    fmt, sign_ins, problems, summary, parts = _read(path, None)
    assert parts == 1 and summary.rows_rejected and summary.fields_set_aside
    assert summary.without_user
    for part_bytes in PART_SIZES:
        in_parts = _read(path, part_bytes)
        assert in_parts[4] > 1, part_bytes
        assert in_parts[:4] == (fmt, sign_ins, problems, summary), part_bytes


def test_a_document_broken_part_way_is_refused_saying_what_was_read(tmp_path: Path) -> None:
    text = json.dumps({"value": ROWS}, indent=2)
    broken = tmp_path / "broken.json"
    middle = text.index('"ipAddress":', len(text) // 2)
    broken.write_text(text[:middle] + '"ipAddress";' + text[middle + len('"ipAddress":'):])
    with pytest.raises(InputError, match="not valid JSON"):
        _read(broken, None)
    with pytest.raises(InputError, match=r"not valid JSON.*sign-ins were read"):
        _read(broken, 300)


def test_other_documents_are_read_whole(tmp_path: Path) -> None:
    records = tmp_path / "monitor.json"  # Azure Monitor's {"records": [...]}: not split
    records.write_text(json.dumps({"records": [
        {"time": "2025-03-10T08:00:00Z", "category": "SignInLogs", "operationName": "Sign-in "
         "activity", "properties": {**ROWS[1]}} for _ in range(40)]}))
    assert _read(records, 100)[4] == 1


def test_analyze_of_one_file_in_tiny_parts_matches_reading_it_whole(tmp_path: Path) -> None:
    path = _files(tmp_path)["indented.json"]
    outputs = []
    for part in ("1000", "0.0005"):
        out = tmp_path / f"review-{part}.json"
        code = main(["analyze", str(path), "--quiet", "--spill-above", "0", "--part-size", part,
                     "--output", "json", "--out", str(out)])
        assert code == 3  # some rows rejected, as planted
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0])["input"]["rowsRead"] == len(ROWS)


def test_a_document_is_read_in_one_window_that_does_not_grow_with_the_file(tmp_path: Path
                                                                           ) -> None:
    from shared.imports import parts

    windows: list[parts._Window] = []
    sizes: list[int] = []

    class Watched(parts._Window):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            windows.append(self)

        def read(self) -> None:
            super().read()
            sizes.append(len(self.data))

    rows = [row for row in ROWS * 10 if "id" in row]
    path = tmp_path / "long.json"
    path.write_text(json.dumps({"value": [{**row, "id": f"{row['id']}-{n}"}
                                          for n, row in enumerate(rows)]}))
    original = parts._Window
    parts._Window = Watched  # type: ignore[misc]
    try:
        fmt, sign_ins, problems, summary, count = _read(path, 2000)
    finally:
        parts._Window = original  # type: ignore[misc]
    assert len(windows) == 1 and count > 100
    # the file's opening read (64 KiB at least), a part more, and room for the opening itself
    assert set(sizes) == {len(windows[0].data)} and sizes[0] <= 2**16 + 2000 + 200
    assert (fmt, sign_ins, problems, summary) == _read(path, None)[:4]


def test_only_a_parts_own_records_decide_whether_it_reads_deprecated_risk_types(
        tmp_path: Path) -> None:
    """Each part decodes as it would alone: the records after it, already in the window, do
    not count (deprecated riskEventTypes are read only where no record has riskEventTypes_v2)."""
    old = [{**row, "riskEventTypes": ["unfamiliarFeatures"]} for row in ROWS[:40]]
    new = [{**row, "riskEventTypes_v2": ["anonymizedIPAddress"]} for row in ROWS[40:80]]
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps({"value": old + new}))
    summary = InputSummary()
    first = next(iter(read_each([path], summary, part_bytes=1500)))[2]
    assert first and all(tuple(s.risk_event_types_v2 or ()) == ("unfamiliarFeatures",)
                         for s in first)
