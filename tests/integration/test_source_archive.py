"""The archive source against Azurite: hour blobs in the diagnostic-settings layout, read in
parallel and in order, with missing, late and unreadable hours reported, never read as quiet."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from local.archive import CONTAINERS, monitor_record, write_archive
from shared import config
from shared.model import Window
from shared.services import Services
from shared.sources import SourcePage, open_source
from shared.sources.archive import ArchiveError, HourBlob, hour_plan

START = datetime(2025, 3, 15, 0, 0, tzinfo=UTC)
WINDOW = Window(start=START, end=START + timedelta(hours=4) - timedelta(microseconds=1))


def sign_in(n: int, minute: int, *, interactive: bool = True, user: str = "u1") -> dict[str, Any]:
    return {"id": f"s{n}", "createdDateTime": (START + timedelta(minutes=minute)).isoformat(),
            "userId": user, "userPrincipalName": f"{user}@contoso.com", "ipAddress": "203.0.113.9",
            "isInteractive": interactive, "status": {"errorCode": 0},
            "signInEventTypes": ["interactiveUser" if interactive else "nonInteractiveUser"]}


ROWS = [sign_in(1, 5), sign_in(2, 70, interactive=False), sign_in(3, 130), sign_in(4, 200),
        sign_in(5, 230, interactive=False, user="u2")]


def reader(storage: str, tenant_id: str, now: datetime, **extra: str) -> Any:
    settings = config.load({"SIGNIN_SOURCE": "archive", "ARCHIVE_CONNECTION_STRING": storage,
                            "ARCHIVE_TENANT_ID": tenant_id, **extra})
    return open_source(Services(settings, clock=lambda: now))


def read(source: Any, window: Window = WINDOW, **kwargs: Any) -> list[SourcePage]:
    async def collect() -> list[SourcePage]:
        return [page async for page in source.pages(window, **kwargs)]

    return asyncio.run(collect())


@pytest.fixture
def tenant_id() -> str:
    return str(uuid.uuid4())


def test_layout_is_the_documented_path() -> None:
    blob = HourBlob(datetime(2025, 3, 5, 7, tzinfo=UTC), CONTAINERS[0], "t1")
    assert blob.name == "tenantId=t1/y=2025/m=03/d=05/h=07/m=00/PT1H.json"
    plan = hour_plan(WINDOW, "t1", CONTAINERS)
    assert len(plan) == 8 and [b.container for b in plan[:2]] == list(CONTAINERS)


def test_reads_every_hour_in_order_with_category_deciding_interactive(
        storage_connection_string: str, tenant_id: str) -> None:
    lying = dict(ROWS[1], isInteractive=True)  # the category says non-interactive
    write_archive(storage_connection_string, [ROWS[0], lying, *ROWS[2:]], tenant_id=tenant_id,
                  until=WINDOW.end)
    pages = read(reader(storage_connection_string, tenant_id, WINDOW.end + timedelta(days=1),
                        ARCHIVE_PARALLEL_BLOBS="3"))
    assert [p.cursor for p in pages] == [str(n) for n in range(1, 8)] + [None]
    rows = [s for p in pages for s in p.sign_ins]
    assert [s.id for s in rows] == ["s1", "s2", "s3", "s4", "s5"]
    assert [s.is_interactive for s in rows] == [True, False, True, True, False]
    assert not [g for p in pages for g in p.gaps]
    assert all(p.body is not None and "etag=" in p.origin for p in pages)
    # hashed while streaming in: the page's SHA-256 is its bytes' own
    assert all(p.sha256 == hashlib.sha256(p.body or b"").hexdigest() for p in pages)


def test_missing_hour_is_a_gap_not_a_quiet_hour(storage_connection_string: str,
                                                tenant_id: str) -> None:
    gone = (CONTAINERS[0], START + timedelta(hours=2))  # holds s3
    write_archive(storage_connection_string, ROWS, tenant_id=tenant_id, until=WINDOW.end,
                  missing=[gone])
    pages = read(reader(storage_connection_string, tenant_id, WINDOW.end + timedelta(days=1)))
    gaps = [g for p in pages for g in p.gaps]
    assert [(g.kind, g.what) for g in gaps] == [("missing", "SignInLogs 2025-03-15 02:00 UTC")]
    assert "s3" not in {s.id for p in pages for s in p.sign_ins}
    assert sum(1 for p in pages if p.body is None) == 1


def test_hours_within_the_delivery_lag_are_read_and_named_incomplete(
        storage_connection_string: str, tenant_id: str) -> None:
    write_archive(storage_connection_string, ROWS, tenant_id=tenant_id, until=WINDOW.end)
    now = START + timedelta(hours=4, minutes=30)
    pages = read(reader(storage_connection_string, tenant_id, now,
                        ARCHIVE_DELIVERY_LAG_MINUTES="60"))
    late = sorted({g.what for p in pages for g in p.gaps if g.kind == "incomplete"})
    assert late == ["NonInteractiveUserSignInLogs 2025-03-15 03:00 UTC",
                    "SignInLogs 2025-03-15 03:00 UTC"]
    assert len([s for p in pages for s in p.sign_ins]) == 5  # read all the same


def test_unreadable_records_are_counted_and_set_aside(storage_connection_string: str,
                                                      tenant_id: str) -> None:
    from azure.storage.blob import BlobServiceClient

    write_archive(storage_connection_string, ROWS, tenant_id=tenant_id, until=WINDOW.end)
    blob = HourBlob(START, CONTAINERS[0], tenant_id)
    bad = msgspec.json.encode(monitor_record(dict(ROWS[0], id="s9", createdDateTime="never"),
                                             tenant_id, CONTAINERS[0]))
    with BlobServiceClient.from_connection_string(storage_connection_string) as service:
        client = service.get_blob_client(blob.container, blob.name)
        client.append_block(b"{not json\n" + bad + b"\n")
    pages = read(reader(storage_connection_string, tenant_id, WINDOW.end + timedelta(days=1)))
    (gap,) = [g for p in pages for g in p.gaps]
    assert gap.kind == "unreadable" and gap.detail.startswith("2 record(s) set aside")
    assert [s.id for s in pages[0].sign_ins] == ["s1"]


def test_resumes_from_a_cursor_and_filters_one_user(storage_connection_string: str,
                                                    tenant_id: str) -> None:
    write_archive(storage_connection_string, ROWS, tenant_id=tenant_id, until=WINDOW.end)
    source = reader(storage_connection_string, tenant_id, WINDOW.end + timedelta(days=1))
    pages = read(source, resume_from="4")
    assert [s.id for p in pages for s in p.sign_ins] == ["s3", "s4", "s5"]
    assert [s.id for p in read(source, user="U2@contoso.com") for s in p.sign_ins] == ["s5"]
    with pytest.raises(ArchiveError):
        read(source, resume_from="../x")
