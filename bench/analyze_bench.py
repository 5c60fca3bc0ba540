"""`analyze` of a month of exports on a laptop: 5 million sign-ins within 1 GB.

Input: a month of a 5,000-user tenant's sign-ins (interactive and non-interactive), one Graph
JSON-lines file per day and kind in a folder, as export tools write them: routine sign-ins from
each user's home city, credential failures, a password spray from one network on one day and
a few sign-ins from abroad. Generated from a template (fast; realistic field sizes).

Measured in a child process: `signin-review analyze FOLDER --quiet` (past its memory budget it
spills sign-ins to per-user shard files). `analyze_peak_rss_mb_5m` is the child's own peak
resident memory (its address space's high-water mark VmHWM, see bench/machine.py);
`analyze_rows_per_s_5m` is rows over the child's CPU time (one core, fair on a shared machine);
`analyze_vs_json_loads_5m` divides it by the rate of `json.loads` over the same lines in another
child (what merely parsing the files costs).

`make bench-full` then joins the same rows into one JSON-lines file (4.1 GB at 5M rows) and
analyses it again: `analyze_one_file_peak_rss_mb_5m` must stay within the same 1 GB (the file
is read in parts, shared.imports.parts) and `analyze_one_file_same_review_5m` says whether the
review (tenant figures and every user's verdict and findings) is the folder's.

    python -m bench.analyze_bench [ROWS] [--one-file]     # prints the JSON summary
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROWS = 5_000_000
USERS = 5000
DAYS = 30
RSS_TARGET_MB = 1024
START = datetime(2025, 3, 1, tzinfo=UTC)

_TEMPLATE = (
    '{{"id":"{id}","createdDateTime":"{at}","userId":"{uid}","userPrincipalName":"{upn}",'
    '"userDisplayName":"{name}","appId":"00000002-0000-0ff1-ce00-000000000000",'
    '"appDisplayName":"Office 365 Exchange Online","ipAddress":"{ip}","clientAppUsed":"Browser",'
    '"isInteractive":{interactive},"conditionalAccessStatus":"notApplied",'
    '"status":{{"errorCode":{code}}},"deviceDetail":{{"deviceId":"{device}",'
    '"operatingSystem":"Windows 10","browser":"Edge 121.0"}},"location":{{"city":"{city}",'
    '"countryOrRegion":"{country}","geoCoordinates":{{"latitude":{lat},"longitude":{lon}}}}},'
    '"correlationId":"{id}-c","autonomousSystemNumber":{asn},'
    '"userAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edg/121.0",'
    '"riskLevelDuringSignIn":"none","riskState":"none",'
    '"authenticationRequirement":"singleFactorAuthentication","signInEventTypes":["{kind}"]}}\n'
)
_HOMES = [("London", "GB", 51.5074, -0.1278, 2856), ("Paris", "FR", 48.8566, 2.3522, 3215),
          ("New York", "US", 40.7128, -74.006, 7922), ("Berlin", "DE", 52.52, 13.405, 3320)]
_ABROAD = ("Lagos", "NG", 6.5244, 3.3792, 29465)


def write_month(folder: Path, rows: int) -> int:
    """One file per day and kind; returns the rows written."""
    files = DAYS * 2
    written = 0
    for day in range(DAYS):
        for kind in ("interactiveUser", "nonInteractiveUser"):
            count = (rows - written) // (files - day * 2 - (kind != "interactiveUser"))
            name = f"{(START + timedelta(days=day)):%Y%m%d}-{kind}-SignInLogs.jsonl"
            with (folder / name).open("w") as out:
                out.writelines(_row(day, kind, n) for n in range(count))
            written += count
    return written


def _row(day: int, kind: str, n: int) -> str:
    user = (n * 7919) % USERS
    seconds = 7 * 3600 + (n * 43200) // 100_000 % 43200
    at = START + timedelta(days=day, seconds=seconds)
    city, country, lat, lon, asn = _HOMES[user % len(_HOMES)]
    ip, code = f"81.{user % 200}.{user % 250}.{1 + n % 3}", 0
    if n % 41 == 0:
        code = 50126  # a wrong password now and then
    if day == 19 and n % 997 == 0:
        ip, code, asn = f"198.51.100.{n % 8}", 50126, 64500  # a spray from one network
    if day == 25 and user % 1000 == 1 and n % 5 == 0:
        city, country, lat, lon, asn = _ABROAD
        ip = "102.89.1.1"
    return _TEMPLATE.format(
        id=f"{day}-{kind[0]}-{n}", at=at.strftime("%Y-%m-%dT%H:%M:%SZ"), uid=f"user-{user:05d}",
        upn=f"user{user}@contoso.com", name=f"User {user}", ip=ip,
        interactive="true" if kind == "interactiveUser" else "false", code=code,
        device=f"dev-{user}", city=city, country=country, lat=lat, lon=lon, asn=asn, kind=kind,
    )


def _analyze_child(folder: str, out: str = os.devnull) -> dict[str, Any]:
    from bench.machine import peak_rss_mb
    from shared.cli import main

    began, began_cpu = time.perf_counter(), time.process_time()
    code = main(["analyze", folder, "--quiet", "--output", "json", "--out", out])
    return {"exit": code, "cpu_s": time.process_time() - began_cpu,
            "wall_s": time.perf_counter() - began,
            "maxrss_mb": peak_rss_mb()}


def _json_loads_child(folder: str) -> dict[str, Any]:
    began_cpu = time.process_time()
    rows = 0
    for path in sorted(Path(folder).iterdir()):
        with path.open("rb") as lines:
            for line in lines:
                json.loads(line)
                rows += 1
    return {"rows": rows, "cpu_s": time.process_time() - began_cpu}


def _child(flag: str, folder: Path, *more: Path) -> dict[str, Any]:
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "bench.analyze_bench", flag, str(folder),
                           *map(str, more)], cwd=root, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"analyze bench child {flag} failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def one_file(folder: Path, path: Path) -> None:
    """The month's files joined into one JSON-lines file (each removed once copied)."""
    with path.open("wb") as out:
        for day in sorted(folder.iterdir()):
            with day.open("rb") as part:
                shutil.copyfileobj(part, out, 2**20)
            day.unlink()


def _review_of(path: Path) -> Any:
    """What two reviews of the same sign-ins must agree on: the tenant and every user."""
    review = json.loads(path.read_bytes())
    return review["tenant"], review["users"], review["input"]["signInsKept"]


def run(rows: int = ROWS, *, one_file: bool = False) -> dict[str, Any]:
    """60 daily files; with `one_file` (`make bench-full`), then the same rows as one file (read
    in parts)."""
    from bench.machine import conditions

    with tempfile.TemporaryDirectory(prefix="analyze-bench-") as work:
        folder, outputs = Path(work) / "month", Path(work) / "out"
        folder.mkdir()
        outputs.mkdir()
        written = write_month(folder, rows)
        load_before = os.getloadavg()
        analyzed = _child("--analyze", folder, outputs / "month.json")
        parsed = _child("--json-loads", folder)
        measured_on = conditions(load_before)
        if analyzed["exit"] != 0:
            raise RuntimeError(f"analyze exited {analyzed['exit']}")
        rate = written / analyzed["cpu_s"]
        peak = round(analyzed["maxrss_mb"], 1)
        figures = {
            "analyze_conditions_5m": measured_on,
            "analyze_rows_5m": written,
            "analyze_peak_rss_mb_5m": peak,
            "analyze_rows_per_s_5m": round(rate),
            "analyze_wall_s_5m": round(analyzed["wall_s"], 1),
            "analyze_vs_json_loads_5m": round(rate / (parsed["rows"] / parsed["cpu_s"]), 3),
            "analyze_target_met_5m": peak <= RSS_TARGET_MB,
        }
        if one_file:
            figures.update(_one_file(folder, Path(work), outputs))
    return figures


def run_full() -> dict[str, Any]:
    return run(one_file=True)


def _one_file(folder: Path, work: Path, outputs: Path) -> dict[str, Any]:
    """The same rows as one JSON-lines file: read in parts, the same review, the same memory."""
    single = work / "month.jsonl"
    one_file(folder, single)
    size = single.stat().st_size
    alone = _child("--analyze", single, outputs / "one.json")
    if alone["exit"] != 0:
        raise RuntimeError(f"analyze of one file exited {alone['exit']}")
    same = _review_of(outputs / "month.json") == _review_of(outputs / "one.json")
    return {
        "analyze_one_file_mb_5m": round(size / 2**20),
        "analyze_one_file_peak_rss_mb_5m": round(alone["maxrss_mb"], 1),
        "analyze_one_file_wall_s_5m": round(alone["wall_s"], 1),
        "analyze_one_file_same_review_5m": same,
        "analyze_one_file_target_met_5m": same and alone["maxrss_mb"] <= RSS_TARGET_MB,
    }


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--analyze":
        print(json.dumps(_analyze_child(*sys.argv[2:4])))
    elif len(sys.argv) > 2 and sys.argv[1] == "--json-loads":
        print(json.dumps(_json_loads_child(sys.argv[2])))
    else:
        numbers = [int(a) for a in sys.argv[1:] if a.isdigit()]
        print(json.dumps(run(numbers[0] if numbers else ROWS, one_file="--one-file" in sys.argv),
                         indent=2))
