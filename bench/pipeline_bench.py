"""Pipeline overhead: the whole Monday run against the pure fetch of the same window.

A large sample tenant (5,000 users, about 100,000 sign-ins in the weekend window) is served by
the Graph emulator in its own process, with Graph's throttle scaled down (5 requests every 2 s, a
fifth of production's period). First the window is only streamed (decode, nothing stored):
that is the pure fetch time, which Graph's ceiling bounds. Then the timer fires and the local
runner drains every queue through function_app.py: evidence, shards, tenant pass, scoring of
every user, verdicts, baselines, reports. The ratio of the two is `pipeline_overhead_ratio`.

    python -m bench.pipeline_bench [--users 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from msgspec.structs import replace

from local.azurite import Azurite
from local.runner import QueueRunner
from local.stack import local_settings
from local.tenant import generate, write
from shared.graph import connect, stream_sign_ins
from shared.model import Window
from shared.pipeline.learn import learn
from shared.pipeline.runs import Tables
from shared.services import Services

REQUESTS, PAGE = 5, 1000
SCALED_PERIOD_S = 2.0  # production: 10 s
TOKEN = "bench-token"


def start_emulator(directory: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.graph_emulator", "--tenant", str(directory),
         "--token", TOKEN], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


async def pure_fetch(services: Services, window: Window) -> int:
    rows = 0
    async with connect(services.settings) as graph:
        async for page in stream_sign_ins(graph, window):
            rows += len(page.sign_ins)
    return rows


def run(users: int = 5000, period_s: float = SCALED_PERIOD_S) -> dict[str, Any]:
    tenant = generate(users=users, seed=11, history_days=2, sign_ins_per_user=100)
    with tempfile.TemporaryDirectory() as folder:
        write(tenant, Path(folder))
        window = tenant.window
        emulator, url = start_emulator(Path(folder))
        del tenant
        try:
            with Azurite() as azurite:
                settings = local_settings(
                    azurite.connection_string, url, TOKEN,
                    GRAPH_SIGNIN_REQUESTS=str(REQUESTS), GRAPH_SIGNIN_PERIOD_SECONDS=str(period_s),
                    GRAPH_RISK_REQUESTS_PER_SECOND="10", GRAPH_API_VERSION="beta")
                services = Services(settings, clock=lambda: window.end)
                services.store.ensure_resources()
                started = time.perf_counter()
                rows = asyncio.run(pure_fetch(services, window))
                fetch_s = time.perf_counter() - started
                # Baselines first, untimed and unthrottled: a one-off, not part of a Monday run.
                fast = Services(replace(settings, graph_signin_requests=100,
                                        graph_signin_period_s=0.1), clock=lambda: window.end)
                learn(fast, until=window.start)
                runner = QueueRunner(services)
                started = time.perf_counter()
                runner.fire_timer()
                runner.drain(timeout_s=3600)
                pipeline_s = time.perf_counter() - started
                (record,) = Tables.of(services.store).runs.query("RowKey eq 'run'")
                services.store.close()
        finally:
            emulator.terminate()
            emulator.wait(timeout=30)
    return {
        "pipeline_overhead_ratio": round(pipeline_s / fetch_s, 3),
        "pipeline_s": round(pipeline_s, 2),
        "pipeline_pure_fetch_s": round(fetch_s, 2),
        "pipeline_window_sign_ins": rows,
        "pipeline_users_scored": record.users,
        "pipeline_status": record.status,
        "pipeline_failures": sorted(set(runner.failures))[:5]
        + sorted(set(record.slices_failed.values()) | set(record.batches_failed.values()))[:5],
        "pipeline_graph_ceiling_rows_per_s": REQUESTS * PAGE / period_s,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--period", type=float, default=SCALED_PERIOD_S,
                        help="seconds per 5 sign-in requests (Graph's own is 10)")
    options = parser.parse_args()
    print(json.dumps(run(options.users, options.period), indent=2))
