"""The archive source past Graph's ceiling: the fetch step over a 1,000,000-row weekend in a
diagnostic-settings archive in Azurite, then the rest of the Monday run over it.

The archive holds both categories (interactive and non-interactive hour blobs, one Azure Monitor
record a line, written as local/archive.py writes them). A generated 1,000-user tenant's weekend
(about 21,700 sign-ins) is copied under new user ids, UPNs and sign-in ids until the weekend holds
`rows` sign-ins (46 copies: about 46,000 users); the two days before the weekend are archived
once. Setup, untimed: the archive is written, baselines are learned from those two days (read
from the archive) and each user's profile is copied to the user's copies, as `learn` would have
built them from copied history.

Timed: the Monday run is started with the archive as its source and every fetch slice is
delivered through the pipeline's own fetch handler (hour blobs to write-once evidence, rows to
shards). Window rows / seconds is `archive_rows_per_s`, and `archive_vs_graph_ceiling` compares
it with Graph's 500 sign-ins a second per tenant (target >= 20). Then the local runner drains the
queues (tenant pass, scoring of every user, verdicts, evidence bundles, reports):
`archive_pipeline_s` is the whole run, from the timer's start to the finished run, fetch
included. Directory and risk data come from the Graph emulator.

The archive is another storage account than the app's own, as in Azure: one Azurite holds it on
disk (a temporary folder, removed afterwards; about 2.2 GB for 1M weekend rows), another one in
memory holds the app's storage (evidence, shards, tables, queues).

    python -m bench.archive_bench [--rows 1000000] [--fetch-only]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from bench.machine import conditions
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
from shared.pipeline.scoring import BaselineRecord, baselines_table
from shared.services import Services
from shared.sources.archive import HourBlob

GRAPH_CEILING_ROWS_PER_S = 500  # 5 requests of 1,000 rows per 10 s, per tenant
TENANT_ID = "0b5e11c4-0000-4a1e-9c6d-a7c41e000001"
WRITERS = 4  # hour blobs uploaded at once while writing the archive
_encode = msgspec.json.Encoder().encode


def _say(text: str) -> None:
    print(f"  archive_bench: {text}", file=sys.stderr, flush=True)


def copied_user(user_id: str, k: int) -> str:
    """Copy k's object id for a user (copy 0 is the user): still a GUID, as scoring checks."""
    return user_id if k == 0 else str(uuid.uuid5(uuid.NAMESPACE_OID, f"{user_id}/{k}"))


def _copy(row: dict[str, Any], k: int) -> dict[str, Any]:
    if k == 0:
        return row
    return {**row, "id": f"{row['id']}-{k}", "userId": copied_user(str(row.get("userId")), k),
            "userPrincipalName": f"c{k}.{row.get('userPrincipalName')}"}


def _hour_groups(rows: list[dict[str, Any]]) -> dict[tuple[str, datetime], list[dict[str, Any]]]:
    groups: dict[tuple[str, datetime], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(container_of(row), hour_of(row))].append(row)
    return groups


def write_archive(storage: str, tenant: Tenant, copies: int) -> tuple[int, int]:
    """The weekend's hour blobs with `copies` copies of each sign-in, the hours before it with
    one; returns (window rows, bytes) written. One blob body is built at a time per writer."""
    from azure.storage.blob import BlobServiceClient

    start = tenant.window.start.replace(minute=0, second=0, microsecond=0)
    groups = _hour_groups(tenant.sign_ins)

    def body(key: tuple[str, datetime]) -> bytes:
        container, hour = key
        times = copies if hour >= start else 1
        return b"".join(_encode(monitor_record(_copy(row, k), TENANT_ID, container)) + b"\n"
                        for k in range(times) for row in groups[key])

    with BlobServiceClient.from_connection_string(storage) as service:
        for container in CONTAINERS:
            service.create_container(container)

        def put(key: tuple[str, datetime]) -> int:
            data = body(key)
            container, hour = key
            blob = service.get_blob_client(container, HourBlob(hour, container, TENANT_ID).name)
            blob.upload_blob(data, blob_type="AppendBlob")
            return len(data)

        with ThreadPoolExecutor(max_workers=WRITERS) as pool:
            size = sum(pool.map(put, sorted(groups)))
    window = sum(len(g) for (_, hour), g in groups.items() if hour >= start)
    return window * copies, size


def copy_baselines(services: Services, copies: int) -> int:
    """Each learned profile stored again for the user's copies; the count stored."""
    table = baselines_table(services.store)
    learned = table.query_partition("baseline")

    def records() -> Iterator[BaselineRecord]:
        for record in learned:
            for k in range(1, copies):
                yield BaselineRecord(user_id=copied_user(record.user_id, k),
                                     profile=record.profile, last_run_id=record.last_run_id)

    table.upsert_many(records())
    return len(learned) * copies


def _cpu_s(proc: Any) -> float:
    """User + system CPU seconds of a child process so far (Linux /proc), 0 when unknown."""
    try:
        with open(f"/proc/{proc.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, AttributeError, IndexError, ValueError):
        return 0.0


def _setup(storage: str, archive: str, graph: GraphEmulator, rows: int
           ) -> tuple[Services, Tenant, dict[str, Any]]:
    tenant = generate(users=1000, seed=11, history_days=2, sign_ins_per_user=100)
    graph.load(users=tenant.users, risky_users=tenant.risky_users,
               risk_detections=tenant.risk_detections, role_assignments=tenant.role_assignments,
               named_locations=tenant.named_locations)
    window = tenant.window
    weekend = sum(1 for r in tenant.sign_ins if window.start <= hour_of(r) <= window.end)
    copies = max(1, -(-rows // weekend))  # at least `rows`
    started = time.perf_counter()
    window_rows, size = write_archive(archive, tenant, copies)
    write_s = time.perf_counter() - started
    _say(f"archive written: {window_rows:,} weekend rows ({copies} copies), "
         f"{size / 2**20:,.0f} MiB in {write_s:.0f} s")
    settings = local_settings(
        storage, graph.base_url, graph.token, SIGNIN_SOURCE="archive",
        ARCHIVE_CONNECTION_STRING=archive, ARCHIVE_TENANT_ID=TENANT_ID,
        GRAPH_RISK_REQUESTS_PER_SECOND="100")
    services = Services(settings, clock=lambda: window.end)
    services.store.ensure_resources()
    started = time.perf_counter()
    learn(services, until=window.start, days=3)
    profiles = copy_baselines(services, copies)
    _say(f"baselines: {profiles:,} profiles in {time.perf_counter() - started:.0f} s")
    return services, tenant, {"archive_rows": window_rows, "archive_bytes": size,
                              "archive_write_s": round(write_s, 1)}


def run_full() -> dict[str, Any]:
    """`make bench-full`: the fetch step, then the whole run over 45,000 users."""
    return measure()


def run() -> dict[str, Any]:
    """`make bench`: the fetch step only (the whole run is `make bench-full`)."""
    return measure(fetch_only=True)


def measure(rows: int = 1_000_000, fetch_only: bool = False) -> dict[str, Any]:
    graph = GraphEmulator()
    graph.start()
    try:
        with tempfile.TemporaryDirectory(prefix="archive-bench-") as folder, \
                Azurite(location=Path(folder)) as archive, Azurite() as azurite:
            services, tenant, figures = _setup(azurite.connection_string,
                                               archive.connection_string, graph, rows)
            window = tenant.window
            del tenant
            load_before = os.getloadavg()
            started = time.perf_counter()
            run_record = start_run(services, window=window, kind="scheduled")
            fetch_started = time.perf_counter()
            cpu_started = time.process_time() + _cpu_s(azurite.proc) + _cpu_s(archive.proc)
            _fetch_queued_slices(services, run_record.run_id, run_record.slice_ids)
            fetch_s = time.perf_counter() - fetch_started
            fetch_cpu_s = (time.process_time() + _cpu_s(azurite.proc) + _cpu_s(archive.proc)
                           - cpu_started)
            tables = Tables.of(services.store)
            fetched = sum(tables.slice(run_record.run_id, s).rows for s in run_record.slice_ids)
            _say(f"fetch step: {fetched:,} rows in {fetch_s:.0f} s")
            figures.update(_fetch_figures(fetched, fetch_s, fetch_cpu_s))
            figures["archive_fetch_conditions"] = conditions(load_before)
            if not fetch_only:
                calls_before = len(graph.calls)
                figures.update(_drain(services, tables, run_record.run_id, started))
                figures.update(_tail_figures(services, graph.calls[calls_before:], fetch_s,
                                             figures["archive_pipeline_s"]))
                figures["archive_pipeline_conditions"] = conditions(load_before)
            services.store.close()
    finally:
        graph.stop()
    return figures


def _fetch_queued_slices(services: Services, run_id: str, slice_ids: list[str]) -> None:
    """Every fetch slice through the pipeline's fetch handler, in slice order, each taken off
    the queue as the host takes it (left queued, each would be delivered again once the queues
    drain: settled at once, but each of those sends run-ready again, and each of those sends
    the run's scoring batches again)."""
    queues, name = services.store.queues, services.store.names.signin_slices
    queued: dict[str, Any] = {}
    while received := queues.receive(name, max_messages=32, visibility_timeout_s=3600):
        for message in received:
            queued[msgspec.json.decode(message.body, type=FetchSlice).slice_id] = message
    for slice_id in slice_ids:
        message = queued.pop(slice_id, None)
        body = message.body if message is not None else msgspec.json.encode(
            FetchSlice(run_id=run_id, slice_id=slice_id))
        steps.fetch_slice(services, body)
        if message is not None:
            queues.delete(message)
    for message in queued.values():  # not this run's: back for the runner
        queues.make_visible(message)


def _fetch_figures(fetched: int, fetch_s: float, fetch_cpu_s: float) -> dict[str, Any]:
    per_s = fetched / fetch_s
    return {
        "archive_window_rows": fetched,
        "archive_fetch_s": round(fetch_s, 1),
        "archive_rows_per_s": round(per_s),
        "archive_vs_graph_ceiling": round(per_s / GRAPH_CEILING_ROWS_PER_S, 1),
        "archive_target_met": per_s / GRAPH_CEILING_ROWS_PER_S >= 20,
        # CPU seconds of this process and both Azurites during the fetch: what the rate would be
        # with the CPU to itself (the wall-clock rate falls with every other process on the
        # machine).
        "archive_fetch_cpu_s": round(fetch_cpu_s, 1),
        "archive_rows_per_cpu_s": round(fetched / fetch_cpu_s),
        "archive_graph_would_take_s": round(fetched / GRAPH_CEILING_ROWS_PER_S),
    }


# Graph paths on the reports budget (5 requests per 10 s per app and tenant: signIn,
# directoryAudit, authenticationMethod, https://learn.microsoft.com/graph/throttling-limits
# #identity-and-access-reports-service-limits), which every instance shares.
REPORTS_BUDGET_PATHS = ("/auditLogs/", "/authentication/methods")


def _tail_figures(services: Services, calls: list[dict[str, Any]], fetch_s: float,
                  pipeline_s: float) -> dict[str, Any]:
    """After the last page: how long, against the fetch step, and the part no storage or CPU
    work can shorten: the requests on the reports budget (users at low or above have their
    authentication methods read, one request each) at the budget's own rate."""
    settings = services.settings
    spent = sum(1 for c in calls if any(p in c["path"] for p in REPORTS_BUDGET_PATHS))
    return {
        "archive_tail_s": round(pipeline_s - fetch_s, 1),
        "archive_pipeline_vs_fetch": round(pipeline_s / fetch_s, 2),
        "archive_tail_budget_requests": spent,
        "archive_tail_budget_floor_s": round(
            spent * settings.graph_signin_period_s / settings.graph_signin_requests, 1),
    }


def _drain(services: Services, tables: Tables, run_id: str, started: float) -> dict[str, Any]:
    runner = QueueRunner(services)
    runner.drain(timeout_s=7200)
    pipeline_s = time.perf_counter() - started
    record = tables.run(run_id)
    _say(f"whole run: {record.status} in {pipeline_s:.0f} s")
    return {
        "archive_pipeline_s": round(pipeline_s, 1),
        "archive_pipeline_status": record.status,
        "archive_pipeline_sign_ins": record.sign_ins,
        "archive_pipeline_users": record.users,
        "archive_pipeline_failures": sorted(set(runner.failures))[:5]
        + sorted(set(record.slices_failed.values()) | set(record.batches_failed.values()))[:5],
    }


if __name__ == "__main__":
    from local.azurite import exit_on_sigterm

    exit_on_sigterm()  # SIGTERM stops both Azurites and removes the archive's folder
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--fetch-only", action="store_true")
    args = parser.parse_args()
    print(json.dumps(measure(args.rows, args.fetch_only), indent=2))
