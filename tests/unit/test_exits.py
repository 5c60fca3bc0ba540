"""One table of exit codes: the module, docs/cli.md and the errors that lead to each code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared import errors
from shared.cli import main
from shared.commands import exits

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_the_documented_table_is_the_module_s() -> None:
    text = DOC.read_text(encoding="utf-8").split("## Exit codes", 1)[1]
    rows = dict(re.findall(r"^\| (\d+) \| (.+) \|$", text, flags=re.MULTILINE))
    assert {int(code): meaning for code, meaning in rows.items()} == exits.TABLE


@pytest.mark.parametrize(("error", "code"), [
    (errors.ConfigError("storage is not configured"), exits.SETTINGS),
    (errors.InputError("not a sign-in export"), exits.USAGE),
    (errors.NotFoundError("no run 'x'"), exits.USAGE),
    (errors.StorageError("unreachable"), exits.UNREACHABLE),
    (errors.GraphUnavailable("refused", status=403), exits.UNREACHABLE),
    (errors.SourceUnavailable("refused", status=403), exits.UNREACHABLE),
    (errors.ConflictError("evidence altered"), exits.PROBLEM),
])
def test_each_kind_of_failure_has_one_code(error: errors.SigninReviewError, code: int) -> None:
    assert exits.for_error(error) == code


def test_version_and_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == exits.OK
    assert re.fullmatch(r"signin-review \d+\.\d+\.\d+\n", capsys.readouterr().out)
    with pytest.raises(SystemExit) as done:
        main(["analyze"])
    assert done.value.code == exits.USAGE


@pytest.mark.parametrize("command", [["review", "--user", "someone@contoso.example"], ["learn"],
                                     ["verify-evidence", "run-1"]])
def test_missing_storage_setting_is_the_same_code_everywhere(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from shared import services

    for name in ("AzureWebJobsStorage", "AzureWebJobsStorage__blobServiceUri",
                 "AzureWebJobsStorage__queueServiceUri", "AzureWebJobsStorage__tableServiceUri"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(services, "_current", None)
    assert main(command) == exits.SETTINGS
    err = capsys.readouterr().err
    assert "AzureWebJobsStorage" in err and "Traceback" not in err
