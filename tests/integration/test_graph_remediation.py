"""Remediation calls against the Graph emulator: what was sent, and what we were told."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from local.graph_emulator import GraphEmulator
from shared.config import load
from shared.graph import (
    GraphConnection,
    confirm_compromised,
    connect,
    disable_account,
    force_password_reset,
    revoke_sessions,
)

T = TypeVar("T")
ALICE = "a11ce000-0000-4000-8000-000000000001"
BOB = "b0b00000-0000-4000-8000-000000000002"
NOBODY = "00000000-dead-4000-8000-000000000000"
USERS = [
    {"id": ALICE, "userPrincipalName": "alice@contoso.com", "accountEnabled": True},
    {"id": BOB, "userPrincipalName": "bob@contoso.com", "accountEnabled": True},
]


def remediator(emulator: GraphEmulator, **env: str) -> GraphConnection:
    graph = connect(load({
        "GRAPH_BASE_URL": emulator.base_url, "GRAPH_CREDENTIAL": "local",
        "GRAPH_LOCAL_TOKEN": emulator.token, **env,
    }), role="remediator")
    graph.backoff_base_s = 0.01
    return graph


def run(graph: GraphConnection, act: Callable[[GraphConnection], Awaitable[T]]) -> T:
    async def go() -> T:
        async with graph:
            return await act(graph)
    return asyncio.run(go())


def test_revoke_sessions(graph: GraphEmulator) -> None:
    graph.load(users=USERS)
    outcome = run(remediator(graph), lambda g: revoke_sessions(g, ALICE))
    assert (outcome.action, outcome.user_id, outcome.ok, outcome.status) == \
        ("revoke_sessions", ALICE, True, 200)
    (call,) = graph.remediation_calls
    assert (call["method"], call["path"], call["userId"]) == \
        ("POST", f"/v1.0/users/{ALICE}/revokeSignInSessions", ALICE)
    assert graph.user(ALICE)["signInSessionsValidFromDateTime"]  # type: ignore[index]


def test_disable_account(graph: GraphEmulator) -> None:
    graph.load(users=USERS)
    outcome = run(remediator(graph), lambda g: disable_account(g, BOB))
    assert (outcome.ok, outcome.status) == (True, 204)
    (call,) = graph.remediation_calls
    assert (call["method"], call["path"]) == ("PATCH", f"/v1.0/users/{BOB}")
    assert call["body"]["accountEnabled"] is False  # the SDK adds "@odata.type" beside it
    assert graph.user(BOB)["accountEnabled"] is False  # type: ignore[index]


def test_force_password_reset(graph: GraphEmulator) -> None:
    graph.load(users=USERS)
    outcome = run(remediator(graph), lambda g: force_password_reset(g, ALICE))
    assert (outcome.ok, outcome.status) == (True, 204)
    (call,) = graph.remediation_calls
    assert call["body"]["passwordProfile"]["forceChangePasswordNextSignIn"] is True
    assert set(call["body"]) <= {"@odata.type", "passwordProfile"}
    profile = graph.user(ALICE)["passwordProfile"]  # type: ignore[index]
    assert profile["forceChangePasswordNextSignIn"] is True


def test_confirm_compromised_one_outcome_per_user(graph: GraphEmulator) -> None:
    graph.load(users=USERS)
    outcomes = run(remediator(graph), lambda g: confirm_compromised(g, [ALICE, BOB.upper()]))
    assert [(o.user_id, o.ok, o.status) for o in outcomes] == [(ALICE, True, 204), (BOB, True, 204)]
    assert graph.remediation_calls[0]["body"] == {"userIds": [ALICE, BOB]}
    path = graph.remediation_calls[0]["path"]
    assert path == "/v1.0/identityProtection/riskyUsers/confirmCompromised"


def test_unknown_user_is_an_outcome_not_an_exception(graph: GraphEmulator) -> None:
    graph.load(users=USERS)
    outcome = run(remediator(graph), lambda g: revoke_sessions(g, NOBODY))
    assert (outcome.ok, outcome.status, outcome.graph_code) == \
        (False, 404, "Request_ResourceNotFound")
    assert outcome.message


def test_not_a_guid_is_never_sent(graph: GraphEmulator) -> None:
    graph.load(users=USERS)
    outcome = run(remediator(graph), lambda g: disable_account(g, "alice@contoso.com/../x"))
    mixed = run(remediator(graph), lambda g: confirm_compromised(g, ["nope", ALICE]))
    assert (outcome.ok, outcome.status, outcome.graph_code) == (False, 0, "InvalidUserId")
    assert [(o.user_id, o.ok) for o in mixed] == [(ALICE, True), ("nope", False)]
    assert [c["userId"] for c in graph.remediation_calls] == [ALICE]


def test_transient_failure_is_retried(graph: GraphEmulator) -> None:
    graph.load(users=USERS)
    graph.configure(fail_next=[503], fail_path="users")
    outcome = run(remediator(graph), lambda g: revoke_sessions(g, ALICE))
    assert (outcome.ok, outcome.status) == (True, 200)
    assert [c["status"] for c in graph.calls] == [503, 200]


def test_missing_permission_and_spent_budget_are_outcomes(graph: GraphEmulator) -> None:
    graph.load(users=USERS)
    graph.configure(forbidden_paths=["users"])
    refused = run(remediator(graph), lambda g: disable_account(g, ALICE))
    assert (refused.ok, refused.status, refused.graph_code) == \
        (False, 403, "Authorization_RequestDenied")
    graph.reset()
    graph.configure(fail_next=[503, 503, 503])
    spent = run(remediator(graph, GRAPH_RETRY_BUDGET="2"), lambda g: revoke_sessions(g, ALICE))
    assert (spent.ok, spent.status) == (False, 503)
    assert "gave up after 3 attempts" in spent.message
