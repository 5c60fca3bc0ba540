"""Graph access benchmark: decoding speed, fetch rate at the throttling ceiling, stream memory,
and what importing the function app costs.

`run()` returns the figures `make bench` merges into bench/results.json:

- decode_fast_rows_per_s, decode_sdk_rows_per_s, decode_speedup: the same page bytes decoded by
  msgspec into `SignIn` and by msgraph-sdk's kiota JSON parse node into its typed models;
- fetch_ceiling_fraction, fetch_429_count: steady-state sign-ins per second through the real
  SDK client against the emulator throttled at 5 requests per 0.5 s (ceiling 10,000 rows/s),
  with our limiter at the same setting; the first burst's rows are not counted, its time is;
- stream_peak_rss_mb (a million-row window), stream_peak_rss_mb_250k (a quarter of it): peak
  RSS of a child process that streams the window page by page;
- import_function_app_s, import_pulls_msgraph: a fresh interpreter importing function_app.

The emulator runs in this process; clients run in child processes, so neither the emulator's
memory nor its threads weigh on what is measured. `python -m bench.graph_bench` prints them.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from bench.machine import conditions, peak_rss_mb

ROOT = Path(__file__).resolve().parent.parent
END = datetime(2024, 5, 6, 6, 0, tzinfo=UTC)
PAGE = 1000
SIGNIN_RATE = (5, 0.5)
FETCH_PAGES = 60
STREAM_ROWS = 1_000_000

# Nested values shared between synthetic rows: the emulator holds a million of them.
_STATUS = [{"errorCode": 0, "failureReason": "Other.", "additionalDetails": None},
           {"errorCode": 50126, "failureReason": "Invalid username or password.",
            "additionalDetails": "The user didn't enter the right credentials."}]
_DEVICE = {"deviceId": "", "displayName": "", "operatingSystem": "Windows10",
           "browser": "Edge 124.0.0", "isCompliant": False, "isManaged": False, "trustType": ""}
_LOCATIONS = [
    {"city": "Lisbon", "state": "Lisboa", "countryOrRegion": "PT",
     "geoCoordinates": {"altitude": None, "latitude": 38.7223, "longitude": -9.1393}},
    {"city": "Porto", "state": "Porto", "countryOrRegion": "PT",
     "geoCoordinates": {"altitude": None, "latitude": 41.1579, "longitude": -8.6291}},
]
_POLICIES = [{"id": "5c2e8f7a-0000-4000-8000-000000000001", "displayName": "Require MFA",
              "enforcedGrantControls": ["Mfa"], "enforcedSessionControls": [],
              "result": "success"}]
_EMPTY: list[str] = []


def sign_in_row(i: int, *, spacing_s: float = 0.5) -> dict[str, Any]:
    """A Graph v1.0 signIn JSON object, the i-th newest, `spacing_s` apart."""
    when = END - timedelta(seconds=i * spacing_s)
    user = i % 5000
    return {
        "id": f"{i:08x}-5e1f-4c0a-9d2b-7a6c5e4f3d2b",
        "createdDateTime": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "userDisplayName": "Sample User", "userPrincipalName": f"user{user}@contoso.com",
        "userId": f"{user:08x}-0000-4000-8000-000000000000",
        "appId": "00000002-0000-0ff1-ce00-000000000000",
        "appDisplayName": "Office 365 Exchange Online", "ipAddress": f"203.0.113.{i % 250}",
        "clientAppUsed": "Browser", "correlationId": "c0ffee00-0000-4000-8000-000000000000",
        "conditionalAccessStatus": "success", "isInteractive": True, "riskDetail": "none",
        "riskLevelAggregated": "none", "riskLevelDuringSignIn": "none", "riskState": "none",
        "riskEventTypes": _EMPTY, "riskEventTypes_v2": _EMPTY,
        "resourceDisplayName": "Office 365 Exchange Online",
        "resourceId": "00000002-0000-0ff1-ce00-000000000000",
        "status": _STATUS[1 if i % 17 == 0 else 0], "deviceDetail": _DEVICE,
        "location": _LOCATIONS[i % 2], "appliedConditionalAccessPolicies": _POLICIES,
    }


def page_body(first: int, rows: int = PAGE) -> bytes:
    return msgspec.json.encode({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns",
        "value": [sign_in_row(i) for i in range(first, first + rows)],
    })


def measure_decode() -> dict[str, float]:
    """msgspec into SignIn vs the SDK's typed models, on the same page bytes."""
    from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
    from msgraph.generated.models.sign_in_collection_response import SignInCollectionResponse

    from shared.graph.signins import decode_page

    body = page_body(0)
    rounds, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < 1.0 or rounds < 20:
        assert len(decode_page(body).value) == PAGE
        rounds += 1
    fast = rounds * PAGE / elapsed
    started = time.perf_counter()
    node = JsonParseNodeFactory().get_root_parse_node("application/json", body)
    parsed = node.get_object_value(SignInCollectionResponse)
    sdk = PAGE / (time.perf_counter() - started)
    assert parsed is not None and len(parsed.value or []) == PAGE
    return {"decode_fast_rows_per_s": round(fast), "decode_sdk_rows_per_s": round(sdk, 1),
            "decode_speedup": round(fast / sdk)}


def measure_import(runs: int = 3) -> dict[str, float | bool]:
    """Median cold import of function_app in fresh interpreters, and whether msgraph came."""
    code = ("import json, sys, time; t = time.perf_counter(); import function_app; "
            "t = time.perf_counter() - t; print(json.dumps({'s': t, 'msgraph': any("
            "m.split('.')[0] in ('msgraph', 'msgraph_core') or m.startswith('kiota') "
            "for m in sys.modules)}))")
    found = [json.loads(subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                                       capture_output=True, text=True).stdout)
             for _ in range(runs)]
    return {"import_function_app_s": round(statistics.median(f["s"] for f in found), 3),
            "import_pulls_msgraph": any(f["msgraph"] for f in found)}


def child(job: dict[str, Any]) -> dict[str, Any]:
    """Run one streaming job in a fresh interpreter (this module's `--child` entry)."""
    done = subprocess.run([sys.executable, "-m", "bench.graph_bench", "--child",
                           json.dumps(job)], cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"streaming child failed: {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def _stream(job: dict[str, Any]) -> dict[str, Any]:
    from shared.config import load
    from shared.graph import connect, stream_sign_ins
    from shared.model import Window

    requests, period = job["rate"]
    graph = connect(load({
        "GRAPH_BASE_URL": job["base_url"], "GRAPH_CREDENTIAL": "local",
        "GRAPH_LOCAL_TOKEN": job["token"], "GRAPH_SIGNIN_REQUESTS": str(requests),
        "GRAPH_SIGNIN_PERIOD_SECONDS": str(period),
    }))
    window = Window(END - timedelta(seconds=job["window_s"]), END)
    rows, arrivals = 0, []
    started = time.perf_counter()
    async with graph:
        async for page in stream_sign_ins(graph, window):
            rows += len(page.sign_ins)
            arrivals.append((time.perf_counter() - started, len(page.sign_ins)))
    return {"rows": rows, "arrivals": arrivals, "elapsed_s": time.perf_counter() - started,
            "throttled": graph.stats.throttled, "peak_rss_mb": peak_rss_mb()}


def _load(emulator: Any, rows: int) -> None:
    """Load synthetic rows; freeze them out of the garbage collector, whose full passes over a
    million rows would otherwise pause the emulator (we measure the client, not the emulator)."""
    gc.unfreeze()
    emulator.load(sign_ins=[sign_in_row(i) for i in range(rows)])
    gc.collect()
    gc.freeze()
    emulator.reset()


def measure_fetch(emulator: Any) -> dict[str, float | int]:
    """Steady-state rows/s at the throttling ceiling, as a fraction of it, and the 429s met."""
    rows = FETCH_PAGES * PAGE
    _load(emulator, rows)
    emulator.configure(signin_rate=SIGNIN_RATE)
    out = child({"base_url": emulator.base_url, "token": emulator.token, "rate": SIGNIN_RATE,
                 "window_s": rows})
    assert out["rows"] == rows, out["rows"]
    # Steady state: from the first answer (SDK warm-up excluded) to the last, counting the rows
    # after the first window's burst. A client exactly at the ceiling scores 1.0.
    arrivals = out["arrivals"]
    burst_rows = sum(n for _, n in arrivals[:SIGNIN_RATE[0]])
    steady = (out["rows"] - burst_rows) / (arrivals[-1][0] - arrivals[0][0])
    ceiling = SIGNIN_RATE[0] * PAGE / SIGNIN_RATE[1]
    return {"fetch_rows_per_s": round(steady), "fetch_ceiling_rows_per_s": round(ceiling),
            "fetch_ceiling_fraction": round(steady / ceiling, 3),
            "fetch_429_count": out["throttled"]}


def measure_stream_rss(emulator: Any, rows: int) -> dict[str, float]:
    """Peak RSS of a child process streaming a `rows`-row window (no throttle)."""
    _load(emulator, rows)
    out = child({"base_url": emulator.base_url, "token": emulator.token, "rate": (100, 0.01),
                 "window_s": rows})
    assert out["rows"] == rows, out["rows"]
    return {"peak_rss_mb": round(out["peak_rss_mb"], 1),
            "rows_per_s": round(out["rows"] / out["elapsed_s"])}


def run() -> dict[str, Any]:
    from local.graph_emulator import GraphEmulator

    load_before = os.getloadavg()
    results: dict[str, Any] = {}
    results.update(measure_decode())
    results.update(measure_import())
    emulator = GraphEmulator()
    emulator.start()
    try:
        results.update(measure_fetch(emulator))
        quarter = measure_stream_rss(emulator, STREAM_ROWS // 4)
        full = measure_stream_rss(emulator, STREAM_ROWS)
    finally:
        emulator.load()
        emulator.stop()
    results["stream_peak_rss_mb_250k"] = quarter["peak_rss_mb"]
    results["stream_peak_rss_mb"] = full["peak_rss_mb"]
    results["stream_rows_per_s"] = full["rows_per_s"]
    results["graph_conditions"] = conditions(load_before)
    return results


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(asyncio.run(_stream(json.loads(sys.argv[2])))))
    else:
        print(json.dumps(run(), indent=2, sort_keys=True))
