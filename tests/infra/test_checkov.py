"""checkov's Bicep checks pass over infra/, offline, and every skip carries a written reason.

checkov runs from its own virtual environment (.venv-checkov, built by `make deps` from
infra/requirements-checkov.txt). It runs with its vendor calls turned off and its proxies
pointed at a closed loopback port; where strace exists, the run is traced and must open no
network connection beyond loopback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infra.templates import INFRA, skip_comments

REPO = INFRA.parent
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"

# checkov 3.3.30 pins pycep-parser 0.5.1, whose grammar predates the `extension` statement that
# Microsoft Graph resources need. checkov has no checks for Microsoft.Graph resources, and the
# Graph permissions there are asserted over the newer parser's output in test_entra.py.
# Nor does it read fail() (newer Bicep): signin-source.bicep holds only that check, no resources,
# and test_signin_source.py evaluates it.
UNREADABLE_BY_CHECKOV = {"entra.bicep", "signin-source.bicep"}

OFFLINE = {
    "BC_SKIP_MAPPING": "TRUE",
    "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
    "CKV_NO_OUTPUT_COLOR": "true",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "",
    "no_proxy": "",
}


class Scan:
    def __init__(self, returncode: int, report: dict[str, Any], connects: list[str] | None):
        self.returncode = returncode
        self.report = report
        self.connects = connects


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> Scan:
    assert CHECKOV.exists(), f"{CHECKOV} is missing: run `make deps` (it builds .venv-checkov)"
    command = [str(CHECKOV), "--framework", "bicep", "--skip-download", "-d", "infra", "-o", "json"]
    trace = tmp_path_factory.mktemp("checkov") / "connect.trace"
    strace = shutil.which("strace")
    if strace:
        command = [strace, "-f", "-qq", "-e", "trace=connect", "-o", str(trace), *command]
    done = subprocess.run(
        command,
        cwd=REPO,
        env={**os.environ, **OFFLINE},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.stdout.strip(), done.stderr[-2000:]
    connects = trace.read_text().splitlines() if strace else None
    return Scan(done.returncode, json.loads(done.stdout), connects)


def results(scan: Scan, kind: str) -> list[dict[str, Any]]:
    return list(scan.report["results"].get(kind, []))


def test_checkov_passes_with_zero_failures(scan: Scan) -> None:
    failed = [
        (r["check_id"], r["resource"], r["file_path"]) for r in results(scan, "failed_checks")
    ]
    assert failed == []
    assert scan.returncode == 0
    assert scan.report["summary"]["passed"] > 20


def test_checkov_read_every_template_it_can(scan: Scan) -> None:
    unreadable = {Path(p).name for p in results(scan, "parsing_errors")}
    assert unreadable == UNREADABLE_BY_CHECKOV
    scanned = {
        Path(r["file_path"]).name
        for kind in ("passed_checks", "skipped_checks")
        for r in results(scan, kind)
    }
    for name in ("storage.bicep", "function-app.bicep", "vault.bicep", "logic-app.bicep"):
        assert name in scanned, f"checkov ran no check on {name}"


def test_every_skip_is_written_down_and_still_needed(scan: Scan) -> None:
    comments = skip_comments()
    assert comments
    for path, check, reason in comments:
        assert len(reason.split()) >= 6, f"{path.name}: skip of {check} needs a written reason"
    skipped = {(Path(r["file_path"]).name, r["check_id"]) for r in results(scan, "skipped_checks")}
    written = {(path.name, check) for path, check, _ in comments}
    assert written == skipped, f"stale or unexplained skips: {written ^ skipped}"


def test_checkov_stays_on_loopback(scan: Scan) -> None:
    if scan.connects is None:
        pytest.skip("strace is not installed; the proxies still point at a closed loopback port")
    inet = [line for line in scan.connects if re.search(r"AF_INET6?\b", line)]
    outside = [
        line
        for line in inet
        if not re.search(r'inet_addr\("127\.|inet_pton\(AF_INET6, "::1"|"::ffff:127\.', line)
    ]
    assert outside == []
