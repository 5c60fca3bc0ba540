"""Sign-ins from a Log Analytics workspace (often the Sentinel workspace): KQL over `SigninLogs`
and `AADNonInteractiveUserSignInLogs` through the Azure Monitor query API (`LogsQueryClient`).

The API answers one query with at most about 500,000 rows and 64 MB, and a query that reaches a
limit comes back partial: HTTP 200, the rows it had, and an `error` beside `tables` (Microsoft
Learn, "Azure Monitor service limits", Log queries,
https://learn.microsoft.com/azure/azure-monitor/service-limits#log-queries-and-language, and
"Azure Monitor Log Analytics API response format",
https://learn.microsoft.com/azure/azure-monitor/logs/api/response-format). So a slice is read in
time ranges of LOG_ANALYTICS_QUERY_HOURS; a partial answer or a server timeout is thrown away and
its range read again as two halves, down to one minute. Throttling (429, with Retry-After) is the
SDK's retry policy's to honour.

A page is one complete answer: the evidence keeps the workspace, the query text, the time range
and the response bytes with their SHA-256 (`QueryEvidence`); the cursor is where the next range
starts. Rows are decoded from those same bytes with the Log Analytics importer's row reader, so a
page re-read from evidence gives the same sign-ins.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from shared.config import Settings
from shared.errors import ConfigError, SigninReviewError, SourceUnavailable
from shared.imports.sentinel import sign_in_from_row
from shared.model import DataSource, SignIn, Window
from shared.services import Services
from shared.sources import Decoded, Gap, SourcePage, decode_each, in_window
from shared.store.evidence import sha256_hex

if TYPE_CHECKING:
    from azure.monitor.query import LogsQueryClient

MIN_RANGE = timedelta(minutes=1)
TICK = timedelta(microseconds=1)
TABLES = ("SigninLogs", "AADNonInteractiveUserSignInLogs")
# The columns we read. Status, DeviceDetail and LocationDetails are `dynamic` in SigninLogs and
# `string` in AADNonInteractiveUserSignInLogs; a union of both would split them into _dynamic and
# _string twins, so each table's are made strings (JSON text) first.
COLUMNS = (
    "TimeGenerated", "CreatedDateTime", "Id", "UserId", "UserPrincipalName", "UserDisplayName",
    "AppId", "AppDisplayName", "IPAddress", "ClientAppUsed", "IsInteractive",
    "ConditionalAccessStatus", "RiskLevelDuringSignIn", "RiskLevelAggregated", "RiskState",
    "RiskEventTypes_V2", "CorrelationId", "AutonomousSystemNumber", "UserAgent",
    "AuthenticationRequirement", "Status", "DeviceDetail", "LocationDetails", "ResultType",
    "ResultDescription", "Category",
)
_STRINGS = "Status, DeviceDetail, LocationDetails, RiskEventTypes_V2"


class LogAnalyticsError(SigninReviewError):
    """The workspace could not be read (after the SDK's retries)."""


class _Column(msgspec.Struct):
    name: str
    type: str = ""


class _Table(msgspec.Struct):
    name: str
    columns: list[_Column]
    rows: list[list[Any]]


class _Response(msgspec.Struct):
    tables: list[_Table]
    error: dict[str, Any] | None = None


class QueryEvidence(msgspec.Struct, rename="camel", frozen=True):
    """What one page of evidence holds: the question, the time range and the exact answer."""

    workspace_id: str
    query: str
    start: datetime
    end: datetime  # exclusive
    response_sha256: str
    response: msgspec.Raw


_decode_evidence = msgspec.json.Decoder(QueryEvidence).decode
_decode_response = msgspec.json.Decoder(_Response).decode
_encode = msgspec.json.Encoder().encode


def kql_string(value: str) -> str:
    """A KQL string literal: double quotes, backslash and quote escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def query_text(start: datetime, end: datetime, user: str | None = None) -> str:
    """The KQL for sign-ins created in [start, end), optionally one user's."""
    who = (f" and (UserId == {kql_string(user)} or UserPrincipalName =~ {kql_string(user)})"
           if user else "")
    where = (f"where CreatedDateTime >= datetime({start.isoformat()}) and "
             f"CreatedDateTime < datetime({end.isoformat()}){who}")
    legs = ", ".join(f"({table} | {where} | extend {_as_strings()})" for table in TABLES)
    return f"union {legs}\n| project {', '.join(COLUMNS)}"


def _as_strings() -> str:
    return ", ".join(f"{c} = tostring({c})" for c in _STRINGS.split(", "))


def decode_response(body: bytes, window: Window, user: str | None = None) -> Decoded:
    """The response's rows (tables, columns, rows) -> sign-ins of the window and user; rows that
    cannot be read are counted and set aside with the first reason."""
    response = _decode_response(body)
    rows = ((table.name, [c.name for c in table.columns], values)
            for table in response.tables for values in table.rows)
    return decode_each(rows, _sign_in, window, user, "row")


def _sign_in(row: tuple[str, list[str], list[Any]], n: int) -> SignIn:
    table, names, values = row
    return sign_in_from_row(dict(zip(names, values, strict=False)), f"{table}-{n + 1}", None)


class LogAnalyticsSource:
    name = "log-analytics"

    def __init__(self, settings: Settings, client: LogsQueryClient) -> None:
        if not settings.log_analytics_workspace_id:
            raise ConfigError("the log-analytics source needs LOG_ANALYTICS_WORKSPACE_ID")
        self._settings = settings
        self._client = client
        self._workspace = settings.log_analytics_workspace_id
        self.queries = 0  # requests answered (for tests and the benchmark)
        self.splits = 0  # ranges read again as two halves

    def describe(self) -> DataSource:
        return DataSource(
            name="signIns", available=True,
            detail=(f"Log Analytics workspace {self._workspace} ({', '.join(TABLES)}): "
                    "interactive and non-interactive sign-ins"))

    async def pages(self, window: Window, *, user: str | None = None,
                    resume_from: str | None = None) -> AsyncGenerator[SourcePage, None]:
        start = _cursor(resume_from, window)
        stop = window.end + TICK  # Graph's window includes its end
        span = timedelta(hours=self._settings.log_analytics_query_hours)
        while start < stop:
            end = min(start + span, stop)
            body = self._complete_answer(start, end, user)
            if body is None:  # partial or timed out: read the range again as two halves
                if end - start <= MIN_RANGE:
                    raise LogAnalyticsError(
                        f"Log Analytics could not answer for {start:%Y-%m-%d %H:%M}-"
                        f"{end:%H:%M} UTC even over one minute (partial or timed out)")
                self.splits += 1
                span = (end - start) / 2
                continue
            query = query_text(start, end, user)
            evidence = _encode(QueryEvidence(
                workspace_id=self._workspace, query=query, start=start, end=end,
                response_sha256=sha256_hex(body), response=msgspec.Raw(body)))
            decoded = decode_response(body, Window(start=start, end=end - TICK), user)
            gaps = (Gap("unreadable", f"{start:%Y-%m-%d %H:%M}-{end:%H:%M} UTC",
                        f"{decoded.unreadable} row(s) set aside; first: "
                        f"{decoded.first_problem}"),) if decoded.unreadable else ()
            cursor = end.isoformat() if end < stop else None
            origin = f"workspace {self._workspace} {start.isoformat()}/{end.isoformat()}"
            rows = [s for s in decoded.sign_ins if in_window(s, window)]
            yield SourcePage(evidence, rows, cursor, origin, gaps)
            start = end
            span = min(span * 2, timedelta(hours=self._settings.log_analytics_query_hours))

    def stored(self, body: bytes, fetched: SourcePage, window: Window) -> SourcePage:
        return SourcePage(body, self.rows(body, window), fetched.cursor, fetched.origin,
                          fetched.gaps)

    def rows(self, body: bytes, window: Window) -> list[SignIn]:
        page = _decode_evidence(body)
        if sha256_hex(page.response) != page.response_sha256:
            raise LogAnalyticsError("a stored Log Analytics answer does not match its SHA-256")
        part = Window(start=max(page.start, window.start), end=min(page.end - TICK, window.end))
        return decode_response(bytes(page.response), part).sign_ins

    def _complete_answer(self, start: datetime, end: datetime, user: str | None) -> bytes | None:
        """The raw answer for [start, end), or None when it was partial or timed out."""
        from azure.core.exceptions import HttpResponseError, ServiceResponseTimeoutError
        from azure.monitor.query import LogsQueryPartialResult

        captured: list[bytes] = []
        try:
            result = self._client.query_workspace(
                self._workspace, query_text(start, end, user),
                # The time range filters TimeGenerated; CreatedDateTime decides, in the query.
                timespan=(start - timedelta(hours=1), end + timedelta(hours=1)),
                server_timeout=self._settings.log_analytics_server_timeout_s,
                raw_response_hook=lambda r: captured.append(r.http_response.body()),
            )
        except ServiceResponseTimeoutError:
            return None
        except HttpResponseError as exc:
            self.queries += 1
            _raise_unless_timeout(exc)
            return None
        self.queries += 1
        if isinstance(result, LogsQueryPartialResult):
            return None
        return captured[-1]


def _raise_unless_timeout(exc: Any) -> None:
    """A query that ran out of time is read again in halves; anything else is raised."""
    status = getattr(exc, "status_code", None)
    if status in (408, 504):  # the query ran out of time: smaller ranges
        return None
    message = str(getattr(exc, "message", exc)).splitlines()[0][:300]
    if status in (401, 403):
        raise SourceUnavailable(
            f"the reader identity may not query the Log Analytics workspace ({status}: "
            f"{message}); grant it Log Analytics Reader", status=status) from None
    raise LogAnalyticsError(f"Log Analytics query failed ({status}): {message}") from None


def _cursor(resume_from: str | None, window: Window) -> datetime:
    if resume_from is None:
        return window.start
    try:
        moment = datetime.fromisoformat(resume_from)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or not window.start <= moment <= window.end:
        raise LogAnalyticsError(f"a Log Analytics cursor must be a time in the window, got "
                                f"{resume_from[:40]!r}")
    return moment


def query_client(settings: Settings) -> LogsQueryClient:
    """The query client under the reader identity; a fixed token over plain HTTP only for a
    local emulator on 127.0.0.1."""
    from azure.monitor.query import LogsQueryClient

    endpoint = settings.log_analytics_endpoint
    retry = {"retry_total": 4, "retry_backoff_factor": 0.5, "retry_backoff_max": 30}
    if settings.graph_credential != "local":
        from shared.sources.archive import reader_credential

        return LogsQueryClient(reader_credential(settings), endpoint=endpoint, **retry)
    from shared.sources.local_auth import StaticTokenCredential, loopback_token_policy

    token = settings.graph_local_token or ""
    return LogsQueryClient(StaticTokenCredential(token), endpoint=endpoint,
                           authentication_policy=loopback_token_policy(endpoint, token),
                           **retry)


def connect(services: Services) -> LogAnalyticsSource:
    return LogAnalyticsSource(services.settings, query_client(services.settings))
