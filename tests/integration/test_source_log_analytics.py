"""The Log Analytics source through the real azure-monitor-query client against the local query
API emulator: time-sliced queries, a partial answer read again in halves, 429 retried by the
SDK, a refused reader reported, and evidence that keeps the query, range and answer hash."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from local.log_analytics_emulator import LogAnalyticsEmulator
from local.tenant import Tenant
from shared import config
from shared.errors import SourceUnavailable
from shared.model import Window
from shared.services import Services
from shared.sources import SourcePage, open_source
from shared.sources.log_analytics import QueryEvidence, kql_string, query_text
from shared.store.evidence import sha256_hex


@pytest.fixture
def emulator(sample_tenant: Tenant) -> Iterator[LogAnalyticsEmulator]:
    with LogAnalyticsEmulator(token="la-test-token") as running:
        running.load(sample_tenant.sign_ins)
        yield running


def reader(emulator: LogAnalyticsEmulator, token: str | None = None, **extra: str) -> Any:
    settings = config.load({
        "SIGNIN_SOURCE": "log-analytics", "GRAPH_CREDENTIAL": "local",
        "GRAPH_LOCAL_TOKEN": token or emulator.token, "LOG_ANALYTICS_ENDPOINT": emulator.endpoint,
        "LOG_ANALYTICS_WORKSPACE_ID": emulator.workspace_id, **extra})
    return open_source(Services(settings))


def read(source: Any, window: Window, **kwargs: Any) -> list[SourcePage]:
    async def collect() -> list[SourcePage]:
        return [page async for page in source.pages(window, **kwargs)]

    return asyncio.run(collect())


def expected_ids(tenant: Tenant) -> set[str]:
    start, end = tenant.window.start, tenant.window.end
    return {str(r["id"]) for r in tenant.sign_ins
            if start <= _when(r) <= end}


def _when(row: dict[str, Any]) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(str(row["createdDateTime"]).replace("Z", "+00:00"))


def test_window_read_in_time_ranges_with_query_evidence(
        emulator: LogAnalyticsEmulator, sample_tenant: Tenant) -> None:
    source = reader(emulator)
    pages = read(source, sample_tenant.window)
    assert {s.id for p in pages for s in p.sign_ins} == expected_ids(sample_tenant)
    assert len(pages) == len(emulator.requests) == source.queries
    assert pages[-1].cursor is None and all(p.cursor for p in pages[:-1])
    first = msgspec.json.decode(pages[0].body or b"", type=QueryEvidence)
    assert first.start == sample_tenant.window.start
    assert first.query == emulator.requests[0]["query"]
    assert "SigninLogs" in first.query and "AADNonInteractiveUserSignInLogs" in first.query
    assert sha256_hex(bytes(first.response)) == first.response_sha256
    assert [s.id for s in source.rows(pages[0].body, sample_tenant.window)] == \
        [s.id for s in pages[0].sign_ins]
    interactive = {s.is_interactive for p in pages for s in p.sign_ins}
    assert interactive == {True, False}


def test_partial_answer_is_read_again_in_halves(emulator: LogAnalyticsEmulator,
                                                sample_tenant: Tenant) -> None:
    emulator.row_limit = 40  # the service's limit is ~500,000 rows; same behaviour past it
    source = reader(emulator)
    pages = read(source, sample_tenant.window)
    assert source.splits > 0
    assert {s.id for p in pages for s in p.sign_ins} == expected_ids(sample_tenant)
    for page in pages:  # only complete answers are kept as evidence
        stored = msgspec.json.decode(page.body or b"", type=QueryEvidence)
        assert b'"error"' not in bytes(stored.response)


def test_throttled_request_is_retried_by_the_sdk(emulator: LogAnalyticsEmulator,
                                                 sample_tenant: Tenant) -> None:
    emulator.throttle_requests = {1}
    source = reader(emulator)
    pages = read(source, sample_tenant.window)
    assert {s.id for p in pages for s in p.sign_ins} == expected_ids(sample_tenant)
    assert len(emulator.requests) == len(pages) + 1


def test_query_that_timed_out_is_asked_again(emulator: LogAnalyticsEmulator,
                                             sample_tenant: Tenant) -> None:
    emulator.timeout_requests = {2}  # the SDK retries a 504; a range that keeps timing out is
    source = reader(emulator)  # read again in halves (see _complete_answer)
    pages = read(source, sample_tenant.window)
    assert {s.id for p in pages for s in p.sign_ins} == expected_ids(sample_tenant)
    assert len(emulator.requests) == len(pages) + 1


def test_range_that_keeps_timing_out_is_read_in_halves(emulator: LogAnalyticsEmulator,
                                                       sample_tenant: Tenant) -> None:
    emulator.timeout_requests = {1, 2, 3, 4, 5}  # every try the SDK makes for the first range
    source = reader(emulator)
    pages = read(source, sample_tenant.window)
    assert source.splits == 1
    assert {s.id for p in pages for s in p.sign_ins} == expected_ids(sample_tenant)


def test_refused_reader_is_reported_not_retried(emulator: LogAnalyticsEmulator,
                                                sample_tenant: Tenant) -> None:
    with pytest.raises(SourceUnavailable, match="Log Analytics Reader"):
        read(reader(emulator, token="wrong-token"), sample_tenant.window)
    assert len(emulator.requests) == 1


def test_one_users_query_quotes_the_user(emulator: LogAnalyticsEmulator,
                                         sample_tenant: Tenant) -> None:
    user = next(str(r["userPrincipalName"]) for r in sample_tenant.sign_ins)
    pages = read(reader(emulator), sample_tenant.window, user=user)
    rows = [s for p in pages for s in p.sign_ins]
    assert rows and {s.user_principal_name for s in rows} == {user}
    assert kql_string('x" or 1==1 //') == '"x\\" or 1==1 //"'
    text = query_text(sample_tenant.window.start, sample_tenant.window.end, 'o"brien')
    assert 'UserId == "o\\"brien"' in text
