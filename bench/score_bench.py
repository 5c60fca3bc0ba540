"""Scoring throughput: Graph JSON bytes -> SignIn -> detections -> verdicts, on one core.

Input: the sample tenant (local.tenant) replicated with fresh user and sign-in ids until it holds
`ROWS` sign-ins (realistic routine, noise and attacks; history before a weekend window), written
as Graph `/auditLogs/signIns` pages (1000 rows each, one page a line) to a temporary file. When
the generator is missing, a plain synthetic tenant stands in.

Measured in a child process (so generation does not count): read the pages, decode each with
msgspec into `SignInPage` and share its repeated values (`shared.compact`, as
`shared.graph.signins.decode_page` does; cyclic GC paused with `shared.bulk.paused_gc`),
then `shared.analysis.review` over everything (group by user, build baselines from history,
tenant spray pass, all detections, verdicts). `score_rows_per_s` is rows over the child's CPU
time for that work (one core's throughput, fair on a shared machine); `score_wall_rows_per_s`
is the same over wall time. `score_peak_rss_mb` is the child's own peak resident memory (psutil
polling, and the address space's high-water mark VmHWM: see bench/machine.py).

`score_vs_json_loads` is a ratio that holds on any machine: the same child times stdlib
`json.loads` over the same pages (CPU time, collector paused as for ours), alternating with the
review (json -> review -> json, more passes with REVIEW_PASSES), so load on the machine weighs
on both alike. Each review pass is divided by the mean of the json passes either side of it;
the median of those ratios is reported. Above 1.0, the whole review costs less than parsing
the input with the standard library.

    python -m bench.score_bench            # prints the JSON summary
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

ROWS = 1_000_000
PAGE = 1000
SEED = 7
REVIEW_PASSES = 1  # alternating with REVIEW_PASSES + 1 json.loads passes (json, review, json)


def _tenant_rows() -> tuple[list[dict[str, Any]], datetime, datetime]:
    try:
        from local.tenant import generate
    except ImportError:
        return _synthetic_rows()
    tenant = generate(users=2000, seed=SEED, sign_ins_per_user=60)
    return tenant.sign_ins, tenant.window.start, tenant.window.end


def _synthetic_rows() -> tuple[list[dict[str, Any]], datetime, datetime]:
    end = datetime(2025, 3, 17, 6, tzinfo=UTC)
    rows = []
    for user in range(2000):
        for n in range(60):
            at = end - timedelta(hours=(user * 7 + n * 11) % (24 * 24))
            rows.append({
                "id": f"{user}-{n}", "createdDateTime": at.isoformat().replace("+00:00", "Z"),
                "userId": f"user-{user}", "userPrincipalName": f"user{user}@contoso.com",
                "ipAddress": f"81.2.{user % 250}.{n % 4 + 1}", "isInteractive": n % 3 == 0,
                "status": {"errorCode": 50126 if n % 17 == 0 else 0},
                "deviceDetail": {"deviceId": f"dev-{user}", "operatingSystem": "Windows 10",
                                 "browser": "Edge 121.0"},
                "location": {"city": "London", "countryOrRegion": "GB",
                             "geoCoordinates": {"latitude": 51.5, "longitude": -0.12}},
            })
    return rows, end - timedelta(days=3), end


def write_input(path: Path, rows_wanted: int) -> tuple[int, datetime, datetime]:
    """Replicate the tenant with fresh ids until `rows_wanted` rows; one Graph page a line."""
    base, start, end = _tenant_rows()
    encoder = msgspec.json.Encoder()
    written = 0
    copy = 0
    with path.open("wb") as out:
        while written < rows_wanted:
            page: list[dict[str, Any]] = []
            for row in base:
                if written + len(page) >= rows_wanted:
                    break
                page.append(_renamed(row, copy))
                if len(page) == PAGE:
                    out.write(encoder.encode({"value": page}) + b"\n")
                    written += len(page)
                    page = []
            if page:
                out.write(encoder.encode({"value": page}) + b"\n")
                written += len(page)
            copy += 1
    return written, start, end


def _renamed(row: dict[str, Any], copy: int) -> dict[str, Any]:
    if copy == 0:
        return row
    upn = str(row.get("userPrincipalName") or "")
    return {**row, "id": f"{row['id']}-{copy}", "userId": f"{row.get('userId')}-{copy}",
            "userPrincipalName": upn.replace("@", f".{copy}@")}


def json_loads_cpu_s(path: Path) -> tuple[int, float]:
    """Rows in the file and the CPU seconds stdlib json.loads takes to parse every page."""
    from shared.bulk import paused_gc

    rows = 0
    began = time.process_time()
    with path.open("rb") as pages, paused_gc():
        for line in pages:
            rows += len(json.loads(line)["value"])
    return rows, time.process_time() - began


def measure_against_json(path: Path, start: datetime, end: datetime) -> dict[str, Any]:
    """Review passes alternating with json.loads passes over the same pages (in the child);
    the first review pass gives the reported throughput."""
    import gc
    import statistics

    rows, first_json_s = json_loads_cpu_s(path)
    json_s = [first_json_s]
    figures: dict[str, Any] = {}
    review_s: list[float] = []
    for _ in range(REVIEW_PASSES):
        gc.collect()
        passed = measure(path, start, end)
        figures = figures or passed
        review_s.append(passed["total_cpu_s"])
        gc.collect()
        json_s.append(json_loads_cpu_s(path)[1])
    if rows != figures["rows"]:
        raise RuntimeError(f"json.loads saw {rows} rows, the review {figures['rows']}")
    ratios = [(json_s[i] + json_s[i + 1]) / 2 / seconds for i, seconds in enumerate(review_s)]
    return {**figures, "json_cpu_s": json_s, "review_cpu_s_passes": review_s,
            "vs_json": statistics.median(ratios)}


def measure(path: Path, start: datetime, end: datetime) -> dict[str, float]:
    """The timed part (runs in the child): decode every page, then review."""
    from bench.machine import peak_rss_mb
    from shared.analysis import review
    from shared.bulk import paused_gc
    from shared.compact import compact
    from shared.model import SignIn, SignInPage, Window

    decoder = msgspec.json.Decoder(SignInPage)
    began, began_cpu = time.perf_counter(), time.process_time()
    sign_ins: list[SignIn] = []
    with path.open("rb") as pages, paused_gc():
        for line in pages:
            sign_ins.extend(compact(decoder.decode(line).value))
    decoded_cpu = time.process_time()
    result = review(sign_ins, window=Window(start=start, end=end))
    finished, finished_cpu = time.perf_counter(), time.process_time()
    flagged = sum(1 for user in result.users if user.verdict != "none")
    return {
        "rows": len(sign_ins),
        "users": len(result.users),
        "flagged": flagged,
        "decode_cpu_s": decoded_cpu - began_cpu,
        "review_cpu_s": finished_cpu - decoded_cpu,
        "total_cpu_s": finished_cpu - began_cpu,
        "total_wall_s": finished - began,
        "maxrss_mb": peak_rss_mb(),
    }


def _child(path: Path, start: datetime, end: datetime) -> tuple[dict[str, Any], float]:
    import psutil

    command = [sys.executable, "-m", "bench.score_bench", "--child", str(path),
               start.isoformat(), end.isoformat()]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, text=True)
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.05)
    output, _ = process.communicate()
    if process.returncode:
        raise RuntimeError(f"score bench child failed with exit code {process.returncode}")
    return json.loads(output), peak / 2**20


def run(rows: int = ROWS) -> dict[str, Any]:
    from bench.machine import conditions

    with tempfile.TemporaryDirectory(prefix="score-bench-") as folder:
        path = Path(folder) / "pages.jsonl"
        _, start, end = write_input(path, rows)
        load_before = os.getloadavg()
        figures, polled_peak_mb = _child(path, start, end)
        measured_on = conditions(load_before)
    return {
        "score_conditions": measured_on,
        "score_rows_per_s": round(figures["rows"] / figures["total_cpu_s"]),
        "score_wall_rows_per_s": round(figures["rows"] / figures["total_wall_s"]),
        "score_peak_rss_mb": round(max(polled_peak_mb, figures["maxrss_mb"]), 1),
        "score_rows": int(figures["rows"]),
        "score_users": int(figures["users"]),
        "score_flagged_users": int(figures["flagged"]),
        "score_decode_rows_per_s": round(figures["rows"] / figures["decode_cpu_s"]),
        "score_review_rows_per_s": round(figures["rows"] / figures["review_cpu_s"]),
        "score_target_met": figures["rows"] / figures["total_cpu_s"] >= 100_000,
        "score_vs_json_loads": round(figures["vs_json"], 3),
        "score_vs_json_loads_target_met": figures["vs_json"] >= 1.0,
        "json_loads_rows_per_s": round(figures["rows"] * len(figures["json_cpu_s"])
                                       / sum(figures["json_cpu_s"])),
    }


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        figures = measure_against_json(Path(sys.argv[2]), datetime.fromisoformat(sys.argv[3]),
                                       datetime.fromisoformat(sys.argv[4]))
        print(json.dumps(figures))
    else:
        print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else ROWS), indent=2))
