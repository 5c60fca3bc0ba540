"""Hostile input: whatever a file holds, reading it ends in an ImportResult or one InputError,
never another exception (no tracebacks for a user who picked the wrong file)."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.errors import InputError
from shared.imports import ImportResult, read_paths
from shared.imports.csvfiles import CELL_LIMIT

DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLES = [
    DATA / "imports" / "InteractiveSignIns_2025-03-10_2025-03-17.csv",
    DATA / "imports" / "InteractiveSignIns_2025-03-10_2025-03-17.json",
    DATA / "public" / "Azure-Sentinel" / "disable_accounts.csv",
    DATA / "public" / "msticpy" / "aad_logons.jsonl",
    DATA / "public" / "panther-analysis" / "azure_excessive_account_lockouts.jsonl",
    DATA / "public" / "microsoft-graph-docs-contrib" / "signin-list.md.beta.example1.json",
]
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=3),
    max_leaves=8,
)


def read_bytes_as_file(content: bytes, suffix: str) -> ImportResult | InputError:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"export{suffix}"
        path.write_bytes(content)
        try:
            return read_paths([path])
        except InputError as error:
            assert str(path) in str(error)
            return error


@FUZZ
@given(content=st.binary(max_size=2000), suffix=st.sampled_from([".csv", ".json", ".png", ""]))
def test_random_bytes(content: bytes, suffix: str) -> None:
    read_bytes_as_file(content, suffix)


@FUZZ
@given(sample=st.sampled_from(SAMPLES), cut=st.floats(min_value=0, max_value=1))
def test_truncated_exports(sample: Path, cut: float) -> None:
    content = sample.read_bytes()
    read_bytes_as_file(content[: int(len(content) * cut)], sample.suffix)


@FUZZ
@given(field=st.sampled_from(["id", "createdDateTime", "userId", "status", "location",
                              "deviceDetail", "autonomousSystemNumber", "isInteractive",
                              "riskEventTypes_v2", "value"]),
       value=json_values, layout=st.sampled_from(["page", "lines"]))
def test_graph_fields_of_the_wrong_type(field: str, value: object, layout: str) -> None:
    good = {"id": "a", "createdDateTime": "2025-03-10T08:00:00Z", "userId": "u",
            "status": {"errorCode": 0}}
    rows = [good, {**good, "id": "b", field: value}]
    text = json.dumps({"value": rows}) if layout == "page" else "\n".join(map(json.dumps, rows))
    outcome = read_bytes_as_file(text.encode(), ".json")
    if isinstance(outcome, ImportResult):
        assert outcome.sign_ins[0].id == "a"


@FUZZ
@given(column=st.integers(min_value=0, max_value=55), value=st.text(max_size=200))
def test_portal_cells_of_any_text(column: int, value: str) -> None:
    rows = list(csv.reader(io.StringIO(SAMPLES[0].read_text(), newline="")))
    rows[2][column] = value
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    outcome = read_bytes_as_file(buffer.getvalue().encode(), ".csv")
    if isinstance(outcome, ImportResult):
        assert len(outcome.sign_ins) >= 6  # only the touched row may fall out


@FUZZ
@given(key=st.sampled_from(["properties", "time", "resultType", "category", "calleripaddress"]),
       value=json_values)
def test_azure_monitor_envelope_of_the_wrong_type(key: str, value: object) -> None:
    record = {"time": "2025-01-15 08:15:23.456", "category": "SignInLogs", "resultType": "0",
              "operationName": "Sign-in activity",
              "properties": {"id": "m", "userId": "u", "createdDateTime": "2025-01-15T08:15:23Z"}}
    lines = [json.dumps(record), json.dumps({**record, key: value})]
    read_bytes_as_file("\n".join(lines).encode(), ".jsonl")


def test_huge_cell_is_one_problem_not_a_crash(tmp_path: Path) -> None:
    rows = list(csv.reader(io.StringIO(SAMPLES[0].read_text(), newline="")))
    rows[3][2] = "A" * (CELL_LIMIT + 10)  # user agent beyond the csv module's cell limit
    path = tmp_path / "InteractiveSignIns_huge.csv"
    with path.open("w", newline="") as stream:
        csv.writer(stream).writerows(rows)
    result = read_paths([path])
    assert any(p.line == 4 and "unreadable CSV row" in p.message for p in result.problems)
    assert len(result.sign_ins) >= 6


def test_deeply_nested_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    outcome = read_bytes_as_file(path.read_bytes(), ".json")
    assert isinstance(outcome, InputError)


def test_many_bad_rows_are_capped(tmp_path: Path) -> None:
    lines = [json.dumps({"id": str(n), "createdDateTime": "never", "userId": "u",
                         "status": {}}) for n in range(500)]
    lines.insert(0, json.dumps({"id": "ok", "createdDateTime": "2025-01-01T00:00:00Z",
                                "userId": "u", "status": {}}))
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines))
    result = read_paths([path])
    assert len(result.sign_ins) == 1
    assert len(result.problems) == 101
    assert result.problems[-1].message.startswith("400 more bad rows")
