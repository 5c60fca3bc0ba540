"""What followed a sign-in, read through the real msgraph-sdk client from the Graph emulator:
the directory audit log (paged, filtered by time, the activities that matter kept), a user's
authentication methods, inbox rules and delegated grants; and the containment calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from local.graph_emulator import GraphEmulator
from shared.graph.containment import disable_rule, remove_method, revoke_grant
from shared.graph.persistence import directory_audits, user_objects
from shared.persistence.records import AuthMethod
from tests.integration.test_graph_directory import USERS, connection, run
from tests.unit.persistence_sequences import audit_event

ALICE = USERS[0]["id"]
START = datetime(2024, 5, 4, 0, 0, tzinfo=UTC)


def _audits(n: int) -> list[dict[str, Any]]:
    """n rows over two days: every tenth a security-info registration, the rest noise."""
    rows = []
    for i in range(n):
        at = (START + timedelta(minutes=7 * i)).strftime("%Y-%m-%dT%H:%M")
        activity = "User registered security info" if i % 10 == 0 else "Update user"
        rows.append(audit_event({"at": at, "activity": activity, "ip": "102.89.1.1",
                                 "method": "Microsoft Authenticator App"}, i, ALICE))
    return rows


def _owned(rows: list[dict[str, Any]], owner: str = ALICE) -> list[dict[str, Any]]:
    return [{**row, "_owner": owner} for row in rows]


METHODS = [
    {"@odata.type": "#microsoft.graph.passwordAuthenticationMethod",
     "id": "28c10230-6103-485e-b985-444c60001490"},
    {"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
     "id": "m-own", "displayName": "Pixel 7", "createdDateTime": "2024-01-10T09:00:00Z"},
    {"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
     "id": "m-attacker", "displayName": "SM-A515F", "createdDateTime": "2024-05-04T23:14:00Z"},
    {"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "p-default",
     "phoneNumber": "+44 7700 900123", "phoneType": "mobile", "_isDefault": True},
]
RULES = [{"id": "r-fwd", "displayName": "..", "sequence": 1, "isEnabled": True,
          "actions": {"forwardTo": [{"emailAddress": {"address": "x@proton.me"}}]}}]
GRANTS = [{"id": "g-1", "clientId": "sp-mail", "consentType": "Principal", "principalId": ALICE,
           "resourceId": "sp-graph", "scope": "Mail.Read offline_access"},
          {"id": "g-other", "clientId": "sp-mail", "consentType": "Principal",
           "principalId": USERS[1]["id"], "resourceId": "sp-graph", "scope": "Mail.Read"}]


def test_the_window_is_read_once_by_time_and_the_activities_kept(graph: GraphEmulator) -> None:
    graph.load(users=USERS, directory_audits=_audits(450))
    result = run(connection(graph), lambda g: directory_audits(g, START, START + timedelta(days=2)))
    assert result.available
    read = result.value
    assert read.rows == 412 and len(read.pages) == 5  # 2 days / 7 minutes; pages of 100
    assert len(read.events) == 42
    assert all(e.activity_display_name == "User registered security info" for e in read.events)
    queries = [c["query"] for c in graph.calls if "directoryAudits" in c["path"]]
    assert queries[0] == {"$filter": "activityDateTime ge 2024-05-04T00:00:00Z and "
                                     "activityDateTime le 2024-05-06T00:00:00Z"}
    pages = [msgspec.json.decode(p) for p in read.pages]
    assert sum(len(p["value"]) for p in pages) == 412  # the raw pages, as Graph sent them


def test_a_missing_permission_makes_the_audit_log_unavailable_not_the_run(
        graph: GraphEmulator) -> None:
    graph.load(users=USERS, directory_audits=_audits(3))
    graph.configure(forbidden_paths=["/v1.0/auditLogs/directoryAudits"])
    result = run(connection(graph), lambda g: directory_audits(g, START, START + timedelta(1)))
    assert not result.available and result.reason == "permission"


def test_a_users_methods_rules_and_grants(graph: GraphEmulator) -> None:
    graph.load(users=USERS, authentication_methods=_owned(METHODS), message_rules=_owned(RULES),
               permission_grants=GRANTS)
    found = run(connection(graph), lambda g: user_objects(g, ALICE))
    assert [m.kind for m in found.methods.value] == [
        "password", "microsoftAuthenticator", "microsoftAuthenticator", "phone"]
    assert found.methods.value[2].created_date_time == datetime(2024, 5, 4, 23, 14, tzinfo=UTC)
    assert [r.id for r in found.rules.value] == ["r-fwd"]
    assert [g.id for g in found.grants.value] == ["g-1"]
    assert found.unread() == {}
    paths = {c["path"] for c in graph.calls}
    assert f"/v1.0/users/{ALICE}/authentication/methods" in paths
    assert f"/v1.0/users/{ALICE}/mailFolders/inbox/messageRules" in paths


def test_containment_removes_exactly_what_it_names(graph: GraphEmulator) -> None:
    graph.load(users=USERS, authentication_methods=_owned(METHODS), message_rules=_owned(RULES),
               permission_grants=GRANTS)
    attacker = msgspec.convert(METHODS[2], AuthMethod)

    async def contain(g: Any) -> list[Any]:
        return [await remove_method(g, ALICE, attacker), await disable_rule(g, ALICE, "r-fwd"),
                await revoke_grant(g, ALICE, "g-1"),
                await remove_method(g, ALICE, msgspec.convert(METHODS[3], AuthMethod)),
                await remove_method(g, ALICE, msgspec.convert(METHODS[0], AuthMethod))]
    removed, disabled, revoked, default_phone, password = run(connection(graph), contain)
    assert (removed.ok, removed.status) == (True, 204)
    assert (disabled.ok, disabled.status) == (True, 200)
    assert (revoked.ok, revoked.status) == (True, 204)
    assert (default_phone.ok, default_phone.status) == (False, 400)
    assert (password.ok, password.status) == (False, 0)  # never sent
    after = run(connection(graph), lambda g: user_objects(g, ALICE))
    assert [m.id for m in after.methods.value] == [
        "28c10230-6103-485e-b985-444c60001490", "m-own", "p-default"]
    assert after.rules.value[0].is_enabled is False
    assert after.grants.value == []
    sent = [(c["method"], c["path"]) for c in graph.remediation_calls]
    assert ("DELETE", f"/v1.0/users/{ALICE}/authentication/microsoftAuthenticatorMethods/"
                      "m-attacker") in sent
