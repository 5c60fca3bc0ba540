"""Every setting the program reads, read once from the environment, typed and validated.

Names are app settings (what `infra/` sets on the function app and what `local/` sets for the
demo). `load()` is the only place that reads `os.environ`; everything else takes a `Settings`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import date, time
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from shared.errors import ConfigError

CredentialKind = Literal["managed-identity", "default", "local"]

# (setting name, default). None means "not set": optional.
DEFAULTS: dict[str, str | None] = {
    # Storage: a connection string (local, Azurite) or identity-based service URIs (Azure).
    "AzureWebJobsStorage": None,
    "AzureWebJobsStorage__blobServiceUri": None,
    "AzureWebJobsStorage__queueServiceUri": None,
    "AzureWebJobsStorage__tableServiceUri": None,
    "AzureWebJobsStorage__clientId": None,
    # A prefix on every container, table and queue name (lower-case letters and digits), so
    # tests and parallel local runs keep separate copies. Empty in Azure.
    "STORAGE_NAME_PREFIX": "",
    # Microsoft Graph
    "GRAPH_BASE_URL": "https://graph.microsoft.com",
    "GRAPH_API_VERSION": "v1.0",
    "GRAPH_CREDENTIAL": "managed-identity",
    "GRAPH_READER_CLIENT_ID": None,
    "GRAPH_REMEDIATOR_CLIENT_ID": None,
    "GRAPH_LOCAL_TOKEN": None,
    "GRAPH_LOCAL_REMEDIATOR_TOKEN": None,  # the remediator's, when it differs (doctor tests)
    "GRAPH_SIGNIN_REQUESTS": "5",
    "GRAPH_SIGNIN_PERIOD_SECONDS": "10",
    "GRAPH_RISK_REQUESTS_PER_SECOND": "1",
    "GRAPH_PAGE_SIZE": "1000",
    "GRAPH_RETRY_BUDGET": "8",
    # A filtered signIns query may get no answer at all within ~300 s (msgraph-sdk-powershell
    # #3146): a read that waits this long is given up and its window split, like a 504.
    "GRAPH_READ_TIMEOUT_SECONDS": "330",
    # Sign-ins reach the log late (Microsoft's latency figures: p95 ~2 min, p99 ~5 min): a
    # window's last minutes are read only once its end is this far in the past.
    "SIGNIN_SETTLE_MINUTES": "15",
    "PRIVILEGED_ROLE_IDS": "",
    # The directory roles the remediator's identity holds (a post-deploy choice, docs/deploy.md):
    # an administrator is disabled or reset only by Privileged Authentication Administrator.
    "REMEDIATOR_DIRECTORY_ROLES": "User Administrator",
    # The review window
    # Business-day mornings: the planner decides whether a morning has a window to review
    # (after a weekend or holiday; nightly only with REVIEW_WEEKDAY_NIGHTS). A Monday-only
    # schedule could not review the morning after a Monday holiday.
    "REVIEW_SCHEDULE": "0 0 6 * * 1-5",
    # The quarterly review of privileged accounts: mornings of the first week of each quarter;
    # the planner starts it on the first business day of the quarter only (shared.pipeline.window).
    "PRIVILEGED_REVIEW_SCHEDULE": "0 0 6 1-7 1,4,7,10 *",
    "TENANT_TIME_ZONE": "UTC",
    "BUSINESS_HOURS": "08:00-18:00",
    "BUSINESS_DAYS": "Mon,Tue,Wed,Thu,Fri",
    "HOLIDAYS": "",
    "REVIEW_WEEKDAY_NIGHTS": "false",
    # A fetch slice (one queue message) spans this many hours. Each slice ends in a part-filled
    # page, and at Graph's 5 requests / 10 s every extra request costs 2 s: 6-hour slices sent 29
    # requests for a weekend that one stream reads in 23. A retried slice resumes from its stored
    # nextLink and a slice whose first page times out is halved, so a long slice costs little
    # when it fails. At 500 rows/s a 24-hour slice of up to ~900k sign-ins fits host.json's
    # 30-minute functionTimeout; tenants with more sign-ins a day set fewer hours.
    "SLICE_HOURS": "24",
    "SCORING_BATCH_USERS": "200",
    # A one-user HTTP review answers with the verdict when it finishes within this many seconds,
    # else 202 with a status URL (Azure cuts HTTP answers off at 230 s).
    "ADHOC_SYNC_SECONDS": "200",
    # Evidence and approvals
    "EVIDENCE_RETENTION_DAYS": "365",
    "APPROVAL_WEBHOOK_URL": None,
    # The app's public https address, for the report link in approval mails (set by infra/)
    "PUBLIC_BASE_URL": None,
    # Set by App Service itself when its authentication (Easy Auth) is on: only then are the
    # X-MS-CLIENT-PRINCIPAL-* headers the platform's ("Environment variables and app settings
    # reference", learn.microsoft.com/azure/app-service/reference-app-settings)
    "WEBSITE_AUTH_ENABLED": "false",
    # Object id of the Entra group whose members read the approvers' reports: the platform's
    # sign-in passes the group claim (site-auth.bicep, entra.bicep), the route checks it.
    "APPROVER_GROUP_ID": None,
    # Remediation caller check (bearer token of the Logic App's managed identity)
    "AUTH_TENANT_ID": None,
    "AUTH_AUDIENCE": None,
    "AUTH_ISSUER": None,
    "AUTH_JWKS_URL": None,
    "REMEDIATION_ALLOWED_CALLERS": "",
    # Where sign-ins are read from (shared/sources): Graph, the diagnostic-settings archive in a
    # storage account, or a Log Analytics workspace. The archive and workspace are read with the
    # reader identity (GRAPH_CREDENTIAL / GRAPH_READER_CLIENT_ID).
    "SIGNIN_SOURCE": "graph",
    "ARCHIVE_ACCOUNT_URL": None,  # https://<account>.blob.core.windows.net
    "ARCHIVE_CONNECTION_STRING": None,  # local (Azurite) only
    "ARCHIVE_TENANT_ID": None,  # the tenantId=<id> folder of the archive
    "ARCHIVE_CONTAINERS": "insights-logs-signinlogs,insights-logs-noninteractiveusersigninlogs",
    "ARCHIVE_PARALLEL_BLOBS": "16",
    "ARCHIVE_DELIVERY_LAG_MINUTES": "120",
    "LOG_ANALYTICS_WORKSPACE_ID": None,
    "LOG_ANALYTICS_ENDPOINT": "https://api.loganalytics.io",
    "LOG_ANALYTICS_QUERY_HOURS": "6",
    "LOG_ANALYTICS_SERVER_TIMEOUT_SECONDS": "180",
}

SIGNIN_SOURCES = ("graph", "archive", "log-analytics")

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    storage_connection_string: str | None
    blob_service_uri: str | None
    queue_service_uri: str | None
    table_service_uri: str | None
    storage_client_id: str | None
    storage_name_prefix: str = ""

    graph_base_url: str
    graph_api_version: Literal["v1.0", "beta"]
    graph_credential: CredentialKind
    graph_reader_client_id: str | None
    graph_remediator_client_id: str | None
    graph_local_token: str | None
    graph_local_remediator_token: str | None = None
    graph_signin_requests: int
    graph_signin_period_s: float
    graph_risk_requests_per_s: float
    graph_page_size: int
    graph_retry_budget: int
    privileged_role_ids: tuple[str, ...]
    remediator_directory_roles: tuple[str, ...] = ("User Administrator",)
    graph_read_timeout_s: float = 330.0
    signin_settle_minutes: int = 15

    review_schedule: str
    privileged_review_schedule: str
    time_zone: str
    business_start: time
    business_end: time
    business_days: tuple[int, ...]  # 0 = Monday
    holidays: tuple[date, ...]
    review_weekday_nights: bool
    slice_hours: int
    scoring_batch_users: int
    adhoc_sync_seconds: float = 200.0

    evidence_retention_days: int
    approval_webhook_url: str | None
    public_base_url: str | None = None
    platform_auth_enabled: bool = False
    approver_group_id: str | None = None

    auth_tenant_id: str | None
    auth_audience: str | None
    auth_issuer: str | None
    auth_jwks_url: str | None
    remediation_allowed_callers: frozenset[str]

    signin_source: str = "graph"
    archive_account_url: str | None = None
    archive_connection_string: str | None = None
    archive_tenant_id: str | None = None
    archive_containers: tuple[str, ...] = ()
    archive_parallel_blobs: int = 16
    archive_delivery_lag_minutes: int = 120
    log_analytics_workspace_id: str | None = None
    log_analytics_endpoint: str = "https://api.loganalytics.io"
    log_analytics_query_hours: int = 6
    log_analytics_server_timeout_s: int = 180

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


def _int(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _float(name: str, raw: str, low: float, high: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    if raw not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _list(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _business_hours(raw: str) -> tuple[time, time]:
    try:
        start_s, end_s = raw.split("-")
        start, end = time.fromisoformat(start_s.strip()), time.fromisoformat(end_s.strip())
    except ValueError:
        raise ConfigError(f"BUSINESS_HOURS must look like 08:00-18:00, got {raw!r}") from None
    if start >= end:
        raise ConfigError(f"BUSINESS_HOURS must start before it ends, got {raw!r}")
    return start, end


def _business_days(raw: str) -> tuple[int, ...]:
    days = []
    for part in _list(raw):
        if part[:3].title() not in _DAYS:
            raise ConfigError(f"BUSINESS_DAYS has an unknown day {part!r} (use Mon..Sun)")
        days.append(_DAYS.index(part[:3].title()))
    if not days:
        raise ConfigError("BUSINESS_DAYS must name at least one day")
    return tuple(sorted(set(days)))


def _public_base_url(raw: str | None) -> str | None:
    """An absolute https address (http only on loopback), without a path."""
    if raw is None:
        return None
    parts = urlsplit(raw)
    loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")
    if not (parts.scheme == "https" or loopback) or not parts.hostname or parts.path.strip("/"):
        raise ConfigError(f"PUBLIC_BASE_URL must be an https address without a path, got {raw!r}")
    return raw.rstrip("/")


def _holidays(raw: str) -> tuple[date, ...]:
    try:
        return tuple(sorted(date.fromisoformat(part) for part in _list(raw)))
    except ValueError:
        raise ConfigError(f"HOLIDAYS must be ISO dates separated by commas, got {raw!r}") from None


def _zone(raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"TENANT_TIME_ZONE is not a known IANA time zone: {raw!r}") from None
    return raw


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting; raises ConfigError naming the first bad one."""
    source = os.environ if env is None else env

    def get(name: str) -> str:
        value = source.get(name)
        if value is None or value == "":
            return DEFAULTS[name] or ""
        return value

    def optional(name: str) -> str | None:
        return get(name) or None

    start, end = _business_hours(get("BUSINESS_HOURS"))
    credential = _choice(
        "GRAPH_CREDENTIAL", get("GRAPH_CREDENTIAL"), ("managed-identity", "default", "local")
    )
    if credential == "local" and not get("GRAPH_LOCAL_TOKEN"):
        raise ConfigError("GRAPH_CREDENTIAL=local needs GRAPH_LOCAL_TOKEN")
    return Settings(
        storage_connection_string=optional("AzureWebJobsStorage"),
        blob_service_uri=optional("AzureWebJobsStorage__blobServiceUri"),
        queue_service_uri=optional("AzureWebJobsStorage__queueServiceUri"),
        table_service_uri=optional("AzureWebJobsStorage__tableServiceUri"),
        storage_client_id=optional("AzureWebJobsStorage__clientId"),
        storage_name_prefix=get("STORAGE_NAME_PREFIX").strip(),
        graph_base_url=get("GRAPH_BASE_URL").rstrip("/"),
        graph_api_version=_choice(  # type: ignore[arg-type]
            "GRAPH_API_VERSION", get("GRAPH_API_VERSION"), ("v1.0", "beta")
        ),
        graph_credential=credential,  # type: ignore[arg-type]
        graph_reader_client_id=optional("GRAPH_READER_CLIENT_ID"),
        graph_remediator_client_id=optional("GRAPH_REMEDIATOR_CLIENT_ID"),
        graph_local_token=optional("GRAPH_LOCAL_TOKEN"),
        graph_local_remediator_token=optional("GRAPH_LOCAL_REMEDIATOR_TOKEN"),
        graph_signin_requests=_int("GRAPH_SIGNIN_REQUESTS", get("GRAPH_SIGNIN_REQUESTS"), 1, 100),
        graph_signin_period_s=_float(
            "GRAPH_SIGNIN_PERIOD_SECONDS", get("GRAPH_SIGNIN_PERIOD_SECONDS"), 0.01, 600
        ),
        graph_risk_requests_per_s=_float(
            "GRAPH_RISK_REQUESTS_PER_SECOND", get("GRAPH_RISK_REQUESTS_PER_SECOND"), 0.01, 1000
        ),
        graph_page_size=_int("GRAPH_PAGE_SIZE", get("GRAPH_PAGE_SIZE"), 1, 1000),
        graph_retry_budget=_int("GRAPH_RETRY_BUDGET", get("GRAPH_RETRY_BUDGET"), 0, 100),
        privileged_role_ids=tuple(_list(get("PRIVILEGED_ROLE_IDS"))),
        remediator_directory_roles=tuple(
            r for r in _list(get("REMEDIATOR_DIRECTORY_ROLES")) if r.lower() != "none"),
        review_schedule=get("REVIEW_SCHEDULE"),
        privileged_review_schedule=get("PRIVILEGED_REVIEW_SCHEDULE"),
        time_zone=_zone(get("TENANT_TIME_ZONE")),
        business_start=start,
        business_end=end,
        business_days=_business_days(get("BUSINESS_DAYS")),
        holidays=_holidays(get("HOLIDAYS")),
        review_weekday_nights=_bool("REVIEW_WEEKDAY_NIGHTS", get("REVIEW_WEEKDAY_NIGHTS")),
        slice_hours=_int("SLICE_HOURS", get("SLICE_HOURS"), 1, 168),
        scoring_batch_users=_int("SCORING_BATCH_USERS", get("SCORING_BATCH_USERS"), 1, 5000),
        adhoc_sync_seconds=_float("ADHOC_SYNC_SECONDS", get("ADHOC_SYNC_SECONDS"), 0.01, 220),
        evidence_retention_days=_int(
            "EVIDENCE_RETENTION_DAYS", get("EVIDENCE_RETENTION_DAYS"), 1, 36500
        ),
        approval_webhook_url=optional("APPROVAL_WEBHOOK_URL"),
        public_base_url=_public_base_url(optional("PUBLIC_BASE_URL")),
        platform_auth_enabled=_bool("WEBSITE_AUTH_ENABLED", get("WEBSITE_AUTH_ENABLED")),
        approver_group_id=(optional("APPROVER_GROUP_ID") or "").lower() or None,
        auth_tenant_id=optional("AUTH_TENANT_ID"),
        auth_audience=optional("AUTH_AUDIENCE"),
        auth_issuer=optional("AUTH_ISSUER"),
        auth_jwks_url=optional("AUTH_JWKS_URL"),
        remediation_allowed_callers=frozenset(
            c.lower() for c in _list(get("REMEDIATION_ALLOWED_CALLERS"))
        ),
        **_source_settings(get, optional),
        **_graph_timing(get),
    )


def _graph_timing(get: Callable[[str], str]) -> dict[str, Any]:
    """How long a Graph read may wait for an answer, and how long sign-ins take to settle."""
    return {
        "graph_read_timeout_s": _float(
            "GRAPH_READ_TIMEOUT_SECONDS", get("GRAPH_READ_TIMEOUT_SECONDS"), 0.01, 900),
        "signin_settle_minutes": _int(
            "SIGNIN_SETTLE_MINUTES", get("SIGNIN_SETTLE_MINUTES"), 0, 24 * 60),
    }


def _source_settings(get: Callable[[str], str], optional: Callable[[str], str | None]
                     ) -> dict[str, Any]:
    """The sign-in source and what it needs: an archive account and tenant id, or a workspace."""
    source = _choice("SIGNIN_SOURCE", get("SIGNIN_SOURCE"), SIGNIN_SOURCES)
    account = optional("ARCHIVE_ACCOUNT_URL")
    connection = optional("ARCHIVE_CONNECTION_STRING")
    tenant = optional("ARCHIVE_TENANT_ID")
    workspace = optional("LOG_ANALYTICS_WORKSPACE_ID")
    if source == "archive" and (not (account or connection) or not tenant):
        raise ConfigError("SIGNIN_SOURCE=archive needs ARCHIVE_ACCOUNT_URL (or, locally, "
                          "ARCHIVE_CONNECTION_STRING) and ARCHIVE_TENANT_ID")
    if source == "log-analytics" and not workspace:
        raise ConfigError("SIGNIN_SOURCE=log-analytics needs LOG_ANALYTICS_WORKSPACE_ID")
    containers = tuple(_list(get("ARCHIVE_CONTAINERS")))
    if not containers:
        raise ConfigError("ARCHIVE_CONTAINERS must name at least one container")
    return {
        "signin_source": source,
        "archive_account_url": account.rstrip("/") if account else None,
        "archive_connection_string": connection,
        "archive_tenant_id": tenant,
        "archive_containers": containers,
        "archive_parallel_blobs": _int("ARCHIVE_PARALLEL_BLOBS", get("ARCHIVE_PARALLEL_BLOBS"),
                                       1, 256),
        "archive_delivery_lag_minutes": _int(
            "ARCHIVE_DELIVERY_LAG_MINUTES", get("ARCHIVE_DELIVERY_LAG_MINUTES"), 0, 7 * 24 * 60),
        "log_analytics_workspace_id": workspace,
        "log_analytics_endpoint": get("LOG_ANALYTICS_ENDPOINT").rstrip("/"),
        "log_analytics_query_hours": _int(
            "LOG_ANALYTICS_QUERY_HOURS", get("LOG_ANALYTICS_QUERY_HOURS"), 1, 168),
        "log_analytics_server_timeout_s": _int(
            "LOG_ANALYTICS_SERVER_TIMEOUT_SECONDS", get("LOG_ANALYTICS_SERVER_TIMEOUT_SECONDS"),
            1, 600),
    }
