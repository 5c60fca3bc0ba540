"""Privileged role members, risky users and risk detections, against the Graph emulator."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from local.graph_emulator import GraphEmulator
from shared.config import load
from shared.errors import ConfigError
from shared.graph import (
    DirectoryResult,
    GraphConnection,
    connect,
    privileged_role_members,
    risk_detections,
    risky_users,
)
from shared.model import Window

T = TypeVar("T")
END = datetime(2024, 5, 6, 6, 0, tzinfo=UTC)
WINDOW = Window(END - timedelta(days=2), END)
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
SECURITY_ADMIN = "194ae4cb-b126-40b2-bd5b-6091b380977d"
HELPDESK_ADMIN = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
ALICE = "a11ce000-0000-4000-8000-000000000001"
BOB = "b0b00000-0000-4000-8000-000000000002"
CAROL = "ca201000-0000-4000-8000-000000000003"
GROUP = "96a0b000-0000-4000-8000-000000000004"

USERS = [
    {"id": ALICE, "userPrincipalName": "alice@contoso.com", "displayName": "Alice"},
    {"id": BOB, "userPrincipalName": "bob@contoso.com", "displayName": "Bob"},
    {"id": CAROL, "userPrincipalName": "carol@contoso.com", "displayName": "Carol"},
]


def assignment(n: int, role: str, principal: str, kind: str = "user") -> dict[str, Any]:
    row: dict[str, Any] = {"id": f"ra-{n}", "roleDefinitionId": role, "principalId": principal,
                           "directoryScopeId": "/"}
    if kind != "user":
        row["principal"] = {"@odata.type": f"#microsoft.graph.{kind}", "id": principal}
    return row


# A role-assignable group (isAssignableToRole) and its members' object ids (`_members`).
TIER0 = {"id": GROUP, "displayName": "Tier-0 admins", "isAssignableToRole": True,
         "securityEnabled": True, "mailEnabled": False, "_members": [CAROL, BOB]}


def detection(n: int, at: datetime, user: str = ALICE) -> dict[str, Any]:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"id": f"rd-{n}", "riskEventType": "unfamiliarFeatures", "riskLevel": "medium",
            "riskState": "atRisk", "detectionTimingType": "realtime", "activity": "signin",
            "activityDateTime": stamp, "detectedDateTime": stamp, "ipAddress": "198.51.100.4",
            "requestId": f"si-{n}", "userId": user, "userPrincipalName": "alice@contoso.com",
            "location": {"city": "Lagos", "countryOrRegion": "NG"}, "additionalInfo": "[]"}


def connection(emulator: GraphEmulator, **env: str) -> GraphConnection:
    graph = connect(load({
        "GRAPH_BASE_URL": emulator.base_url, "GRAPH_CREDENTIAL": "local",
        "GRAPH_LOCAL_TOKEN": emulator.token, "GRAPH_RISK_REQUESTS_PER_SECOND": "50", **env,
    }))
    graph.backoff_base_s = 0.02
    return graph


def run(graph: GraphConnection, read: Callable[[GraphConnection], Awaitable[T]]) -> T:
    async def go() -> T:
        async with graph:
            return await read(graph)
    return asyncio.run(go())


def test_privileged_members_by_role_users_only(graph: GraphEmulator) -> None:
    graph.load(users=USERS, role_assignments=[
        assignment(1, GLOBAL_ADMIN, ALICE), assignment(2, SECURITY_ADMIN, ALICE),
        assignment(3, SECURITY_ADMIN, BOB), assignment(4, GLOBAL_ADMIN, GROUP, "group"),
        assignment(5, HELPDESK_ADMIN, CAROL),
    ])
    result = run(connection(graph), privileged_role_members)
    assert result.available
    assert result.value == {
        ALICE: ["Global Administrator", "Security Administrator"],
        BOB: ["Security Administrator"],
    }
    assert "1 group(s) holding a privileged role" not in result.detail
    assert "group(s) not found: " + GROUP in result.detail  # no such group in the tenant
    queries = [call["query"] for call in graph.calls]
    assert {"$filter": f"roleDefinitionId eq '{GLOBAL_ADMIN}'", "$expand": "principal"} in queries


def test_members_of_a_role_assignable_group_hold_its_roles(graph: GraphEmulator) -> None:
    """A role assigned to a role-assignable group is held by each member, shown "via group";
    one assigned to it as eligible is eligible through it. The group's members are read once,
    however many roles it holds."""
    graph.load(users=USERS, groups=[TIER0], role_assignments=[
        assignment(1, GLOBAL_ADMIN, ALICE), assignment(3, SECURITY_ADMIN, BOB),
        assignment(4, GLOBAL_ADMIN, GROUP, "group"),
    ], role_eligibilities=[assignment(6, SECURITY_ADMIN, GROUP, "group")])
    result = run(connection(graph), privileged_role_members)
    assert result.available
    assert result.value == {
        ALICE: ["Global Administrator"],
        BOB: ["Security Administrator", "Global Administrator (via group 96a0b000-0000-4000-8000-"
              "000000000004)", "Security Administrator (eligible, via group 96a0b000-0000-4000-"
              "8000-000000000004)"],
        CAROL: ["Global Administrator (via group 96a0b000-0000-4000-8000-000000000004)",
                "Security Administrator (eligible, via group 96a0b000-0000-4000-8000-"
                "000000000004)"],
    }
    assert result.detail == "members of 1 role-assignable group(s) included"
    # each holder's UPN, from $expand=principal or the group's member listing
    assert result.names == {ALICE: "alice@contoso.com", BOB: "bob@contoso.com",
                            CAROL: "carol@contoso.com"}
    member_reads = [c for c in graph.calls if c["path"].lower().endswith("/members")]
    assert len(member_reads) == 1


def test_one_users_roles_include_those_through_a_role_assignable_group(
        graph: GraphEmulator) -> None:
    """A ticket's one-user review sees the roles a user holds through a role-assignable group,
    named as the tenant's listing names them: before, only the user's own assignments were
    read, and a Global Administrator through a group was reviewed as an ordinary user."""
    from shared.graph import privileged_roles_of

    graph.load(users=USERS, groups=[TIER0], role_assignments=[
        assignment(1, GLOBAL_ADMIN, ALICE), assignment(3, SECURITY_ADMIN, BOB),
        assignment(4, GLOBAL_ADMIN, GROUP),  # the group named by $expand=principal
    ], role_eligibilities=[assignment(6, SECURITY_ADMIN, GROUP)])
    through = ["Global Administrator (via group Tier-0 admins)",
               "Security Administrator (eligible, via group Tier-0 admins)"]
    carol = run(connection(graph), lambda g: privileged_roles_of(g, CAROL))
    assert carol.value == {CAROL: through}
    assert carol.detail == "roles through 1 role-assignable group(s) included"
    bob = run(connection(graph), lambda g: privileged_roles_of(g, BOB))
    assert bob.value == {BOB: sorted(["Security Administrator", *through])}
    alice = run(connection(graph), lambda g: privileged_roles_of(g, ALICE))
    assert alice.value == {ALICE: ["Global Administrator"]} and alice.detail == ""
    # the group's assignments read by principalId, as the user's own: no listing of members
    assert not any(c["path"].lower().endswith("/members") for c in graph.calls)


def test_one_users_groups_unread_are_said_not_guessed(graph: GraphEmulator) -> None:
    from shared.graph import privileged_roles_of

    graph.load(users=USERS, groups=[TIER0], role_assignments=[
        assignment(3, SECURITY_ADMIN, BOB), assignment(4, GLOBAL_ADMIN, GROUP, "group")])
    graph.configure(forbidden_paths=[f"users/{BOB}/memberOf"])
    bob = run(connection(graph), lambda g: privileged_roles_of(g, BOB))
    assert bob.available and bob.value == {BOB: ["Security Administrator"]}
    assert bob.detail.startswith("role-assignable group memberships not read (permission")


def test_verified_domains_are_the_tenants_own(graph: GraphEmulator) -> None:
    """GET /domains: the verified ones, lower case (an unverified domain receives no mail);
    without the permission the list is unavailable and the review falls back on UPN domains."""
    from shared.graph import verified_domains

    graph.load(users=USERS, domains=[
        {"id": "contoso.com", "isVerified": True, "isDefault": True},
        {"id": "Contoso.co.uk", "isVerified": True},
        {"id": "contoso.onmicrosoft.com", "isVerified": True},
        {"id": "fabrikam.com", "isVerified": False}])
    found = run(connection(graph), verified_domains)
    assert found.available
    assert found.value == ["contoso.co.uk", "contoso.com", "contoso.onmicrosoft.com"]
    assert found.detail == "3 verified domain(s)"
    assert {"$select": "id,isVerified"} in [c["query"] for c in graph.calls]
    graph.load(users=USERS)  # none given: the emulator's tenant verified its users' UPN domains
    assert run(connection(graph), verified_domains).value == ["contoso.com"]
    graph.configure(forbidden_paths=["domains"])
    refused = run(connection(graph), verified_domains)
    assert not refused.available and refused.value == []
    assert refused.source("domains").detail.startswith("unavailable: permission")


def test_group_name_comes_from_the_expanded_principal(graph: GraphEmulator) -> None:
    # The emulator embeds the group as $expand=principal does when the row carries none.
    row = assignment(4, GLOBAL_ADMIN, GROUP)
    graph.load(users=USERS, groups=[TIER0], role_assignments=[row])
    result = run(connection(graph), privileged_role_members)
    assert result.value == {key: ["Global Administrator (via group Tier-0 admins)"]
                            for key in (CAROL, BOB)}


def test_group_members_across_pages(graph: GraphEmulator) -> None:
    many = [{"id": f"00000000-0000-4000-8000-{n:012d}", "userPrincipalName": f"u{n}@contoso.com"}
            for n in range(205)]
    group = {**TIER0, "_members": [u["id"] for u in many]}
    graph.load(users=many, groups=[group], role_assignments=[assignment(4, GLOBAL_ADMIN, GROUP)])
    result = run(connection(graph), privileged_role_members)
    assert len(result.value) == 205  # Graph's pages of 100 (group-list-members), all followed
    assert sum(c["path"].lower().endswith("/members") for c in graph.calls) == 3


def test_group_members_without_permission_are_named_not_guessed(graph: GraphEmulator) -> None:
    graph.load(users=USERS, groups=[TIER0], role_assignments=[
        assignment(1, GLOBAL_ADMIN, ALICE), assignment(4, GLOBAL_ADMIN, GROUP)])
    graph.configure(forbidden_paths=["groups"])
    result = run(connection(graph), privileged_role_members)
    assert result.value == {ALICE: ["Global Administrator"]}
    assert result.detail.startswith("1 group(s) holding a privileged role not expanded "
                                     "(permission")


def test_configured_extra_roles_are_included(graph: GraphEmulator) -> None:
    graph.load(users=USERS, role_assignments=[assignment(5, HELPDESK_ADMIN, CAROL)])
    result = run(connection(graph, PRIVILEGED_ROLE_IDS=HELPDESK_ADMIN), privileged_role_members)
    assert result.value == {CAROL: [f"Role {HELPDESK_ADMIN}"]}


def test_extra_role_that_is_not_a_guid_is_a_config_error(graph: GraphEmulator) -> None:
    with pytest.raises(ConfigError):
        run(connection(graph, PRIVILEGED_ROLE_IDS="x' or 1 eq 1"), privileged_role_members)


def test_risky_users_across_pages(graph: GraphEmulator) -> None:
    risky = [{"id": f"00000000-0000-4000-8000-{n:012d}", "userPrincipalName": f"u{n}@contoso.com",
              "riskLevel": "high", "riskState": "atRisk",
              "riskLastUpdatedDateTime": "2024-05-05T10:00:00Z"} for n in range(1203)]
    graph.load(users=USERS, risky_users=risky)
    result = run(connection(graph), risky_users)
    assert result.available
    assert len(result.value) == 1203
    assert len({u.id for u in result.value}) == 1203
    assert result.value[0].risk_level == "high"
    assert len(graph.calls) > 1  # followed nextLink


def test_risk_detections_in_the_window(graph: GraphEmulator) -> None:
    graph.load(users=USERS, risk_detections=[
        detection(1, END - timedelta(hours=1)), detection(2, WINDOW.start),
        detection(3, WINDOW.start - timedelta(seconds=1)), detection(4, END + timedelta(hours=1)),
    ])
    result = run(connection(graph), lambda g: risk_detections(g, WINDOW))
    assert sorted(d.id for d in result.value) == ["rd-1", "rd-2"]
    found = result.value[0]
    assert found.risk_event_type == "unfamiliarFeatures" and found.request_id == "si-1"
    assert found.location is not None and found.location.country_or_region == "NG"


def test_429_without_retry_after_backs_off_and_completes(graph: GraphEmulator) -> None:
    graph.load(users=USERS, risk_detections=[detection(1, END - timedelta(hours=1))])
    # Identity Protection's 429 carries no Retry-After (faults.py cites Microsoft's limits page):
    # the first request is refused whatever the client's speed, and the client backs off.
    graph.configure(throttle_at=[1], throttle_path="/identityProtection")
    g = connection(graph)

    async def twice(graph_: GraphConnection) -> tuple[DirectoryResult[Any], DirectoryResult[Any]]:
        return await risky_users(graph_), await risk_detections(graph_, WINDOW)

    users, detections = run(g, twice)
    assert users.available and [d.id for d in detections.value] == ["rd-1"]
    assert g.stats.throttled == 1
    assert [c["status"] for c in graph.calls] == [429, 200, 200]


def test_without_p2_the_run_goes_on_with_a_reason(graph: GraphEmulator) -> None:
    graph.load(users=USERS)
    graph.configure(premium=False)
    users = run(connection(graph), risky_users)
    detections = run(connection(graph), lambda g: risk_detections(g, WINDOW))
    assert (users.available, users.reason, users.value) == (False, "licence", [])
    assert (detections.available, detections.reason) == (False, "licence")
    source = detections.source("riskDetections")
    assert not source.available and source.detail.startswith("unavailable: licence")
    assert [c["status"] for c in graph.calls] == [403, 403]  # refused once, not retried


def test_missing_permission_is_told_apart(graph: GraphEmulator) -> None:
    graph.load(users=USERS)
    graph.configure(forbidden_paths=["roleManagement", "identityProtection/riskyUsers"])
    roles = run(connection(graph), privileged_role_members)
    users = run(connection(graph), risky_users)
    assert (roles.available, roles.reason) == (False, "permission")
    assert (users.available, users.reason) == (False, "permission")
    assert roles.source("privilegedRoles").detail.startswith("unavailable: permission")
