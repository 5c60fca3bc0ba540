"""Write a tenant's sign-ins into Azurite as Entra ID diagnostic settings archive them.

The layout is the one Microsoft documents for diagnostic settings to a storage account
(https://learn.microsoft.com/entra/identity/monitoring-health/howto-archive-logs-to-storage-account,
https://learn.microsoft.com/azure/azure-monitor/essentials/resource-logs#send-to-azure-storage):
a container per category, `insights-logs-signinlogs` and
`insights-logs-noninteractiveusersigninlogs`, one append blob per hour at
`tenantId=<id>/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json`, one Azure Monitor record per line: the
envelope (`time`, `resourceId`, `operationName`, `category`, `resultType`, `callerIpAddress`,
`correlationId`, `identity`, `location`, ...) around the Graph-shaped `properties`.

Hours of the covered span without sign-ins of a category get an empty blob; `missing` names
(container, hour) pairs that get no blob at all, as a failed delivery would leave them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import msgspec

from local.graph_emulator.tenant_data import sign_in_event_types
from shared.sources.archive import CATEGORIES, HourBlob

INTERACTIVE_CONTAINER = "insights-logs-signinlogs"
NON_INTERACTIVE_CONTAINER = "insights-logs-noninteractiveusersigninlogs"
CONTAINERS = (INTERACTIVE_CONTAINER, NON_INTERACTIVE_CONTAINER)
SAMPLE_TENANT_ID = "8d3f4e1c-5b2a-4c7d-9e6f-0a1b2c3d4e5f"
_encode = msgspec.json.Encoder().encode


def container_of(row: dict[str, Any]) -> str:
    if "nonInteractiveUser" in sign_in_event_types(row):
        return NON_INTERACTIVE_CONTAINER
    return INTERACTIVE_CONTAINER


def monitor_record(row: dict[str, Any], tenant_id: str, container: str) -> dict[str, Any]:
    """One sign-in as an Azure Monitor diagnostic record."""
    status = row.get("status") or {}
    location = row.get("location") or {}
    return {
        "time": row["createdDateTime"],
        "resourceId": f"/tenants/{tenant_id}/providers/Microsoft.aadiam",
        "operationName": "Sign-in activity",
        "operationVersion": "1.0",
        "category": CATEGORIES[container],
        "tenantId": tenant_id,
        "resultType": str(status.get("errorCode", 0)),
        "resultSignature": "None",
        "resultDescription": status.get("failureReason") or "",
        "durationMs": 0,
        "callerIpAddress": row.get("ipAddress"),
        "correlationId": row.get("correlationId") or row["id"],
        "identity": row.get("userDisplayName"),
        "Level": 4,
        "location": location.get("countryOrRegion"),
        "properties": row,
    }


def hour_of(row: dict[str, Any]) -> datetime:
    moment = datetime.fromisoformat(str(row["createdDateTime"]).replace("Z", "+00:00"))
    return moment.replace(minute=0, second=0, microsecond=0)


def hour_blobs(sign_ins: Iterable[dict[str, Any]], tenant_id: str,
               until: datetime | None = None) -> dict[tuple[str, datetime], bytearray]:
    """Every (container, hour) from the first sign-in to `until` (default: the last), with its
    JSON-lines bytes (empty for an hour without sign-ins of that category)."""
    blobs: dict[tuple[str, datetime], bytearray] = defaultdict(bytearray)
    for row in sign_ins:
        container = container_of(row)
        blob = blobs[(container, hour_of(row))]
        blob += _encode(monitor_record(row, tenant_id, container))
        blob += b"\n"
    if blobs:
        hours = [hour for _, hour in blobs]
        hour, last = min(hours), max(hours)
        if until is not None:
            last = max(last, until.replace(minute=0, second=0, microsecond=0))
        while hour <= last:
            for container in CONTAINERS:
                blobs[(container, hour)]
            hour += timedelta(hours=1)
    return blobs


def quiet_hour(sign_ins: Sequence[dict[str, Any]], start: datetime, end: datetime
               ) -> tuple[str, datetime] | None:
    """The first (container, hour) in [start, end) without sign-ins: dropping its blob loses no
    sign-in, so a run over the archive still matches Graph while reporting the gap."""
    used = {(container_of(row), hour_of(row)) for row in sign_ins}
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour < end:
        for container in reversed(CONTAINERS):
            if (container, hour) not in used:
                return container, hour
        hour += timedelta(hours=1)
    return None


def write_archive(connection_string: str, sign_ins: Sequence[dict[str, Any]], *,
                  tenant_id: str = SAMPLE_TENANT_ID, since: datetime | None = None,
                  until: datetime | None = None, missing: Iterable[tuple[str, datetime]] = (),
                  parallel: int = 8) -> int:
    """Write the archive into Azurite (the hours from `since` to `until`); returns the blobs
    written."""
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    skip = set(missing)
    with BlobServiceClient.from_connection_string(connection_string) as service:
        for container in CONTAINERS:
            try:
                service.create_container(container)
            except ResourceExistsError:
                pass

        def put(item: tuple[tuple[str, datetime], bytearray]) -> None:
            (container, hour), body = item
            blob = service.get_blob_client(container, HourBlob(hour, container, tenant_id).name)
            blob.create_append_blob()  # an empty hour too: the SDK skips empty uploads
            if body:
                blob.upload_blob(bytes(body), blob_type="AppendBlob")

        first = since.replace(minute=0, second=0, microsecond=0) if since else None
        items = [item for item in hour_blobs(sign_ins, tenant_id, until).items()
                 if item[0] not in skip and (first is None or item[0][1] >= first)]
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            list(pool.map(put, items))
    return len(items)


def audit_record(row: dict[str, Any], tenant_id: str) -> dict[str, Any]:
    """One directory audit row as the AuditLogs category archives it (the envelope of the
    records in elastic/integrations' azure auditlogs test data: time, resourceId, operationName,
    category "AuditLogs", callerIpAddress, correlationId, Level, and Graph's directoryAudit in
    `properties`)."""
    user = (row.get("initiatedBy") or {}).get("user") or {}
    return {
        "time": row["activityDateTime"],
        "resourceId": f"/tenants/{tenant_id}/providers/Microsoft.aadiam",
        "operationName": row["activityDisplayName"], "operationVersion": "1.0",
        "category": "AuditLogs", "tenantId": tenant_id, "resultSignature": "None",
        "durationMs": 0, "callerIpAddress": user.get("ipAddress"),
        "correlationId": row.get("correlationId"), "Level": 4, "properties": row,
    }


def write_audit_archive(connection_string: str, audits: Sequence[dict[str, Any]], *,
                        tenant_id: str = SAMPLE_TENANT_ID) -> int:
    """The directory audit rows into `insights-logs-auditlogs`, one blob per hour that has
    rows (an hour without activity gets no blob here); returns the blobs written."""
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    from shared.sources.audit_archive import AUDIT_CONTAINER

    hours: defaultdict[datetime, bytearray] = defaultdict(bytearray)
    for row in audits:
        moment = datetime.fromisoformat(str(row["activityDateTime"]).replace("Z", "+00:00"))
        hours[moment.replace(minute=0, second=0, microsecond=0)] += \
            _encode(audit_record(row, tenant_id)) + b"\n"
    with BlobServiceClient.from_connection_string(connection_string) as service:
        try:
            service.create_container(AUDIT_CONTAINER)
        except ResourceExistsError:
            pass
        for hour, body in hours.items():
            blob = service.get_blob_client(AUDIT_CONTAINER,
                                           HourBlob(hour, AUDIT_CONTAINER, tenant_id).name)
            blob.create_append_blob()
            blob.upload_blob(bytes(body), blob_type="AppendBlob")
    return len(hours)
