"""Telling what a file is: text or not, JSON document, JSON lines or CSV, and which export.

Formats are recognised by their fields, never by file name alone:
- graph: Graph signIn objects (camelCase: `createdDateTime`, `userPrincipalName`), in a
  `{"value": [...]}` response, a JSON array (the Entra portal's JSON download has this shape) or
  JSON lines;
- sentinel: Log Analytics SigninLogs rows (PascalCase: `TimeGenerated`, `ResultType`,
  `UserPrincipalName`), as CSV or JSON;
- azure-monitor: diagnostic records, an envelope (`time`, `category`, `resultType`, ...) around
  Graph-like `properties`, keys in either case, possibly wrapped in `{"records": [...]}`;
- portal: the Entra portal's CSV download (`Date (UTC)`, `Request ID`, `Username`, `Location`);
- elastic: Elastic (ECS) documents of sign-ins (`azure.signinlogs.*`, or `event.original`
  holding the raw record), one a line, an array, or an Elasticsearch `_search` response.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import msgspec

Layout = Literal["json", "json-lines", "csv"]
FORMATS = ("graph", "sentinel", "azure-monitor", "portal", "elastic")

_SIGNATURES = {  # file magic -> what the file is (for the error message)
    b"\x89PNG": "a PNG image",
    b"GIF8": "a GIF image",
    b"\xff\xd8\xff": "a JPEG image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (or an Office document such as .xlsx)",
    b"\x1f\x8b": "a gzip archive",
    b"SQLite format 3": "a SQLite database",
    b"\xd0\xcf\x11\xe0": "an old Office document",
}


def binary_kind(head: bytes) -> str | None:
    """What a binary file is, or None when it looks like text."""
    for magic, kind in _SIGNATURES.items():
        if head.startswith(magic):
            return kind
    if b"\x00" in head:
        return "a binary file"
    return None


def layout_of(text_head: str) -> Layout:
    """JSON document, JSON lines or CSV, from the first characters of the decoded file."""
    stripped = text_head.lstrip()
    if stripped.startswith("["):
        return "json"
    if not stripped.startswith("{"):
        return "csv"
    first_line, _, rest = stripped.partition("\n")
    if not rest.strip():
        return "json"
    try:
        msgspec.json.decode(first_line)
    except (msgspec.DecodeError, RecursionError):
        return "json"
    return "json-lines"


_SENTINEL_TIME = {"TimeGenerated", "CreatedDateTime"}
_SENTINEL_RESULT = {"ResultType", "Status"}
_SENTINEL_WHO = {"UserPrincipalName", "UserId", "IPAddress", "Identity"}
_GRAPH_FIELDS = {"userPrincipalName", "userId", "ipAddress", "status", "appDisplayName"}
_ENVELOPE = {"category", "operationname", "resourceid", "time", "resulttype"}


def format_of_record(record: Mapping[str, Any]) -> str | None:
    """The export format of one JSON record, or None when it is not a sign-in record."""
    keys = set(record)
    if "_source" in keys or "@timestamp" in keys or "azure" in keys or "event" in keys:
        if is_elastic_document(record):
            return "elastic"
    lower = {k.lower() for k in keys}
    if "properties" in lower and len(lower & _ENVELOPE) >= 2:
        return "azure-monitor"
    if keys & _SENTINEL_RESULT and keys & _SENTINEL_WHO and (keys & _SENTINEL_TIME or "Id" in keys):
        return "sentinel"
    if ("createdDateTime" in keys or "id" in keys) and len(keys & _GRAPH_FIELDS) >= 2:
        return "graph"
    return None


def is_elastic_document(record: Mapping[str, Any]) -> bool:
    """An Elastic (ECS) document of an Entra sign-in: `azure.signinlogs` fields, or
    `event.original` holding the raw record; possibly as an Elasticsearch hit (`_source`)."""
    source = record.get("_source", record)
    if not isinstance(source, Mapping):
        return False
    azure = source.get("azure")
    if isinstance(azure, Mapping) and isinstance(azure.get("signinlogs"), Mapping):
        return True
    event = source.get("event")
    original = event.get("original") if isinstance(event, Mapping) else None
    return isinstance(original, str) and original.lstrip().startswith("{")


def canonical_column(name: str) -> str:
    """A CSV header as the importers look it up: spaces collapsed and trimmed, the Log
    Analytics unit suffix (` [UTC]`) and `_dynamic` / `_string` twin suffixes removed."""
    name = " ".join(name.replace("\ufeff", "").split())
    name = _UNIT_SUFFIX.sub("", name)
    for suffix in ("_dynamic", "_string"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


_UNIT_SUFFIX = re.compile(r"\s*\[(?:UTC|Local Time|local time)\]$")

_PORTAL_TIME = {"date (utc)", "date", "createddatetime"}
_PORTAL_WHO = {"username", "user", "user id", "request id"}
_PORTAL_PLACE = {"location", "city", "country", "country/region", "ip address"}


def format_of_columns(columns: Iterable[str]) -> str | None:
    """The export format of a CSV from its canonical header, or None when it is not one."""
    names = set(columns)
    lower = {n.lower() for n in names}
    if names & _SENTINEL_RESULT and names & _SENTINEL_WHO and (
        names & _SENTINEL_TIME or {"Id", "AuthenticationDetails"} <= names
    ):
        return "sentinel"
    if lower & _PORTAL_TIME and len(lower & _PORTAL_WHO) >= 2 and lower & _PORTAL_PLACE:
        return "portal"
    return None
