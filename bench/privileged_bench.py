"""The quarterly review of privileged accounts against the weekend review, in memory: a
5,000-user tenant's quarter read from its diagnostic-settings archive must fit the peak the
weekend review of the same tenant needs.

Input (untimed): a generated 1,000-user tenant with 91 days of history before its weekend and
about 270 sign-ins per user (a quarter of routine), copied five times under new ids and UPNs
(5,000 users, 20 administrators), written as the archive keeps it: Azure Monitor records, one a
line (local/archive.py), one file per hour and category (the archive's hour blobs) in a temporary
folder.

Measured, each in a fresh process (`signin-review analyze`, reading the archive's records):
- `privileged_weekend_peak_rss_mb`: the weekend review of every user (the weekend's files);
- `privileged_quarter_peak_rss_mb`: the privileged review over the quarter and the weekend
  (`--privileged-review`: only the administrators' sign-ins are kept as each file is read).
Each figure is the process's own VmHWM read before it exits (bench/machine.py).
`privileged_quarter_within_weekend` is the target.

    python -m bench.privileged_bench [--users-per-copy 1000] [--copies 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import msgspec

from bench.machine import conditions
from local.archive import container_of, monitor_record
from local.tenant import generate

TENANT_ID = "0b5e11c4-0000-4a1e-9c6d-a7c41e000002"
_encode = msgspec.json.Encoder().encode


def _copy(row: dict[str, Any], k: int) -> dict[str, Any]:
    if k == 0:
        return row
    user = str(uuid.uuid5(uuid.NAMESPACE_OID, f"{row.get('userId')}/{k}"))
    return {**row, "id": f"{row['id']}-{k}", "userId": user,
            "userPrincipalName": f"c{k}.{row.get('userPrincipalName')}"}


def write_archive(folder: Path, users: int, copies: int) -> dict[str, Any]:
    """Day files of archive records; the weekend's in their own folder. Returns the figures."""
    tenant = generate(users=users, seed=11, history_days=91, sign_ins_per_user=270)
    window = tenant.window
    days: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in tenant.sign_ins:  # by hour: "2025-03-14T18"
        days[(container_of(row), str(row["createdDateTime"])[:13])].append(row)
    first_hour, last_hour = window.start.isoformat()[:13], window.end.isoformat()[:13]
    weekend_days = {d for _, d in days if first_hour <= d <= last_hour}
    (folder / "quarter").mkdir()
    (folder / "weekend").mkdir()
    rows = weekend_rows = 0
    for (container, day), found in sorted(days.items()):
        lines = b"".join(_encode(monitor_record(_copy(r, k), TENANT_ID, container)) + b"\n"
                         for k in range(copies) for r in found)
        (folder / "quarter" / f"{container}-{day}.json").write_bytes(lines)
        rows += len(found) * copies
        if day in weekend_days:
            inside = [r for r in found
                      if window.start.isoformat() <= str(r["createdDateTime"]).replace(
                          "Z", "+00:00") <= window.end.isoformat()]
            (folder / "weekend" / f"{container}-{day}.json").write_bytes(b"".join(
                _encode(monitor_record(_copy(r, k), TENANT_ID, container)) + b"\n"
                for k in range(copies) for r in inside))
            weekend_rows += len(inside) * copies
    admins = [a["principal"] for a in tenant.role_assignments]  # type: ignore[index]
    names = [str(p["userPrincipalName"]) for p in admins]  # type: ignore[index]
    (folder / "admins.txt").write_text("".join(
        f"{name if k == 0 else f'c{k}.{name}'}\n" for k in range(copies) for name in names))
    first = min(str(r["createdDateTime"]) for r in tenant.sign_ins)
    return {"privileged_bench_users": users * copies,
            "privileged_bench_admins": len(names) * copies,
            "privileged_quarter_rows": rows, "privileged_weekend_rows": weekend_rows,
            "window": (window.start.isoformat(), window.end.isoformat()), "first": first}


CHILD = """
import json, sys
from shared.cli import main
from bench.machine import peak_rss_mb
code = main(sys.argv[1:])
print(json.dumps({"code": code, "peak_rss_mb": round(peak_rss_mb(), 1)}))
"""


def measure(arguments: list[str]) -> tuple[float, float, int]:
    """(peak MiB, wall seconds, exit code) of `signin-review analyze ...` in a fresh process."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, "analyze", *arguments],
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "{}"
    answer = json.loads(last)
    if "peak_rss_mb" not in answer:
        raise RuntimeError(f"analyze failed: {done.stderr[-2000:]}")
    return answer["peak_rss_mb"], wall, answer["code"]


def run(users_per_copy: int = 1000, copies: int = 5) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="privileged-bench-") as name:
        folder = Path(name)
        started = time.perf_counter()
        facts = write_archive(folder, users_per_copy, copies)
        print(f"  privileged_bench: {facts['privileged_quarter_rows']:,} quarter rows written in "
              f"{time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        start, end = facts.pop("window")
        first = facts.pop("first")
        out = str(folder / "out.json")
        load_before = os.getloadavg()
        weekend, weekend_s, _ = measure([str(folder / "weekend"), "--format", "azure-monitor",
                                         "--quiet", "--out", out])
        quarter, quarter_s, code = measure([
            str(folder / "quarter"), "--format", "azure-monitor", "--quiet", "--out", out,
            "--privileged-review", "--privileged", str(folder / "admins.txt"),
            "--window-start", first, "--window-end", end])
        review = json.loads(Path(out).read_text())["privilegedReview"]
    return {**facts,
            "privileged_weekend_peak_rss_mb": weekend, "privileged_weekend_s": round(weekend_s, 1),
            "privileged_quarter_peak_rss_mb": quarter, "privileged_quarter_s": round(quarter_s, 1),
            "privileged_quarter_accounts": len(review["accounts"]),
            "privileged_quarter_exit": code,
            "privileged_quarter_within_weekend": quarter <= weekend,
            "privileged_weekend_window": f"{start} to {end}",
            "privileged_conditions": conditions(load_before)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users-per-copy", type=int, default=1000)
    parser.add_argument("--copies", type=int, default=5)
    options = parser.parse_args()
    print(json.dumps(run(options.users_per_copy, options.copies), indent=2))
