"""What real tenants do that an emulator easily misses (REFERENCE.md), through the real
msgraph-sdk client against the emulator's switches (sources cited in local/graph_emulator/
tenancy.py): lower-case nextLinks, fractional Retry-After, the intermittent licence 403, the
permission 403s, Identity Protection's two `Forbidden`s, P1-only tenants, slow queries, expired
skip tokens, the UPNs sign-ins carry, PIM-eligible administrators, and remediation Graph
refuses."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest

from local.graph_emulator import GraphEmulator
from shared.errors import GraphError, GraphUnavailable
from shared.graph import (
    directory_roles,
    disable_account,
    force_password_reset,
    privileged_role_members,
    revoke_sessions,
    risk_detections,
    risky_users,
    stream_sign_ins,
)
from shared.graph.calls import retry_after_s
from shared.graph.signins import WindowTooSlow, check_resume_link
from shared.model import UserStats, UserVerdict, Window
from shared.pipeline.approval_mail import mail_html
from shared.remediation_plan import (
    MEMBERSHIP_UNREAD,
    ROLE_BOUND,
    ROLE_GROUP_MEMBER,
    apply_plan,
    plan,
)
from tests.integration.test_graph_remediation import remediator
from tests.integration.test_graph_remediation import run as act
from tests.integration.test_graph_signins import WINDOW, collect, connection, ids, sign_in

ADMIN = "ad000000-0000-4000-8000-0000000000a1"
SYNCED = "5c000000-0000-4000-8000-0000000000b2"
PLAIN = "91a10000-0000-4000-8000-0000000000c3"
GUEST = "6e000000-0000-4000-8000-0000000000d4"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
USERS = [
    {"id": ADMIN, "userPrincipalName": "Root.Admin@contoso.com", "accountEnabled": True},
    {"id": SYNCED, "userPrincipalName": "sam@contoso.com", "accountEnabled": True,
     "onPremisesSyncEnabled": True},
    {"id": PLAIN, "userPrincipalName": "pat@contoso.com", "accountEnabled": True},
    {"id": GUEST, "userPrincipalName": "adele_fabrikam.com#EXT#@contoso.onmicrosoft.com",
     "userType": "Guest", "accountEnabled": True},
]


def eligible(principal: str, role: str = GLOBAL_ADMIN) -> dict[str, Any]:
    return {"id": f"el-{principal[:8]}", "principalId": principal, "roleDefinitionId": role,
            "directoryScopeId": "/", "memberType": "Direct", "status": "Provisioned"}


def active(principal: str, role: str = GLOBAL_ADMIN) -> dict[str, Any]:
    return {"id": f"ra-{principal[:8]}", "principalId": principal, "roleDefinitionId": role,
            "directoryScopeId": "/"}


def in_run(coro_of: Any, graph: GraphEmulator, **env: str) -> Any:
    async def go() -> Any:
        async with connection(graph, **env) as g:
            return await coro_of(g)
    return asyncio.run(go())


# --- paging ---------------------------------------------------------------------------------

def test_next_links_say_signins_in_lower_case_and_resume(graph: GraphEmulator) -> None:
    graph.load(sign_ins=[sign_in(i) for i in range(250)])
    pages = asyncio.run(collect(connection(graph), page_size=100))
    link = pages[0].next_link
    assert link is not None and "/v1.0/auditLogs/signins?" in link  # as Graph's docs show
    rest = asyncio.run(collect(connection(graph), resume_from=link))  # refused before the fix
    assert ids(pages[:1]) + ids(rest) == [f"si-{i:07d}" for i in range(250)]


def test_resume_link_check_ignores_case_but_not_the_host(graph: GraphEmulator) -> None:
    g = connection(graph)
    upper = graph.base_url.upper().replace("HTTP://", "http://") + "/v1.0/AUDITLOGS/SIGNINS?x=1"
    assert check_resume_link(g, upper) == upper
    for bad in (graph.base_url + "/v1.0/auditLogs/signInsX?x=1",
                graph.base_url + "/v1.0/users?x=1",
                "http://127.0.0.2:1/v1.0/auditLogs/signins?x=1",
                graph.base_url.replace("http:", "https:") + "/v1.0/auditLogs/signins"):
        with pytest.raises(Exception, match="resume link"):
            check_resume_link(g, bad)
    asyncio.run(g.aclose())


def test_expired_skip_token_is_a_clear_400_not_retried(graph: GraphEmulator) -> None:
    graph.load(sign_ins=[sign_in(i) for i in range(250)])
    first = asyncio.run(collect(connection(graph), page_size=100))
    graph.reset()
    graph.configure(expire_skiptokens=1)
    with pytest.raises(GraphError) as expired:
        asyncio.run(collect(connection(graph), resume_from=first[0].next_link))
    assert expired.value.status == 400 and "expired" in expired.value.message
    assert [c["status"] for c in graph.calls] == [400]


# --- throttling -----------------------------------------------------------------------------

def test_fractional_retry_after_is_sent_and_honoured(graph: GraphEmulator) -> None:
    graph.load(sign_ins=[sign_in(i) for i in range(300)])
    graph.configure(signin_rate=(1, 60.0), fractional_retry_after=True)
    headers = {"Authorization": f"Bearer {graph.token}"}
    url = f"{graph.base_url}/v1.0/auditLogs/signIns"
    assert httpx.get(url, params={"$top": "1"}, headers=headers).status_code == 200
    refused = httpx.get(url, params={"$top": "1"}, headers=headers)  # within the minute
    assert refused.status_code == 429
    header = refused.headers["Retry-After"]
    assert "." in header and 0 < float(header) <= 60
    assert refused.json()["error"]["code"] == "TooManyRequests"
    assert retry_after_s("2.128") == pytest.approx(2.128)
    graph.reset()
    graph.configure(fail_next=[429, 429], fractional_retry_after=True)  # "Retry-After: 0.250"
    g = connection(graph)
    pages = asyncio.run(collect(g, page_size=100))
    assert len(ids(pages)) == 300 and g.stats.throttled == 2
    assert [c["status"] for c in graph.calls] == [429, 429, 200, 200, 200]


# --- licences and permissions ---------------------------------------------------------------

def test_one_transient_licence_403_is_asked_again(graph: GraphEmulator) -> None:
    graph.load(sign_ins=[sign_in(i) for i in range(150)])
    graph.configure(flaky_licence_next=1)
    pages = asyncio.run(collect(connection(graph), page_size=100))
    assert len(ids(pages)) == 150  # before the fix: GraphUnavailable "licence"
    assert [c["status"] for c in graph.calls] == [403, 200, 200]


def test_a_licence_403_that_stays_means_no_licence(graph: GraphEmulator) -> None:
    graph.configure(premium=False)
    with pytest.raises(GraphUnavailable) as refused:
        asyncio.run(collect(connection(graph)))
    assert refused.value.reason == "licence"
    assert [c["status"] for c in graph.calls] == [403, 403, 403]  # asked twice more


def test_missing_audit_log_permission_is_a_permission_not_retried(graph: GraphEmulator) -> None:
    graph.configure(audit_log_permission=False)
    with pytest.raises(GraphUnavailable) as refused:
        asyncio.run(collect(connection(graph)))
    assert refused.value.code == "Authentication_MSGraphPermissionMissing"
    assert refused.value.reason == "permission"
    assert "Read all audit log data" in refused.value.message
    assert len(graph.calls) == 1


def test_identity_protection_forbidden_is_told_apart_by_message(graph: GraphEmulator) -> None:
    graph.configure(forbidden_paths=["identityProtection"])
    users = in_run(risky_users, graph)
    detections = in_run(lambda g: risk_detections(g, WINDOW), graph)
    assert (users.reason, detections.reason) == ("permission", "permission")  # was "licence"
    assert "scopes are missing" in users.detail
    graph.reset()
    graph.configure(premium=False)
    assert in_run(risky_users, graph).reason == "licence"


def test_p1_tenant_has_risk_detections_but_no_risky_users(graph: GraphEmulator) -> None:
    graph.load(risky_users=[{"id": PLAIN, "riskLevel": "high", "riskState": "atRisk"}],
               risk_detections=[{"id": "rd1", "userId": PLAIN,
                                 "riskEventType": "unfamiliarFeatures",
                                 "activityDateTime": "2024-05-05T10:00:00Z"}])
    graph.configure(tier="P1")
    users = in_run(risky_users, graph)
    detections = in_run(lambda g: risk_detections(g, WINDOW), graph)
    assert (users.available, users.reason) == (False, "licence")
    assert detections.available and [d.id for d in detections.value] == ["rd1"]


# --- slow queries ---------------------------------------------------------------------------

def test_a_window_graph_cannot_answer_in_time_asks_to_be_split(graph: GraphEmulator) -> None:
    graph.load(sign_ins=[sign_in(i) for i in range(10)])
    graph.configure(slow_query_hours=24)

    async def stream(window: Window) -> list[str]:
        async with connection(graph) as conn:
            return [s.id async for p in stream_sign_ins(conn, window, split_on_timeout=True)
                    for s in p.sign_ins]

    with pytest.raises(WindowTooSlow):
        asyncio.run(stream(WINDOW))  # 48 hours: 504 at once, not retried 8 times
    assert [c["status"] for c in graph.calls] == [504]
    half = Window(WINDOW.end - timedelta(hours=24), WINDOW.end)
    assert len(asyncio.run(stream(half))) == 10


# --- who signed in --------------------------------------------------------------------------

def test_sign_ins_carry_lower_case_upns_and_guests_home_upns(graph: GraphEmulator) -> None:
    graph.load(users=USERS, sign_ins=[
        sign_in(1, user_id=ADMIN, upn="Root.Admin@contoso.com"),
        sign_in(2, user_id=GUEST, upn="adele_fabrikam.com#EXT#@contoso.onmicrosoft.com")])
    graph.configure(lowercase_upns=True)
    (page,) = asyncio.run(collect(connection(graph)))
    by_user = {s.user_id: s.user_principal_name for s in page.sign_ins}
    assert by_user == {ADMIN: "root.admin@contoso.com", GUEST: "adele@fabrikam.com"}
    by_id = asyncio.run(collect(connection(graph), user=GUEST))  # ids match whatever the UPN
    assert ids(by_id) == ["si-0000002"]


def test_pim_eligible_administrators_are_privileged(graph: GraphEmulator) -> None:
    graph.load(users=USERS, role_assignments=[active(ADMIN)],
               role_eligibilities=[eligible(PLAIN), eligible(ADMIN)])
    roles = in_run(privileged_role_members, graph)
    assert roles.available
    assert roles.value[ADMIN] == ["Global Administrator"]
    assert roles.value[PLAIN] == ["Global Administrator (eligible)"]  # missed before the fix
    paths = {c["path"] for c in graph.calls}
    assert "/v1.0/roleManagement/directory/roleEligibilitySchedules" in paths


def test_eligibility_unreadable_keeps_the_active_roles(graph: GraphEmulator) -> None:
    graph.load(users=USERS, role_assignments=[active(ADMIN)], role_eligibilities=[eligible(PLAIN)])
    graph.configure(forbidden_paths=["roleManagement/directory/roleEligibilitySchedules"])
    roles = in_run(privileged_role_members, graph)
    assert roles.available and set(roles.value) == {ADMIN}
    assert "PIM-eligible assignments not read (permission" in roles.detail


# --- remediation Graph refuses --------------------------------------------------------------

def test_admin_needs_a_higher_role_to_be_disabled_or_reset(graph: GraphEmulator) -> None:
    graph.load(users=USERS, role_eligibilities=[eligible(ADMIN)])
    refused = act(remediator(graph), lambda g: disable_account(g, ADMIN))
    assert (refused.ok, refused.status, refused.graph_code) == \
        (False, 403, "Authorization_RequestDenied")
    assert "Insufficient privileges" in refused.message
    reset = act(remediator(graph), lambda g: force_password_reset(g, ADMIN))
    assert (reset.ok, reset.status) == (False, 403)
    assert graph.user(ADMIN)["accountEnabled"] is True  # type: ignore[index]
    # revoke is refused for administrators alike (Azure-Sentinel #783, m365-docs #12853)
    revoke = act(remediator(graph), lambda g: revoke_sessions(g, ADMIN))
    assert (revoke.ok, revoke.status) == (False, 403)
    graph.configure(caller_roles=["Privileged Authentication Administrator"])
    assert act(remediator(graph), lambda g: disable_account(g, ADMIN)).status == 204
    assert act(remediator(graph), lambda g: revoke_sessions(g, ADMIN)).ok


def test_user_administrator_may_act_on_limited_administrators(graph: GraphEmulator) -> None:
    """Microsoft's who-can-act table: User Administrator may act on Helpdesk, Password and
    User Administrators, not on other administrators (REFERENCE.md)."""
    helpdesk, intune = "729827e3-9c14-49f7-bb1b-9608f156bbb8", \
        "3a2c62db-5318-420d-8d74-23affee5d9d5"
    graph.load(users=USERS, role_assignments=[active(PLAIN, helpdesk), active(GUEST, intune)])
    assert act(remediator(graph), lambda g: revoke_sessions(g, PLAIN)).ok
    assert act(remediator(graph), lambda g: disable_account(g, PLAIN)).status == 204
    assert act(remediator(graph), lambda g: revoke_sessions(g, GUEST)).status == 403
    assert act(remediator(graph), lambda g: disable_account(g, GUEST)).status == 403


# A role-assignable group holding Global Administrator, a role-assignable group holding none,
# and an ordinary group: a member of either role-assignable group is protected like an
# administrator ("Only Privileged Authentication Administrator and Global Administrator can
# reset passwords or update sensitive attributes of members of role-assignable groups",
# https://learn.microsoft.com/en-us/entra/identity/role-based-access-control/privileged-roles-permissions).
TIER0_GROUP = "9a000000-0000-4000-8000-0000000000e5"
EMPTY_ROLE_GROUP = "9b000000-0000-4000-8000-0000000000e6"
ORDINARY_GROUP = "9c000000-0000-4000-8000-0000000000e7"
GROUPS = [
    {"id": TIER0_GROUP, "displayName": "Tier-0 admins", "isAssignableToRole": True,
     "securityEnabled": True, "mailEnabled": False, "_members": [ADMIN]},
    {"id": EMPTY_ROLE_GROUP, "displayName": "Break-glass owners", "isAssignableToRole": True,
     "securityEnabled": True, "mailEnabled": False, "_members": [GUEST]},
    {"id": ORDINARY_GROUP, "displayName": "Sales", "isAssignableToRole": False,
     "securityEnabled": True, "mailEnabled": False, "_members": [PLAIN, ADMIN, GUEST]},
]
STEPS = {"revokeSessions": revoke_sessions, "disableAccount": disable_account,
         "forcePasswordReset": force_password_reset}


def graph_allows(graph: GraphEmulator, user: str, action: str) -> bool:
    outcome = act(remediator(graph), lambda g: STEPS[action](g, user))
    assert outcome.ok or (outcome.status, outcome.graph_code) == \
        (403, "Authorization_RequestDenied"), outcome
    if action == "disableAccount" and outcome.ok:  # the next user's step starts afresh
        graph.user(user)["accountEnabled"] = True  # type: ignore[index]
    return outcome.ok


def test_members_of_role_assignable_groups_are_planned_as_graph_refuses(
        graph: GraphEmulator) -> None:
    """ADMIN holds Global Administrator only through a group; GUEST is a member of a
    role-assignable group that holds no role; PLAIN is in an ordinary group only. The plan of a
    User Administrator remediator and the emulator agree step by step; a Privileged
    Authentication Administrator may act on all three."""
    graph.load(users=USERS, groups=GROUPS, role_assignments=[active(TIER0_GROUP)])
    held = in_run(lambda g: directory_roles(g, [ADMIN, GUEST, PLAIN]), graph)
    assert held.available
    assert held.value == {ADMIN: {ROLE_GROUP_MEMBER}, GUEST: {ROLE_GROUP_MEMBER}, PLAIN: set()}
    assert f"/v1.0/users/{GUEST}/memberOf/graph.group" in {c["path"] for c in graph.calls}
    actions = sorted(ROLE_BOUND)
    for caller, refused in ((("User Administrator",), {ADMIN, GUEST}),
                            (("Privileged Authentication Administrator",), set())):
        graph.configure(caller_roles=list(caller))
        for user in (ADMIN, GUEST, PLAIN):
            steps = plan(actions, privileged=False, synced=False, remediator_roles=caller,
                         target_roles=held.value[user])
            planned = {s.action: s.status == "will-run" for s in steps}
            assert planned == {a: user not in refused for a in actions}, (caller, user)
            assert {a: graph_allows(graph, user, a) for a in actions} == planned, (caller, user)


def test_unreadable_group_memberships_fail_closed(graph: GraphEmulator) -> None:
    """Without GroupMember.Read.All the plan cannot tell a plain user from a member of a
    role-assignable group: nothing Graph might refuse is proposed, and the approval mail says
    what will run and why the rest is not offered."""
    graph.load(users=USERS, groups=GROUPS)
    graph.configure(forbidden_paths=["/users/" + PLAIN + "/memberOf"])
    held = in_run(lambda g: directory_roles(g, [PLAIN]), graph)
    assert held.available and held.value == {PLAIN: {MEMBERSHIP_UNREAD}}
    proposal = UserVerdict(
        user_id=PLAIN, user_principal_name="pat@contoso.com", verdict="high", privileged=False,
        findings=[], reasons=["password spray, then a success"],
        stats=UserStats(sign_ins=4, failures=3, countries=["NL"], ips=2), got_in=True,
        proposed_actions=["revokeSessions", "confirmCompromised", "disableAccount"])
    planned = apply_plan(proposal, synced=False, remediator_roles=("User Administrator",),
                         target_roles=held.value[PLAIN])
    assert planned.proposed_actions == ["confirmCompromised"]
    text = mail_html(planned, "r1", None)
    assert "Will run here once approved: confirm compromised." in text
    assert "Not offered (needs a role): revoke sessions needs the remediator" in text
    assert "user, whose role-assignable group memberships could not be read" in text


def test_synced_user_is_disabled_on_premises_only(graph: GraphEmulator) -> None:
    graph.load(users=USERS)
    graph.configure(caller_roles=["Global Administrator"])  # no role helps here
    refused = act(remediator(graph), lambda g: disable_account(g, SYNCED))
    assert (refused.status, refused.graph_code) == (400, "Request_BadRequest")
    assert "on-premises mastered" in refused.message
    revoked = act(remediator(graph), lambda g: revoke_sessions(g, SYNCED))
    assert (revoked.ok, revoked.status) == (True, 200)
    assert act(remediator(graph), lambda g: disable_account(g, PLAIN)).status == 204


def test_revoke_sign_in_sessions_answers_200_value_true(graph: GraphEmulator) -> None:
    graph.load(users=USERS)
    answer = httpx.post(f"{graph.base_url}/v1.0/users/{PLAIN}/revokeSignInSessions",
                        headers={"Authorization": f"Bearer {graph.token}"})
    assert answer.status_code == 200 and answer.json()["value"] is True
