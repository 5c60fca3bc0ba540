"""The directory audit log from the diagnostic-settings archive, where the `AuditLogs` category
is exported: container `insights-logs-auditlogs`, one `PT1H.json` blob of Azure Monitor records
per hour under the same `tenantId=/y=/m=/d=/h=/m=00/` path as the sign-in categories
(https://learn.microsoft.com/entra/identity/monitoring-health/howto-archive-logs-to-storage-account;
each record's `properties` is Graph's directoryAudit: shared/imports/audit_logs.py).

A run whose sign-ins come from the archive reads the audit log here rather than from Graph (it
spares the reports budget). When the container holds no blob for the whole span (the category is
not exported) the caller falls back to Graph; hours without a blob are named in the source's
detail, and lines that cannot be read are counted, never dropped silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from shared.config import Settings
from shared.imports.audit_logs import normalise
from shared.model import Window
from shared.persistence.activities import kind_of
from shared.persistence.records import AuditEvent
from shared.sources.archive import blob_service, hour_plan
from shared.store.retry import storage_errors

AUDIT_CONTAINER = "insights-logs-auditlogs"


@dataclass
class ArchivedAudit:
    """The hour blobs read (name and bytes, for evidence), the rows that matter, and what could
    not be read."""

    blobs: list[tuple[str, bytes]] = field(default_factory=list)
    events: list[AuditEvent] = field(default_factory=list)
    rows: int = 0
    missing_hours: list[str] = field(default_factory=list)
    unreadable: int = 0

    def detail(self) -> str:
        text = (f"diagnostic-settings archive ({AUDIT_CONTAINER}): {self.rows:,} audit rows "
                f"read, {len(self.events):,} of the activities that matter")
        if self.unreadable:
            text += f"; {self.unreadable} line(s) set aside as unreadable"
        if self.missing_hours:
            text += (f"; no blob for {len(self.missing_hours)} hour(s), the first "
                     f"{self.missing_hours[0]}")
        return text


def decode_lines(body: bytes, window: Window) -> tuple[list[AuditEvent], int, int]:
    """(the rows in the window whose activity matters, rows read, lines set aside)."""
    kept: list[AuditEvent] = []
    rows = unreadable = 0
    for line in body.splitlines():
        if not line.strip():
            continue
        try:
            event = msgspec.convert(normalise(json.loads(line)), AuditEvent)
        except (ValueError, msgspec.ValidationError):
            unreadable += 1
            continue
        rows += 1
        moment = event.activity_date_time
        if kind_of(event) is not None and window.start <= moment <= window.end:
            kept.append(event)
    return kept, rows, unreadable


def read_archived_audit(settings: Settings, start: datetime, end: datetime
                        ) -> ArchivedAudit | None:
    """The span's audit rows from the archive, or None when it holds no blob for the span."""
    from azure.core.exceptions import ResourceNotFoundError

    tenant_id = settings.archive_tenant_id or ""
    window = Window(start=start, end=end)
    found = ArchivedAudit()
    with blob_service(settings) as service:
        for blob in hour_plan(window, tenant_id, [AUDIT_CONTAINER]):
            client = service.get_blob_client(blob.container, blob.name)
            with storage_errors(f"reading archive blob {blob.container}/{blob.name}"):
                try:
                    body = client.download_blob().readall()
                except ResourceNotFoundError:
                    found.missing_hours.append(blob.label)
                    continue
            found.blobs.append((f"{blob.container}/{blob.name}", body))
            events, rows, unreadable = decode_lines(body, window)
            found.events.extend(events)
            found.rows += rows
            found.unreadable += unreadable
    return found if found.blobs else None
