"""The archive source past Graph's ceiling: the fetch step over a 1,000,000-row diagnostic-settings
archive in Azurite, then the rest of the Monday run over it.

The archive holds a weekend of both categories (interactive and non-interactive hour blobs, one
Azure Monitor record a line): a generated 1,000-user tenant's weekend (about 21,000 sign-ins),
copied under new user and sign-in ids until it holds `rows`. The Monday run is started with the
archive as its source and every fetch slice is delivered through the pipeline's own fetch
handler (hour blobs to write-once evidence, rows to shards): rows / seconds is
`archive_rows_per_s`, and `archive_vs_graph_ceiling` compares it with Graph's 500 sign-ins a
second per tenant (target >= 20). Then the local runner drains the queues (tenant pass, scoring
of every user, verdicts, reports): `archive_pipeline_s` is the whole run, fetch included.
Baselines are learned first from the two days before the weekend (also in the archive),
untimed; directory and risk data come from the Graph emulator.

    python -m bench.archive_bench [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

import msgspec

from local.archive import CONTAINERS, container_of, hour_of, monitor_record
from local.azurite import Azurite
from local.graph_emulator import GraphEmulator
from local.runner import QueueRunner
from local.stack import local_settings
from local.tenant import Tenant, generate
from shared.pipeline import steps
from shared.pipeline.learn import learn
from shared.pipeline.records import FetchSlice
from shared.pipeline.runs import Tables, start_run
from shared.services import Services
from shared.sources.archive import HourBlob

GRAPH_CEILING_ROWS_PER_S = 500  # 5 requests of 1,000 rows per 10 s, per tenant
TENANT_ID = "0b5e11c4-bench-4a1e-9c6d-archive00001"
_encode = msgspec.json.Encoder().encode


def weekend_rows(tenant: Tenant) -> list[dict[str, Any]]:
    start, end = tenant.window.start, tenant.window.end
    return [r for r in tenant.sign_ins if start <= hour_of(r) <= end]


def write_copies(storage: str, rows: list[dict[str, Any]], copies: int) -> int:
    """Hour blobs of `copies` copies of the rows (new ids per copy); returns rows written."""
    from azure.storage.blob import BlobServiceClient

    groups: dict[tuple[str, datetime], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(container_of(row), hour_of(row))].append(row)
    written = 0
    with BlobServiceClient.from_connection_string(storage) as service:
        for container in CONTAINERS:
            service.create_container(container)
        for (container, hour), group in sorted(groups.items()):
            body = bytearray()
            for k in range(copies):
                for row in group:
                    copy = row if k == 0 else {
                        **row, "id": f"{row['id']}-{k}",
                        # an object id stays a GUID: the scoring step checks user ids
                        "userId": str(uuid.uuid5(uuid.NAMESPACE_OID, f"{row.get('userId')}/{k}")),
                        "userPrincipalName": f"c{k}.{row.get('userPrincipalName')}"}
                    body += _encode(monitor_record(copy, TENANT_ID, container))
                    body += b"\n"
            blob = service.get_blob_client(container, HourBlob(hour, container, TENANT_ID).name)
            blob.upload_blob(bytes(body), blob_type="AppendBlob")
            written += len(group) * copies
    return written


def _cpu_s(proc: Any) -> float:
    """User + system CPU seconds of a child process so far (Linux /proc), 0 when unknown."""
    import os

    try:
        with open(f"/proc/{proc.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, AttributeError, IndexError, ValueError):
        return 0.0


def _say(text: str) -> None:
    import sys

    print(f"  archive_bench: {text}", file=sys.stderr, flush=True)


def run(rows: int = 1_000_000) -> dict[str, Any]:
    tenant = generate(users=1000, seed=11, history_days=2, sign_ins_per_user=100)
    weekend = weekend_rows(tenant)
    copies = max(1, round(rows / len(weekend)))
    everything = list(tenant.sign_ins)  # the two days before too: baselines are learned first
    _say(f"tenant generated: {len(weekend):,} weekend sign-ins, {copies} copies")
    window = tenant.window
    graph = GraphEmulator()
    graph.start()
    try:
        graph.load(users=tenant.users, risky_users=tenant.risky_users,
                   risk_detections=tenant.risk_detections,
                   role_assignments=tenant.role_assignments)
        with Azurite() as azurite:
            started = time.perf_counter()
            archived = write_copies(azurite.connection_string, everything, copies)
            write_s = time.perf_counter() - started
            _say(f"archive written: {archived:,} rows in {write_s:.0f} s")
            del tenant, weekend, everything
            settings = local_settings(
                azurite.connection_string, graph.base_url, graph.token,
                SIGNIN_SOURCE="archive", ARCHIVE_CONNECTION_STRING=azurite.connection_string,
                ARCHIVE_TENANT_ID=TENANT_ID, GRAPH_RISK_REQUESTS_PER_SECOND="100")
            services = Services(settings, clock=lambda: window.end)
            services.store.ensure_resources()
            # Baselines first, untimed: a one-off, not part of a Monday run (as pipeline_bench).
            learn(services, until=window.start, days=3)
            _say("baselines learned")
            started = time.perf_counter()
            run_record = start_run(services, window=window, kind="scheduled")
            fetch_started = time.perf_counter()
            cpu_started = time.process_time() + _cpu_s(azurite.proc)
            for slice_id in run_record.slice_ids:
                body = FetchSlice(run_id=run_record.run_id, slice_id=slice_id)
                steps.fetch_slice(services, msgspec.json.encode(body))
            fetch_s = time.perf_counter() - fetch_started
            fetch_cpu_s = time.process_time() + _cpu_s(azurite.proc) - cpu_started
            _say(f"fetch step done in {fetch_s:.0f} s")
            tables = Tables.of(services.store)
            fetched = sum(tables.slice(run_record.run_id, s).rows for s in run_record.slice_ids)
            runner = QueueRunner(services)
            runner.drain(timeout_s=7200)
            pipeline_s = time.perf_counter() - started
            record = tables.run(run_record.run_id)
            services.store.close()
    finally:
        graph.stop()
    per_s = fetched / fetch_s
    return {
        "archive_rows": archived,
        "archive_write_s": round(write_s, 1),
        "archive_fetch_s": round(fetch_s, 1),
        "archive_rows_per_s": round(per_s),
        "archive_vs_graph_ceiling": round(per_s / GRAPH_CEILING_ROWS_PER_S, 1),
        "archive_target_met": per_s / GRAPH_CEILING_ROWS_PER_S >= 20,
        # CPU seconds of this process and Azurite during the fetch: what the rate would be with
        # the CPU to itself (the wall-clock rate falls with every other process on the machine).
        "archive_fetch_cpu_s": round(fetch_cpu_s, 1),
        "archive_rows_per_cpu_s": round(fetched / fetch_cpu_s),
        "archive_pipeline_s": round(pipeline_s, 1),
        "archive_pipeline_status": record.status,
        "archive_pipeline_sign_ins": record.sign_ins,
        "archive_pipeline_users": record.users,
        "archive_pipeline_failures": sorted(set(runner.failures))[:5]
        + sorted(set(record.slices_failed.values()) | set(record.batches_failed.values()))[:5],
        "archive_graph_would_take_s": round(fetched / GRAPH_CEILING_ROWS_PER_S),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    print(json.dumps(run(parser.parse_args().rows), indent=2))
