"""The directory audit log from a Log Analytics workspace, where Entra ID's `AuditLogs` category
is sent: one query for the span, the activities that matter filtered in KQL (`in`), the dynamic
columns as JSON text (the AuditLogs table's columns:
https://learn.microsoft.com/en-us/azure/azure-monitor/reference/tables/auditlogs; each row is read
like an `analyze --audit-logs` export, shared/imports/audit_logs.py).

A run whose sign-ins come from the workspace reads the audit log here rather than from Graph.
When the workspace has no AuditLogs table, refuses the query, or answers partially, the caller
falls back to Graph; rows that cannot be read are counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec

from shared.config import Settings
from shared.imports.audit_logs import normalise
from shared.model import Window
from shared.persistence.activities import FILTER_ACTIVITIES, kind_of
from shared.persistence.records import AuditEvent
from shared.sources.log_analytics import kql_string, query_client

COLUMNS = ("Id", "ActivityDateTime", "ActivityDisplayName", "Category", "LoggedByService",
           "AADOperationType", "Result", "ResultReason", "CorrelationId", "InitiatedBy",
           "TargetResources", "AdditionalDetails")
DYNAMIC = ("InitiatedBy", "TargetResources", "AdditionalDetails")


def audit_query(start: datetime, end: datetime) -> str:
    activities = ", ".join(kql_string(a) for a in FILTER_ACTIVITIES)
    dynamic = ", ".join(f"{c} = tostring({c})" for c in DYNAMIC)
    return (f"AuditLogs\n| where ActivityDateTime >= datetime({start.isoformat()}) and "
            f"ActivityDateTime < datetime({end.isoformat()})\n"
            f"| where ActivityDisplayName in ({activities})\n| extend {dynamic}\n"
            f"| project {', '.join(COLUMNS)}")


@dataclass
class QueriedAudit:
    body: bytes = b""
    events: list[AuditEvent] = field(default_factory=list)
    rows: int = 0
    unreadable: int = 0

    def detail(self, workspace: str) -> str:
        text = (f"Log Analytics workspace {workspace} (AuditLogs): {self.rows:,} audit rows "
                f"read, {len(self.events):,} of the activities that matter")
        return text + (f"; {self.unreadable} row(s) set aside as unreadable"
                       if self.unreadable else "")


def decode_answer(body: bytes, window: Window) -> QueriedAudit:
    found = QueriedAudit(body=body)
    answer: dict[str, Any] = json.loads(body)
    for table in answer.get("tables") or ():
        names = [c["name"] for c in table.get("columns") or ()]
        for values in table.get("rows") or ():
            try:
                event = msgspec.convert(normalise(dict(zip(names, values, strict=False))),
                                        AuditEvent)
            except (ValueError, msgspec.ValidationError):
                found.unreadable += 1
                continue
            found.rows += 1
            if kind_of(event) is not None and \
                    window.start <= event.activity_date_time <= window.end:
                found.events.append(event)
    return found


def read_queried_audit(settings: Settings, start: datetime, end: datetime
                       ) -> QueriedAudit | None:
    """The span's audit rows from the workspace, or None when it could not answer in full."""
    from azure.core.exceptions import AzureError
    from azure.monitor.query import LogsQueryPartialResult

    captured: list[bytes] = []
    try:
        with query_client(settings) as client:
            result = client.query_workspace(
                settings.log_analytics_workspace_id or "", audit_query(start, end),
                timespan=(start - timedelta(hours=1), end + timedelta(hours=1)),
                server_timeout=settings.log_analytics_server_timeout_s,
                raw_response_hook=lambda r: captured.append(r.http_response.body()))
    except AzureError:
        return None
    if isinstance(result, LogsQueryPartialResult) or not captured:
        return None
    return decode_answer(captured[-1], Window(start=start, end=end))
