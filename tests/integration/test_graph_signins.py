"""The sign-in stream: the real msgraph-sdk client against the Graph emulator over HTTP."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from local.graph_emulator import GraphEmulator
from shared.config import load
from shared.errors import GraphError, GraphUnavailable, InputError
from shared.graph import (
    FetchedPage,
    GraphConnection,
    StaticTokenCredential,
    connect,
    sign_in_source,
    stream_sign_ins,
)
from shared.model import Window

END = datetime(2024, 5, 6, 6, 0, tzinfo=UTC)
WINDOW = Window(END - timedelta(days=2), END)
OBRIEN = "0b51e7d4-1c2a-4f3e-9d8c-7b6a5f4e3d21"
ALICE = "a11ce000-1c2a-4f3e-9d8c-7b6a5f4e3d21"


def sign_in(i: int, *, user_id: str = ALICE, upn: str = "alice@contoso.com",
            interactive: bool = True, at: datetime | None = None) -> dict[str, Any]:
    when = at or END - timedelta(seconds=10 * i + 1)
    return {
        "id": f"si-{i:07d}",
        "createdDateTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "userId": user_id,
        "userPrincipalName": upn,
        "appDisplayName": "Office 365 Exchange Online",
        "ipAddress": "203.0.113.7",
        "isInteractive": interactive,
        "signInEventTypes": ["interactiveUser" if interactive else "nonInteractiveUser"],
        "status": {"errorCode": 0},
        "location": {"city": "Lisbon", "countryOrRegion": "PT"},
        "autonomousSystemNumber": 3243,
    }


def connection(emulator: GraphEmulator, **env: str) -> GraphConnection:
    settings = load({
        "GRAPH_BASE_URL": emulator.base_url,
        "GRAPH_CREDENTIAL": "local",
        "GRAPH_LOCAL_TOKEN": emulator.token,
        "GRAPH_SIGNIN_REQUESTS": "100",
        "GRAPH_SIGNIN_PERIOD_SECONDS": "1",
        **env,
    })
    graph = connect(settings)
    graph.backoff_base_s = 0.01
    return graph


async def collect(graph: GraphConnection, **kwargs: Any) -> list[FetchedPage]:
    async with graph:
        return [page async for page in stream_sign_ins(graph, WINDOW, **kwargs)]


def ids(pages: list[FetchedPage]) -> list[str]:
    return [s.id for page in pages for s in page.sign_ins]


def test_pages_follow_next_link_to_the_end(graph: GraphEmulator) -> None:
    graph.load(sign_ins=[sign_in(i) for i in range(2345)])
    pages = asyncio.run(collect(connection(graph), page_size=200))
    assert [len(p.sign_ins) for p in pages] == [200] * 11 + [145]
    assert ids(pages) == [f"si-{i:07d}" for i in range(2345)]  # newest first, none twice
    assert pages[-1].next_link is None
    assert all(p.next_link == q.request_url for p, q in pairwise(pages))
    first = graph.calls[0]
    assert first["query"]["$filter"] == (
        "createdDateTime ge 2024-05-04T06:00:00Z and createdDateTime le 2024-05-06T06:00:00Z"
    )
    assert all(call["status"] == 200 for call in graph.calls)


def test_page_keeps_the_raw_bytes_graph_sent(graph: GraphEmulator) -> None:
    graph.load(sign_ins=[sign_in(i) for i in range(3)])
    (page,) = asyncio.run(collect(connection(graph)))
    assert page.body.startswith(b"{") and b'"@odata.context"' in page.body
    assert b"si-0000002" in page.body
    assert page.sign_ins[0].location is not None
    assert page.sign_ins[0].country == "PT"


def test_window_bounds_are_respected(graph: GraphEmulator) -> None:
    graph.load(sign_ins=[
        sign_in(1, at=WINDOW.end), sign_in(2, at=WINDOW.start),
        sign_in(3, at=WINDOW.end + timedelta(seconds=1)),
        sign_in(4, at=WINDOW.start - timedelta(seconds=1)),
    ])
    assert sorted(ids(asyncio.run(collect(connection(graph))))) == ["si-0000001", "si-0000002"]


def test_v1_is_interactive_only_beta_adds_non_interactive(graph: GraphEmulator) -> None:
    graph.load(sign_ins=[sign_in(i, interactive=i % 2 == 0) for i in range(10)])
    v1 = asyncio.run(collect(connection(graph)))
    beta = asyncio.run(collect(connection(graph, GRAPH_API_VERSION="beta")))
    assert ids(v1) == [f"si-{i:07d}" for i in range(0, 10, 2)]
    assert ids(beta) == [f"si-{i:07d}" for i in range(10)]
    assert beta[0].request_url.startswith(f"{graph.base_url}/beta/auditLogs/signIns")
    assert beta[0].sign_ins[0].autonomous_system_number == 3243  # a beta-only field
    assert v1[0].sign_ins[0].autonomous_system_number is None
    assert "interactive sign-ins only" in sign_in_source("v1.0").detail
    beta_source = sign_in_source("beta")
    assert "non-interactive" in beta_source.detail and beta_source.available


def test_one_user_by_upn_with_a_quote_and_by_id(graph: GraphEmulator) -> None:
    graph.load(sign_ins=[sign_in(i) for i in range(5)] + [
        sign_in(100 + i, user_id=OBRIEN, upn="o'brien@contoso.com") for i in range(3)
    ])
    by_upn = asyncio.run(collect(connection(graph), user="o'brien@contoso.com"))
    by_id = asyncio.run(collect(connection(graph), user=OBRIEN.upper()))
    expected = ["si-0000100", "si-0000101", "si-0000102"]
    assert ids(by_upn) == expected
    assert ids(by_id) == expected
    filters = [call["query"]["$filter"] for call in graph.calls]
    assert filters[0].endswith(" and userPrincipalName eq 'o''brien@contoso.com'")
    assert filters[1].endswith(f" and userId eq '{OBRIEN}'")


def test_injection_cannot_widen_the_query(graph: GraphEmulator) -> None:
    graph.load(sign_ins=[sign_in(i) for i in range(5)])
    with pytest.raises(InputError):
        asyncio.run(collect(connection(graph), user="x' or 1 eq 1"))
    # Shaped like a UPN, the rest of the injection stays inside one literal: nobody matches.
    pages = asyncio.run(collect(connection(graph), user="x'or'1'eq'1@contoso.com"))
    assert ids(pages) == []
    assert graph.calls[0]["query"]["$filter"].endswith(
        "userPrincipalName eq 'x''or''1''eq''1@contoso.com'"
    )


def test_throttled_with_retry_after_then_completes(graph: GraphEmulator) -> None:
    graph.load(sign_ins=[sign_in(i) for i in range(600)])
    # Pages 2 and 3 are refused once each, whatever the client's speed; the first with the
    # fractional Retry-After Microsoft's throttling guidance once showed (faults.py cites it).
    graph.configure(throttle_at={2: "2.128", 4: "1"})
    g = connection(graph)
    pages = asyncio.run(collect(g, page_size=100))
    assert len(ids(pages)) == 600
    assert g.stats.throttled == 2
    calls = graph.calls
    assert [call["status"] for call in calls] == [200, 429, 200, 429, 200, 200, 200, 200]
    # The retry came no sooner than asked: a lower bound holds on any machine.
    assert calls[2]["time"] - calls[1]["time"] >= 2.1
    assert calls[4]["time"] - calls[3]["time"] >= 0.95


def test_limiter_at_the_ceiling_meets_no_429(graph: GraphEmulator) -> None:
    # The real wall-clock throttle, paced at exactly its limit. A slow client meets it less,
    # never more, so only "no 429, and at most 3 requests per 0.3 s" is asserted. The limiter
    # counts a slot from the answer, which comes after the emulator counted the request.
    graph.load(sign_ins=[sign_in(i) for i in range(900)])
    graph.configure(signin_rate=(3, 0.3))
    g = connection(graph, GRAPH_SIGNIN_REQUESTS="3", GRAPH_SIGNIN_PERIOD_SECONDS="0.3")
    pages = asyncio.run(collect(g, page_size=100))
    assert len(ids(pages)) == 900
    assert g.stats.throttled == 0
    assert [call["status"] for call in graph.calls] == [200] * 9


def test_5xx_and_dropped_connections_mid_stream_are_retried(graph: GraphEmulator) -> None:
    graph.load(sign_ins=[sign_in(i) for i in range(500)])
    g = connection(graph)

    async def run() -> list[str]:
        seen: list[str] = []
        async with g:
            async for page in stream_sign_ins(g, WINDOW, page_size=100):
                seen += [s.id for s in page.sign_ins]
                if len(seen) == 200:
                    graph.configure(fail_next=[503, 500, 504])
                if len(seen) == 300:
                    graph.configure(drop_next=2)
        return seen

    seen = asyncio.run(run())
    assert seen == [f"si-{i:07d}" for i in range(500)]
    assert g.stats.retries == 5 and g.stats.dropped == 2
    statuses = [call["status"] for call in graph.calls]
    assert statuses == [200, 200, 503, 500, 504, 200, None, None, 200, 200]


def test_budget_spent_then_resume_from_last_next_link(graph: GraphEmulator) -> None:
    graph.load(sign_ins=[sign_in(i) for i in range(500)])
    first = connection(graph, GRAPH_RETRY_BUDGET="2")
    kept: list[FetchedPage] = []

    async def until_failure() -> None:
        async with first:
            async for page in stream_sign_ins(first, WINDOW, page_size=100):
                kept.append(page)
                if len(kept) == 3:
                    graph.configure(fail_next=[503, 503, 503])

    with pytest.raises(GraphError) as failure:
        asyncio.run(until_failure())
    assert "gave up after 3 attempts" in str(failure.value)
    assert not isinstance(failure.value, GraphUnavailable)
    resume_link = kept[-1].next_link
    assert resume_link
    rest = asyncio.run(collect(connection(graph), resume_from=resume_link))
    assert ids(kept) + ids(rest) == [f"si-{i:07d}" for i in range(500)]
    assert rest[0].request_url == resume_link


def test_resume_link_must_point_at_our_graph(graph: GraphEmulator) -> None:
    with pytest.raises(InputError):
        asyncio.run(collect(connection(graph),
                            resume_from="https://attacker.example/v1.0/auditLogs/signIns"))
    assert graph.calls == []


def test_403_without_premium_says_licence(graph: GraphEmulator) -> None:
    graph.configure(premium=False)
    with pytest.raises(GraphUnavailable) as refused:
        asyncio.run(collect(connection(graph)))
    assert refused.value.status == 403
    assert refused.value.code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
    assert refused.value.reason == "licence"
    # Asked twice more first: Graph also sends this 403 by mistake to tenants holding P1
    assert len(graph.calls) == 3
    source = sign_in_source("v1.0", refused.value)
    assert not source.available and source.detail.startswith("unavailable: licence")


def test_403_without_permission_says_permission(graph: GraphEmulator) -> None:
    graph.configure(forbidden_paths=["auditLogs/signIns"])
    with pytest.raises(GraphUnavailable) as refused:
        asyncio.run(collect(connection(graph)))
    assert refused.value.reason == "permission"


def test_local_credential_is_a_static_token(graph: GraphEmulator) -> None:
    g = connection(graph)
    assert isinstance(g.credential, StaticTokenCredential)
    token = asyncio.run(g.credential.get_token("https://graph.microsoft.com/.default"))
    assert token.token == graph.token
    assert g.base_url == f"{graph.base_url}/v1.0"


def test_wrong_token_is_refused_not_retried(graph: GraphEmulator) -> None:
    with pytest.raises(GraphUnavailable) as refused:
        asyncio.run(collect(connection(graph, GRAPH_LOCAL_TOKEN="not-the-token")))
    assert refused.value.status == 401
    assert len(graph.calls) == 1
