"""Sign-ins from the diagnostic-settings archive: Entra ID logs that a tenant streams to a storage
account.

Layout (Microsoft Learn, "Archive Microsoft Entra activity logs to a storage account",
https://learn.microsoft.com/entra/identity/monitoring-health/howto-archive-logs-to-storage-account,
and "Azure Monitor resource logs: send to Azure Storage",
https://learn.microsoft.com/azure/azure-monitor/essentials/resource-logs#send-to-azure-storage):
one container per log category (`insights-logs-signinlogs`,
`insights-logs-noninteractiveusersigninlogs`), one append blob per hour,
`tenantId=<tenant id>/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json`, holding one Azure Monitor record
per line (JSON lines), decoded by the Azure Monitor importer.

A page is one hour blob of one category, read whole and stored as it is in evidence; its cursor is
the index of the next (hour, category) in the slice's plan. Several blobs of a slice are read at
once (ARCHIVE_PARALLEL_BLOBS) and handed on in plan order, so a cursor always means "everything
before it is stored". A blob that does not exist is a gap, never a quiet hour: diagnostic settings
write no blob for an hour without records, but neither do they for an hour whose delivery failed,
and the two cannot be told apart from the archive. An hour that ended less than
ARCHIVE_DELIVERY_LAG_MINUTES before the run is read, and named as possibly incomplete (records
arrive in the hour blob after the hour ends).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from shared.config import Settings
from shared.errors import ConfigError, SigninReviewError
from shared.imports.azure_monitor import sign_in_from_record
from shared.imports.records import SIGN_IN_EVENT_TYPES, settle
from shared.model import DataSource, SignIn, Window
from shared.services import Services
from shared.sources import Decoded, Gap, SourcePage, decode_each, in_window, of_user
from shared.store.retry import storage_errors

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient

HOUR = timedelta(hours=1)
CATEGORIES = {  # container -> the log category its records carry
    "insights-logs-signinlogs": "SignInLogs",
    "insights-logs-noninteractiveusersigninlogs": "NonInteractiveUserSignInLogs",
}
NON_INTERACTIVE = "nonInteractiveUser"
_decode_line = msgspec.json.Decoder(dict[str, Any]).decode


class ArchiveError(SigninReviewError):
    """The archive could not be read (storage answered with an error other than 'no blob')."""


@dataclass(frozen=True, slots=True)
class HourBlob:
    """One (hour, container) of a slice's plan."""

    hour: datetime
    container: str
    tenant_id: str

    @property
    def name(self) -> str:
        h = self.hour
        return (f"tenantId={self.tenant_id}/y={h:%Y}/m={h:%m}/d={h:%d}/h={h:%H}/m=00/"
                "PT1H.json")

    @property
    def label(self) -> str:
        category = CATEGORIES.get(self.container, self.container)
        return f"{category} {self.hour:%Y-%m-%d %H}:00 UTC"


def hour_plan(window: Window, tenant_id: str, containers: Iterable[str]) -> list[HourBlob]:
    """Every hour blob that can hold sign-ins of the window, hour by hour, in container order."""
    first = window.start.replace(minute=0, second=0, microsecond=0)
    plan: list[HourBlob] = []
    hour = first
    while hour <= window.end:
        plan.extend(HourBlob(hour, container, tenant_id) for container in containers)
        hour += HOUR
    return plan


class _Record(msgspec.Struct, gc=False):
    """The fast path: an Azure Monitor sign-in record whose `properties` are Graph's signIn."""

    category: str
    properties: SignIn


_decode_record = msgspec.json.Decoder(_Record).decode
_decode_record_lines = msgspec.json.Decoder(_Record).decode_lines


def decode_hour(body: bytes, window: Window, user: str | None = None) -> Decoded:
    """An hour blob's records -> sign-ins (in the window, of the user); lines that cannot be
    read are counted and set aside with the first reason, never dropped silently.

    Records whose properties are Graph-shaped decode straight into `SignIn`, the whole blob in
    one call over its lines (the fast path); when a line does not fit, each line is read on its
    own and those that do not fit go through the Azure Monitor importer, which knows what
    exports do to records. Whether a sign-in is interactive follows the record's category."""
    try:
        records = _decode_record_lines(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        lines = [line for line in body.splitlines() if line.strip()]
        return decode_each(lines, _sign_in, window, user, "record")
    rows = [_typed(r.properties, r.category) for r in records]
    return Decoded([s for s in rows if in_window(s, window) and of_user(s, user)])


def _sign_in(line: bytes, n: int) -> SignIn:
    try:
        record = _decode_record(line)
    except (msgspec.DecodeError, msgspec.ValidationError):
        sign_in = sign_in_from_record(_decode_line(line), f"record-{n + 1}")
        return _typed(sign_in, _category_of(sign_in))
    return _typed(record.properties, record.category)


def _typed(sign_in: SignIn, category: str) -> SignIn:
    """The sign-in with its category's event type and interactivity, and a zone on its time."""
    if sign_in.created_date_time.tzinfo is None:
        sign_in = settle(sign_in)
    event_type = SIGN_IN_EVENT_TYPES.get(category.lower())
    interactive = event_type != NON_INTERACTIVE
    if sign_in.is_interactive is not interactive or not sign_in.sign_in_event_types:
        sign_in = msgspec.structs.replace(
            sign_in, is_interactive=interactive,
            sign_in_event_types=sign_in.sign_in_event_types or ((event_type,) if event_type
                                                                else None))
    return sign_in


def _category_of(sign_in: SignIn) -> str:
    types = sign_in.sign_in_event_types or ()
    return "NonInteractiveUserSignInLogs" if NON_INTERACTIVE in types else "SignInLogs"


@dataclass(frozen=True, slots=True)
class BlobRead:
    """One hour blob as read: its bytes (None: no such blob), their SHA-256 (hashed while they
    streamed in), where they came from, and its sign-ins (decoded by the reading thread)."""

    blob: HourBlob
    body: bytes | None
    origin: str
    sha256: str | None = None
    decoded: Decoded = field(default_factory=lambda: Decoded([]))


class ArchiveSource:
    name = "archive"

    def __init__(self, settings: Settings, service: BlobServiceClient,
                 clock: Callable[[], datetime]) -> None:
        if not settings.archive_tenant_id:
            raise ConfigError("the archive source needs ARCHIVE_TENANT_ID")
        self._settings = settings
        self._service = service
        self._clock = clock
        self._tenant_id = settings.archive_tenant_id

    def describe(self) -> DataSource:
        where = self._service.account_name or "the configured storage account"
        return DataSource(
            name="signIns", available=True,
            detail=(f"diagnostic-settings archive in storage account {where} "
                    f"({', '.join(self._settings.archive_containers)}): interactive and "
                    "non-interactive sign-ins"))

    async def pages(self, window: Window, *, user: str | None = None,
                    resume_from: str | None = None) -> AsyncGenerator[SourcePage, None]:
        plan = hour_plan(window, self._tenant_id, self._settings.archive_containers)
        start = _cursor(resume_from, len(plan))
        now = self._clock()
        lag = timedelta(minutes=self._settings.archive_delivery_lag_minutes)
        for index, read in enumerate(self._read_all(plan[start:], window, user), start=start):
            cursor = str(index + 1) if index + 1 < len(plan) else None
            blob = read.blob
            gaps: list[Gap] = []
            if read.body is None:
                gaps.append(Gap("missing", blob.label, f"no blob {blob.container}/{blob.name}"))
                yield SourcePage(None, [], cursor, read.origin, tuple(gaps))
                continue
            if blob.hour + HOUR + lag > now:
                gaps.append(Gap("incomplete", blob.label,
                                f"read at {now:%Y-%m-%d %H:%M} UTC, within the "
                                f"{lag.total_seconds() / 60:.0f}-minute delivery lag"))
            decoded = read.decoded
            if decoded.unreadable:
                gaps.append(Gap("unreadable", blob.label,
                                f"{decoded.unreadable} record(s) set aside; first: "
                                f"{decoded.first_problem}"))
            yield SourcePage(read.body, decoded.sign_ins, cursor, read.origin, tuple(gaps),
                             read.sha256)

    def stored(self, body: bytes, fetched: SourcePage, window: Window) -> SourcePage:
        # The blob grew between two attempts (late records): the first copy is the evidence.
        rows = decode_hour(body, window).sign_ins
        return SourcePage(body, rows, fetched.cursor, fetched.origin, fetched.gaps)

    def rows(self, body: bytes, window: Window) -> list[SignIn]:
        # Evidence keeps the whole hour; the slice keeps the rows of its window.
        return decode_hour(body, window).sign_ins

    def _read_all(self, plan: list[HourBlob], window: Window, user: str | None
                  ) -> Iterator[BlobRead]:
        """Read and decode the plan's blobs, several at a time, yielding them in plan order.

        Each reading thread streams its blob, hashes the chunks as they arrive and decodes the
        records, so the caller's thread only stores pages while the next ones are read."""
        width = self._settings.archive_parallel_blobs
        with ThreadPoolExecutor(max_workers=width, thread_name_prefix="archive") as pool:
            pending: deque[Future[BlobRead]] = deque()
            queue = iter(plan)
            for blob in queue:
                pending.append(pool.submit(self._read, blob, window, user))
                if len(pending) >= width:
                    break
            while pending:
                read = pending.popleft().result()
                nxt = next(queue, None)
                if nxt is not None:
                    pending.append(pool.submit(self._read, nxt, window, user))
                yield read

    def _read(self, blob: HourBlob, window: Window, user: str | None) -> BlobRead:
        from azure.core.exceptions import ResourceNotFoundError

        client = self._service.get_blob_client(blob.container, blob.name)
        with storage_errors(f"reading archive blob {blob.container}/{blob.name}"):
            try:
                download = client.download_blob()
            except ResourceNotFoundError:
                return BlobRead(blob, None, f"{blob.container}/{blob.name}")
            digest = hashlib.sha256()
            chunks = []
            for chunk in download.chunks():
                digest.update(chunk)
                chunks.append(chunk)
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        props = download.properties
        version = f" version={props.version_id}" if props.version_id else ""
        origin = (f"{blob.container}/{blob.name} etag={props.etag}{version} "
                  f"lastModified={props.last_modified:%Y-%m-%dT%H:%M:%SZ}")
        return BlobRead(blob, body, origin, digest.hexdigest(), decode_hour(body, window, user))


def _cursor(resume_from: str | None, total: int) -> int:
    if resume_from is None:
        return 0
    if not resume_from.isdigit() or int(resume_from) > total:
        raise ArchiveError(f"an archive cursor must be a blob index up to {total}, "
                           f"got {resume_from[:40]!r}")
    return int(resume_from)


def blob_service(settings: Settings) -> BlobServiceClient:
    """The archive's blob client under the reader identity (a connection string locally)."""
    from azure.storage.blob import BlobServiceClient

    if settings.archive_connection_string:
        return BlobServiceClient.from_connection_string(settings.archive_connection_string)
    if not settings.archive_account_url:
        raise ConfigError("the archive source needs ARCHIVE_ACCOUNT_URL")
    return BlobServiceClient(settings.archive_account_url, credential=reader_credential(settings))


def reader_credential(settings: Settings) -> Any:
    """The reader identity as a synchronous Azure credential (what the storage and Monitor
    query clients take): the managed identity in Azure, the developer's login elsewhere."""
    if settings.graph_credential == "managed-identity":
        from azure.identity import ManagedIdentityCredential

        return ManagedIdentityCredential(client_id=settings.graph_reader_client_id)
    if settings.graph_credential == "default":
        from azure.identity import DefaultAzureCredential

        return DefaultAzureCredential()
    raise ConfigError("GRAPH_CREDENTIAL=local reads the archive through "
                      "ARCHIVE_CONNECTION_STRING (Azurite) only")


def connect(services: Services) -> ArchiveSource:
    return ArchiveSource(services.settings, blob_service(services.settings), services.clock)
