"""Directory audit rows from a file, for `analyze --audit-logs FILE`.

Takes what Graph answers for GET /auditLogs/directoryAudits (`{"value": [...]}`, the records of
several pages in one array, or JSON lines of directoryAudit objects), Log Analytics `AuditLogs`
exports (CSV from the portal or `az monitor log-analytics query`, JSON: PascalCase columns such
as ActivityDateTime, ActivityDisplayName, OperationName, InitiatedBy, TargetResources,
AdditionalDetails, Result, with the dynamic columns as JSON text in CSV; the table's schema is
https://learn.microsoft.com/en-us/azure/azure-monitor/reference/tables/auditlogs), and the
diagnostic-settings archive's records (`{"records": [{"category": "AuditLogs", "properties":
{...}}]}` or one record a line). A UTF-8 BOM is skipped. Column names are matched without case
and without the portal's " [UTC]" suffix. Microsoft's own directoryAudit example spells a target
resource's `Type` with a capital (directoryaudit-list): nested names are matched without case
too.

A row that does not decode (no id, no time, no activity) is counted by reason and reported with
its number; a file that cannot be read or holds no audit row is an InputError.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec

from shared.errors import InputError
from shared.imports.dates import (
    AmbiguousDateOrder,
    DateOrder,
    MixedDateOrder,
    UnreadableTime,
    decide_date_order,
    parse_sign_in_time,
)
from shared.imports.problems import ImportProblem, ProblemLog
from shared.persistence.records import AuditEvent

# lower-cased column or field name -> directoryAudit's name
_FIELDS = {name.lower(): name for name in (
    "id", "activityDateTime", "activityDisplayName", "category", "loggedByService",
    "operationType", "result", "resultReason", "correlationId", "initiatedBy",
    "targetResources", "additionalDetails")}
_DYNAMIC = ("initiatedBy", "targetResources", "additionalDetails")


class AuditRead(msgspec.Struct, kw_only=True):
    """What reading an audit log file kept and lost."""

    source: str
    format: str
    rows_read: int = 0
    kept: int = 0
    rejected: dict[str, int] = msgspec.field(default_factory=dict)

    def described(self) -> str:
        lost = sum(self.rejected.values())
        text = (f"{self.rows_read:,} audit rows read from {Path(self.source).name} "
                f"({self.format}), {self.kept:,} kept")
        if lost:
            reasons = ", ".join(f"{n:,} {why}" for why, n in sorted(self.rejected.items()))
            text += f", {lost:,} rejected ({reasons})"
        return text


def _camel_keys(value: Any) -> Any:
    """Nested names as Graph spells them (a leading capital lowered: `Type` -> `type`)."""
    if isinstance(value, dict):
        return {(k[:1].lower() + k[1:] if isinstance(k, str) else k): _camel_keys(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    return value


def _column(name: str) -> str:
    return name.strip().removesuffix(" [UTC]").strip().lower()


def normalise(row: dict[str, Any]) -> dict[str, Any]:
    """One row (Graph, Log Analytics or an archive record) in directoryAudit's shape."""
    properties = row.get("properties")
    if isinstance(properties, dict) and ("activityDisplayName" in properties
                                         or "activityDateTime" in properties):
        row = {**properties, **{k: v for k, v in row.items() if k == "time"}}
    found: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in row.items():
        column = _column(str(key))
        name = _FIELDS.get(column)
        if name is not None:
            found[name] = value
        else:
            extra[column] = value
    if not found.get("activityDisplayName") and extra.get("operationname"):
        found["activityDisplayName"] = extra["operationname"]
    if not found.get("activityDateTime"):
        found["activityDateTime"] = extra.get("timegenerated") or extra.get("time")
    for name in _DYNAMIC:
        value = found.get(name)
        if isinstance(value, str):
            text = value.strip()
            found[name] = json.loads(text) if text[:1] in "{[" else None
    if isinstance(found.get("result"), str):
        found["result"] = found["result"].lower()
    shaped: dict[str, Any] = _camel_keys(found)
    return shaped


def _rows_of(data: bytes) -> tuple[str, list[Any]]:
    text = data.decode("utf-8")
    stripped = text.lstrip()
    if stripped[:1] in "{[":
        try:
            top = json.loads(text)
        except json.JSONDecodeError:
            return "json-lines", [json.loads(line) for line in text.splitlines() if line.strip()]
        if isinstance(top, list):
            return "json", top
        if isinstance(top, dict):
            for key in ("value", "records", "tables"):
                if isinstance(top.get(key), list):
                    return ("azure-monitor" if key == "records" else "json"), top[key]
            return "json", [top]
        raise ValueError("the JSON holds neither rows nor an object")
    reader = csv.DictReader(io.StringIO(text))
    return "csv", list(reader)


def _time(value: Any, order: DateOrder | None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UnreadableTime("no activity time")
    return parse_sign_in_time(value, order).isoformat()


def read_audit_logs(path: str | Path, date_order: DateOrder | None = None
                    ) -> tuple[list[AuditEvent], AuditRead, list[ImportProblem]]:
    """The audit rows of a file, what was kept and lost, and the rows skipped (as problems)."""
    source = str(path)
    try:
        data = Path(path).read_bytes().removeprefix(b"\xef\xbb\xbf")
    except OSError as exc:
        raise InputError(f"cannot read the audit log file: {exc}", source=source) from None
    try:
        fmt, rows = _rows_of(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"not a directoryAudits or AuditLogs export ({exc})",
                         source=source) from None
    log = ProblemLog(source)
    reasons: Counter[str] = Counter()
    shaped: list[tuple[int, dict[str, Any]]] = []
    for number, raw in enumerate(rows, start=1):
        try:
            if not isinstance(raw, dict):
                raise ValueError("not an object")
            shaped.append((number, normalise(raw)))
        except ValueError as exc:  # json.JSONDecodeError is one
            reasons["malformed row or JSON column"] += 1
            log.add(number, f"audit row {number} skipped: {exc}")
    if not any(row.get("activityDisplayName") for _, row in shaped):
        raise InputError("no directory audit rows in the file (no activityDisplayName or "
                         "OperationName column)", source=source)
    if fmt == "csv" or any(str(k)[:1].isupper() for r in rows[:1] if isinstance(r, dict)
                           for k in r):
        fmt = f"log-analytics {fmt}"
    times = [r["activityDateTime"] for _, r in shaped if isinstance(r.get("activityDateTime"), str)]
    try:
        order = decide_date_order(times, date_order)
    except (AmbiguousDateOrder, MixedDateOrder) as exc:
        raise InputError(f"the audit log's dates: {exc} (--date-order)", source=source) from None
    found: list[AuditEvent] = []
    for number, row in shaped:
        try:
            row["activityDateTime"] = _time(row.get("activityDateTime"), order)
            found.append(msgspec.convert(row, AuditEvent))
        except UnreadableTime as exc:
            reasons["unreadable time"] += 1
            log.add(number, f"audit row {number} skipped: {exc}")
        except msgspec.ValidationError as exc:
            reasons["missing or malformed field"] += 1
            log.add(number, f"audit row {number} skipped: {exc}")
    read = AuditRead(source=source, format=fmt, rows_read=len(rows), kept=len(found),
                     rejected=dict(reasons))
    if not found:
        raise InputError(f"no audit row could be read ({len(rows)} rows, the first: "
                         f"{log.problems[0].message})", source=source)
    return found, read, log.finish()
