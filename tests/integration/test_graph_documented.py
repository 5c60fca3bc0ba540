"""Graph as its documentation and public threads describe it (REFERENCE.md, "What real tenants
do"), through the real msgraph-sdk client against the emulator's switches (sources cited in
local/graph_emulator/tenancy.py and faults.py): read timeouts on slow windows, riskDetections'
page size, Conditional Access's rate, empty pages that link to themselves, pages served twice,
and nextLinks to another origin."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from local.graph_emulator import GraphEmulator
from shared.errors import GraphError, InputError
from shared.graph import risk_detections, stream_sign_ins, trusted_networks
from shared.graph.signins import WindowTooSlow, check_resume_link
from shared.model import Window
from tests.integration.test_graph_signins import WINDOW, collect, connection, ids, sign_in
from tests.integration.test_graph_tenancy import in_run

# --- a slow window that gets no answer ------------------------------------------------------


def test_a_window_graph_never_answers_is_split_like_a_504(graph: GraphEmulator) -> None:
    """msgraph-sdk-powershell #3146: a slow filtered signIns query more often gets no answer
    within ~300 s than a 504. The emulator holds the answer; the client's read times out
    (GRAPH_READ_TIMEOUT_SECONDS, 3 s here: far longer than the emulator takes to answer the
    half on a busy machine) and asks for a shorter window at once instead of 9 times."""
    graph.load(sign_ins=[sign_in(i) for i in range(10)])
    graph.configure(slow_query_hours=24, silent_slow_query=True)

    async def stream(window: Window) -> list[str]:
        async with connection(graph, GRAPH_READ_TIMEOUT_SECONDS="3") as conn:
            return [s.id async for p in stream_sign_ins(conn, window, split_on_timeout=True)
                    for s in p.sign_ins]

    with pytest.raises(WindowTooSlow) as caught:
        asyncio.run(stream(WINDOW))  # 48 hours: held, timed out once, not retried
    assert caught.value.code == "ReadTimeout"
    assert [c["status"] for c in graph.calls] == [None]  # asked once, never answered
    half = Window(WINDOW.end - timedelta(hours=24), WINDOW.end)
    assert len(asyncio.run(stream(half))) == 10


def test_without_splitting_a_read_timeout_is_retried_like_a_lost_connection(
        graph: GraphEmulator) -> None:
    """A stream that cannot split (a resumed slice, a one-user review) asks again within its
    retry budget, then fails with GraphError."""
    graph.load(sign_ins=[sign_in(i) for i in range(30)])
    graph.configure(slow_query_hours=24, silent_slow_query=True)
    with pytest.raises(GraphError) as caught:
        asyncio.run(collect(connection(graph, GRAPH_READ_TIMEOUT_SECONDS="0.5",
                                       GRAPH_RETRY_BUDGET="1")))
    assert not isinstance(caught.value, WindowTooSlow)
    assert [c["status"] for c in graph.calls] == [None, None]


# --- riskDetections: pages of 500 -----------------------------------------------------------


def detection(i: int) -> dict[str, Any]:
    at = (WINDOW.end - timedelta(minutes=i + 1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"id": f"rd-{i:05d}", "userId": "a11ce000-1c2a-4f3e-9d8c-7b6a5f4e3d21",
            "userPrincipalName": "alice@contoso.com", "riskEventType": "unfamiliarFeatures",
            "riskLevel": "medium", "riskState": "atRisk", "activityDateTime": at,
            "detectedDateTime": at, "ipAddress": "203.0.113.9"}


def test_risk_detections_are_read_500_a_page(graph: GraphEmulator) -> None:
    """riskdetection-list: default page 20, $top at most 500. Unasked, 1,100 detections would
    take 55 requests at Identity Protection's 1 per second; asked for 500, three."""
    graph.load(risk_detections=[detection(i) for i in range(1100)])
    found = in_run(lambda g: risk_detections(g, WINDOW), graph,
                   GRAPH_RISK_REQUESTS_PER_SECOND="1000")
    assert len(found.value) == 1100
    assert len(graph.calls) == 3
    assert all(c["query"].get("$top") == "500" for c in graph.calls[:1])


def test_the_emulator_pages_risk_detections_by_20_unasked(graph: GraphEmulator) -> None:
    import httpx

    graph.load(risk_detections=[detection(i) for i in range(25)])
    answer = httpx.get(f"{graph.base_url}/v1.0/identityProtection/riskDetections",
                       headers={"Authorization": f"Bearer {graph.token}"}).json()
    assert len(answer["value"]) == 20 and "@odata.nextLink" in answer
    refused = httpx.get(f"{graph.base_url}/v1.0/identityProtection/riskDetections?$top=501",
                        headers={"Authorization": f"Bearer {graph.token}"})
    assert refused.status_code == 400


# --- namedLocations: Identity Protection and CA's 1 request per second ----------------------


def named_location(i: int) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.ipNamedLocation", "id": f"nl-{i:03d}",
            "displayName": f"Office {i}", "isTrusted": True,
            "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange",
                          "cidrAddress": f"198.51.{i}.0/24"}]}


def test_named_locations_are_paced_with_identity_protection(graph: GraphEmulator) -> None:
    """Conditional Access counts against the "Identity protection and conditional access"
    limit, whose 429s may carry no Retry-After. Named locations and risk detections read back
    to back through the same limiter meet no 429, on any machine (each request waits a period
    after the previous answer), at the real rate: two requests, one second."""
    graph.load(named_locations=[named_location(i) for i in range(12)],
               risk_detections=[detection(i) for i in range(3)])
    graph.configure(risk_rate=(1, 1.0))

    async def both(g: Any) -> tuple[Any, Any]:
        return await trusted_networks(g), await risk_detections(g, WINDOW)

    locations, detections = in_run(both, graph, GRAPH_RISK_REQUESTS_PER_SECOND="1")
    assert len(locations.value.ranges) == 12 and len(detections.value) == 3
    assert [c["status"] for c in graph.calls] == [200, 200]
    assert "conditionalAccess/namedLocations" in graph.calls[0]["path"]


def test_the_emulator_throttles_named_locations_without_retry_after(graph: GraphEmulator) -> None:
    import httpx

    graph.load(named_locations=[named_location(1)])
    graph.configure(risk_rate=(1, 60.0))
    url = f"{graph.base_url}/v1.0/identity/conditionalAccess/namedLocations"
    auth = {"Authorization": f"Bearer {graph.token}"}
    assert httpx.get(url, headers=auth).status_code == 200
    second = httpx.get(url, headers=auth)
    assert second.status_code == 429 and "Retry-After" not in second.headers


# --- pages: empty ones that link to themselves, pages served twice --------------------------


def test_an_empty_page_linking_to_itself_stops_with_an_error(graph: GraphEmulator) -> None:
    graph.load(sign_ins=[sign_in(i) for i in range(30)])
    graph.configure(empty_page_loop=True)
    with pytest.raises(GraphError, match="page already read"):
        asyncio.run(collect(connection(graph), page_size=10))
    assert len(graph.calls) == 2  # the first page, then the empty one: no third request


def test_a_page_served_twice_counts_its_sign_ins_once(graph: GraphEmulator) -> None:
    graph.load(sign_ins=[sign_in(i) for i in range(30)])
    graph.configure(repeat_pages=1)
    pages = asyncio.run(collect(connection(graph), page_size=10))
    assert len(pages) == 4  # the first page came twice: both kept as Graph sent them
    assert pages[0].body.count(b'"si-0000000"') == pages[1].body.count(b'"si-0000000"') == 1
    assert pages[1].sign_ins == []
    assert ids(pages) == [f"si-{i:07d}" for i in range(30)]  # each sign-in once


# --- nextLinks: scheme, host and port -------------------------------------------------------


def test_a_next_link_to_another_port_is_not_followed(graph: GraphEmulator) -> None:
    graph.load(sign_ins=[sign_in(i) for i in range(30)])
    elsewhere = graph.base_url.rsplit(":", 1)[0] + ":1"  # same host, another port
    graph.configure(next_link_base=elsewhere)
    with pytest.raises(GraphError, match="outside"):
        asyncio.run(collect(connection(graph), page_size=10))
    assert len(graph.calls) == 1


def test_a_collection_next_link_to_another_origin_is_not_followed(graph: GraphEmulator) -> None:
    graph.load(risk_detections=[detection(i) for i in range(600)])
    graph.configure(next_link_base="https://127.0.0.1:1")
    with pytest.raises(GraphError, match="outside"):
        in_run(lambda g: risk_detections(g, WINDOW), graph, GRAPH_RISK_REQUESTS_PER_SECOND="1000")
    assert len(graph.calls) == 1


def test_resume_links_are_checked_on_scheme_host_and_port(graph: GraphEmulator) -> None:
    conn = connection(graph)
    host, port = graph.base_url.removeprefix("http://").split(":")
    good = f"http://{host.upper()}:{port}/v1.0/auditLogs/signins?$skiptoken=x"
    assert check_resume_link(conn, good) == good
    for bad in (f"http://{host}:1/v1.0/auditLogs/signIns?$skiptoken=x",
                f"https://{host}:{port}/v1.0/auditLogs/signIns?$skiptoken=x",
                f"http://{host}/v1.0/auditLogs/signIns?$skiptoken=x",
                f"http://{host}:{port}@evil.example/v1.0/auditLogs/signIns",
                f"http://{host}:x/v1.0/auditLogs/signIns"):
        with pytest.raises(InputError):
            check_resume_link(conn, bad)
    asyncio.run(conn.aclose())


def test_a_default_port_spelled_out_is_the_same_origin() -> None:
    from shared.graph.client import same_origin

    assert same_origin("https://graph.microsoft.com/v1.0",
                       "https://GRAPH.microsoft.com:443/v1.0/auditLogs/signins?$skiptoken=a")
    assert not same_origin("https://graph.microsoft.com/v1.0",
                           "https://graph.microsoft.com:8443/v1.0/auditLogs/signins")
    assert not same_origin("https://graph.microsoft.com/v1.0",
                           "http://graph.microsoft.com/v1.0/auditLogs/signins")


# --- PIM eligibility, for one user as for the tenant ----------------------------------------


def test_one_users_roles_include_pim_eligibility(graph: GraphEmulator) -> None:
    from shared.graph import privileged_roles_of
    from tests.integration.test_graph_tenancy import ADMIN, PLAIN, USERS, active, eligible

    helpdesk = "729827e3-9c14-49f7-bb1b-9608f156bbb8"  # not a privileged role here
    graph.load(users=USERS, role_assignments=[active(ADMIN), active(PLAIN, helpdesk)],
               role_eligibilities=[eligible(PLAIN), eligible(ADMIN)])
    plain = in_run(lambda g: privileged_roles_of(g, PLAIN), graph)
    assert plain.value == {PLAIN: ["Global Administrator (eligible)"]}
    admin = in_run(lambda g: privileged_roles_of(g, ADMIN), graph)
    assert admin.value == {ADMIN: ["Global Administrator"]}  # active wins over eligible
    filters = [c["query"]["$filter"] for c in graph.calls if "role" in c["path"].lower()]
    assert all(f"principalId eq '{PLAIN}'" in f or f"principalId eq '{ADMIN}'" in f
               for f in filters)
    assert sum("roleEligibilitySchedules" in c["path"] for c in graph.calls) == 2


# --- retention: by licence, and a short history reported -----------------------------------


@pytest.mark.parametrize(("switches", "tier", "days"), [
    ({}, "P2", (30, 90)),
    ({"tier": "P1"}, "P1", (30, 30)),
    ({"premium": False}, "free", (7, 7)),
])
def test_retention_follows_the_licence(graph: GraphEmulator, switches: dict[str, Any],
                                       tier: str, days: tuple[int, int]) -> None:
    """reference-reports-data-retention: sign-ins 7 days free, 30 with P1/P2; risky sign-ins
    7 / 30 / 90. The tier is read from the subscriptions' service plans."""
    from shared.graph.retention import tenant_licence

    graph.configure(**switches)
    found = in_run(tenant_licence, graph)
    assert found.available and found.value.tier == tier
    assert (found.value.sign_in_days, found.value.risky_sign_in_days) == days
    assert graph.calls[0]["path"] == "/v1.0/subscribedSkus"


def test_unreadable_subscriptions_say_why_and_assume_what_signins_need(
        graph: GraphEmulator) -> None:
    from shared.graph.retention import tenant_licence

    graph.configure(forbidden_paths=["subscribedSkus"])
    found = in_run(tenant_licence, graph)
    assert not found.available and found.reason == "permission"
    assert found.value.sign_in_days == 30


def test_an_upgraded_tenants_short_history_is_reported(graph: GraphEmulator) -> None:
    """After an upgrade only about 7 days of sign-ins are visible at first: no sign-in older
    than 7 days within the 30 the licence keeps is reported, not taken for a quiet user."""
    from shared.graph.retention import Retention, history_reach

    now = WINDOW.end
    old = sign_in(1, at=now - timedelta(days=12))
    graph.load(sign_ins=[sign_in(i) for i in range(2, 20)] + [old])
    assert in_run(lambda g: history_reach(g, now, Retention("P2")), graph) is None
    assert graph.calls[0]["query"]["$top"] == "1"
    graph.configure(history_since=(now - timedelta(days=3)).isoformat())
    note = in_run(lambda g: history_reach(g, now, Retention("P2")), graph)
    assert note is not None and not note.available
    assert "just upgraded sees only about 7 days" in note.detail
    free = in_run(lambda g: history_reach(g, now, Retention("free")), graph)
    assert free is not None and "keeps sign-ins 7 days" in free.detail
