"""A small Log Analytics query API emulator on 127.0.0.1: `POST /v1/workspaces/{id}/query`.

What it models, and where that comes from:
- the answer's shape: `{"tables": [{"name", "columns": [{"name", "type"}], "rows": [[...]]}]}`,
  dynamic columns as JSON text (Microsoft Learn, "Azure Monitor Log Analytics API response
  format", https://learn.microsoft.com/azure/azure-monitor/logs/api/response-format);
- a partial result past the row limit (about 500,000 rows in the service): 200 with the rows it
  kept and an `error` object beside `tables` (same page, "Azure Monitor Log Analytics API
  errors": a non-fatal error answers 200 with the results and an error; the service limits page,
  https://learn.microsoft.com/azure/azure-monitor/service-limits#log-queries-and-language);
- throttling: 429 with Retry-After when a caller exceeds the request rate, and 504 when a query
  runs past its time limit (same limits page: a query times out after 10 minutes), here on the
  request numbers a test names, so nothing depends on timing.

The query text is not interpreted beyond the three parts of the KQL we send: the `project`
column list, the `CreatedDateTime >= datetime(..) and CreatedDateTime < datetime(..)` range and a
`UserId == "..."` filter; for `AuditLogs` (the directory audit log: the table's columns as the
AuditLogs table reference lists them,
https://learn.microsoft.com/azure/azure-monitor/reference/tables/auditlogs) the
`ActivityDateTime` range and the `ActivityDisplayName in (...)` list. Rows are also limited by
the request body's `timespan` (ISO 8601 `start/end`, which filters TimeGenerated, as in the
service).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from local.graph_emulator.tenant_data import sign_in_event_types
from local.loopback import LoopbackServer

SERVICE_ROW_LIMIT = 500_000
_PROJECT = re.compile(r"\|\s*project\s+([A-Za-z0-9_, ]+)\s*$")
_USER = re.compile(r'UserId == "((?:[^"\\]|\\.)*)"')
_CREATED = re.compile(r"CreatedDateTime >= datetime\(([^)]+)\) and "
                      r"CreatedDateTime < datetime\(([^)]+)\)")
_ACTIVITY_RANGE = re.compile(r"ActivityDateTime >= datetime\(([^)]+)\) and "
                             r"ActivityDateTime < datetime\(([^)]+)\)")
_IN_LIST = re.compile(r"ActivityDisplayName in \((.*)\)\s*$", re.MULTILINE)
_NESTED = {"Status": "status", "DeviceDetail": "deviceDetail", "LocationDetails": "location",
           "RiskEventTypes_V2": "riskEventTypes_v2"}
_PLAIN = {"Id": "id", "CreatedDateTime": "createdDateTime", "UserId": "userId",
          "UserPrincipalName": "userPrincipalName", "UserDisplayName": "userDisplayName",
          "AppId": "appId", "AppDisplayName": "appDisplayName", "IPAddress": "ipAddress",
          "ClientAppUsed": "clientAppUsed", "IsInteractive": "isInteractive",
          "ConditionalAccessStatus": "conditionalAccessStatus",
          "RiskLevelDuringSignIn": "riskLevelDuringSignIn",
          "RiskLevelAggregated": "riskLevelAggregated", "RiskState": "riskState",
          "CorrelationId": "correlationId", "AutonomousSystemNumber": "autonomousSystemNumber",
          "UserAgent": "userAgent", "AuthenticationRequirement": "authenticationRequirement"}


def log_analytics_row(row: dict[str, Any]) -> dict[str, Any]:
    """A Graph sign-in as a SigninLogs / AADNonInteractiveUserSignInLogs row."""
    interactive = "nonInteractiveUser" not in sign_in_event_types(row)
    status = row.get("status") or {}
    out: dict[str, Any] = {column: row.get(field) for column, field in _PLAIN.items()}
    out.update({column: json.dumps(row[field]) if row.get(field) is not None else ""
                for column, field in _NESTED.items()})
    out["IsInteractive"] = interactive
    out["TimeGenerated"] = row["createdDateTime"]
    out["ResultType"] = str(status.get("errorCode", 0))
    out["ResultDescription"] = status.get("failureReason") or ""
    out["Category"] = "SignInLogs" if interactive else "NonInteractiveUserSignInLogs"
    out["Type"] = "SigninLogs" if interactive else "AADNonInteractiveUserSignInLogs"
    return out


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class LogAnalyticsEmulator:
    """Holds the rows and the fault plan; serves them until `stop`."""

    def __init__(self, *, token: str = "local-la-token", workspace_id: str = "sample-workspace",
                 row_limit: int = SERVICE_ROW_LIMIT) -> None:
        self.token = token
        self.workspace_id = workspace_id
        self.row_limit = row_limit
        self.throttle_requests: set[int] = set()  # 1-based request numbers answered 429
        self.timeout_requests: set[int] = set()  # ... answered 504 (the query ran too long)
        self.requests: list[dict[str, Any]] = []  # every query body, in order
        self._rows: list[tuple[datetime, dict[str, Any]]] = []
        self._audits: list[tuple[datetime, dict[str, Any]]] = []
        self.audit_requests: list[dict[str, Any]] = []  # AuditLogs queries, apart from the rest
        self._lock = threading.Lock()
        self._server: LoopbackServer | None = None

    def load(self, sign_ins: Iterable[dict[str, Any]]) -> None:
        rows = [log_analytics_row(r) for r in sign_ins]
        self._rows = sorted(((_moment(r["TimeGenerated"]), r) for r in rows),
                            key=lambda pair: pair[0])

    def load_audits(self, audits: Iterable[dict[str, Any]]) -> None:
        """Directory audit rows (Graph's directoryAudit) as AuditLogs rows."""
        rows = [audit_logs_row(r) for r in audits]
        self._audits = sorted(((_moment(r["ActivityDateTime"]), r) for r in rows),
                              key=lambda pair: pair[0])

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "start the emulator first"
        return self._server.base_url

    def start(self) -> LogAnalyticsEmulator:
        self._server = LoopbackServer(_handler(self), name="log-analytics-emulator")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> LogAnalyticsEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def answer(self, workspace: str, body: dict[str, Any], authorization: str
               ) -> tuple[int, dict[str, str], dict[str, Any]]:
        """(status, headers, JSON body) for one query request."""
        if str(body.get("query", "")).lstrip().startswith("AuditLogs"):
            return self._audit_answer(workspace, body, authorization)
        with self._lock:
            self.requests.append(body)
            number = len(self.requests)
        if authorization != f"Bearer {self.token}":
            return 401, {}, _error("InvalidAuthenticationToken", "no valid bearer token")
        if workspace != self.workspace_id:
            return 404, {}, _error("WorkspaceNotFoundError", f"workspace {workspace} not found")
        if number in self.throttle_requests:
            return 429, {"Retry-After": "1"}, _error(
                "ThrottledError", "too many requests; retry after the given time")
        if number in self.timeout_requests:
            return 504, {}, _error("GatewayTimeout", "the query exceeded the server timeout")
        try:
            start_s, end_s = str(body["timespan"]).split("/")
            start, end = _moment(start_s), _moment(end_s)
            query = str(body["query"])
        except (KeyError, ValueError):
            return 400, {}, _error("BadArgumentError", "a query and a start/end timespan")
        columns = _columns(query)
        user = _USER.search(query)
        created = _CREATED.search(query)
        if created is not None:
            start = max(start, _moment(created.group(1)))
            end = min(end, _moment(created.group(2)))
        chosen = [r for t, r in self._rows if start <= t < end
                  and (user is None or user.group(1) in (r["UserId"], r["UserPrincipalName"]))]
        table = {"name": "PrimaryResult",
                 "columns": [{"name": c, "type": _type(c)} for c in columns],
                 "rows": [[r.get(c) for c in columns] for r in chosen[:self.row_limit]]}
        if len(chosen) <= self.row_limit:
            return 200, {}, {"tables": [table]}
        return 200, {}, {"tables": [table], "error": _partial(self.row_limit)}


    def _audit_answer(self, workspace: str, body: dict[str, Any], authorization: str
                      ) -> tuple[int, dict[str, str], dict[str, Any]]:
        """An `AuditLogs` query: the ActivityDateTime range and the `ActivityDisplayName in
        (...)` list of the KQL we send, and its project list."""
        with self._lock:
            self.audit_requests.append(body)
        if authorization != f"Bearer {self.token}":
            return 401, {}, _error("InvalidAuthenticationToken", "no valid bearer token")
        if workspace != self.workspace_id:
            return 404, {}, _error("WorkspaceNotFoundError", f"workspace {workspace} not found")
        query = str(body.get("query", ""))
        span = _ACTIVITY_RANGE.search(query)
        listed = _IN_LIST.search(query)
        if span is None:
            return 400, {}, _error("BadArgumentError", "an ActivityDateTime range")
        start, end = _moment(span.group(1)), _moment(span.group(2))
        wanted = set(re.findall(r'"((?:[^"\\]|\\.)*)"', listed.group(1))) if listed else None
        chosen = [r for t, r in self._audits if start <= t < end
                  and (wanted is None or r["ActivityDisplayName"] in wanted)]
        columns = _columns(query)
        return 200, {}, {"tables": [{
            "name": "PrimaryResult",
            "columns": [{"name": c, "type": "datetime" if c in ("ActivityDateTime",
                                                               "TimeGenerated") else "string"}
                        for c in columns],
            "rows": [[r.get(c) for c in columns] for r in chosen]}]}


def audit_logs_row(row: dict[str, Any]) -> dict[str, Any]:
    """A Graph directoryAudit as an AuditLogs row (PascalCase columns, dynamic ones as JSON
    text: the AuditLogs table reference)."""
    return {
        "TimeGenerated": row["activityDateTime"], "Id": row["id"],
        "ActivityDateTime": row["activityDateTime"],
        "ActivityDisplayName": row["activityDisplayName"],
        "OperationName": row["activityDisplayName"], "Category": row.get("category"),
        "LoggedByService": row.get("loggedByService"),
        "AADOperationType": row.get("operationType"), "Result": row.get("result"),
        "ResultReason": row.get("resultReason") or "", "CorrelationId": row.get("correlationId"),
        "InitiatedBy": json.dumps(row.get("initiatedBy") or {}),
        "TargetResources": json.dumps(row.get("targetResources") or []),
        "AdditionalDetails": json.dumps(row.get("additionalDetails") or []),
        "Type": "AuditLogs",
    }


def _columns(query: str) -> list[str]:
    found = _PROJECT.search(query.strip())
    if found is None:
        return ["TimeGenerated", *_PLAIN, *_NESTED, "ResultType", "ResultDescription",
                "Category", "Type"]
    return [c.strip() for c in found.group(1).split(",") if c.strip()]


def _type(column: str) -> str:
    if column in ("TimeGenerated", "CreatedDateTime"):
        return "datetime"
    return "bool" if column == "IsInteractive" else "string"


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _partial(limit: int) -> dict[str, Any]:
    return {"code": "PartialError", "message": "There were some errors when processing your "
            "query.", "details": [{"code": "EngineError", "message": "Query result set has "
            f"exceeded the internal record count limit {limit} records.", "innererror": {
                "code": "E_QUERY_RESULT_SET_TOO_LARGE"}}]}


def _handler(emulator: LogAnalyticsEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return None

        def do_POST(self) -> None:
            parts = self.path.split("?")[0].strip("/").split("/")
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if len(parts) != 4 or parts[0] != "v1" or parts[1] != "workspaces" \
                    or parts[3] != "query":
                status, headers, body = 404, {}, _error("PathNotFoundError", self.path)
            else:
                try:
                    request = json.loads(raw)
                except ValueError:
                    request = {}
                status, headers, body = emulator.answer(
                    parts[2], request, self.headers.get("Authorization", ""))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler
