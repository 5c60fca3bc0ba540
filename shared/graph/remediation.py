"""Remediation calls: revoke sessions, disable the account, force a password change, confirm
compromised. Each returns an `ActionOutcome` saying what Graph answered; none raises SDK or
HTTP errors to its caller, because the caller records every outcome in the audit trail.

All four are idempotent on Graph's side, so 429/5xx/dropped connections are retried within the
connection's budget like any read. Use a connection made with `connect(settings,
role="remediator")`: in Azure the remediator has its own managed identity and permissions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Literal

import msgspec

from shared.errors import GraphError
from shared.graph import odata
from shared.graph.calls import call, graph_error_detail, native_config
from shared.graph.client import GraphConnection

if TYPE_CHECKING:
    import httpx

Action = Literal["revoke_sessions", "disable_account", "force_password_reset",
                 "confirm_compromised"]


class ActionOutcome(msgspec.Struct, rename="camel", frozen=True):
    """What Graph said to one remediation action for one user (status 0: never sent)."""

    action: str
    user_id: str
    ok: bool
    status: int
    graph_code: str | None = None
    message: str = ""


async def _perform(
    graph: GraphConnection,
    action: Action,
    user_ids: list[str],
    send: Callable[[], Awaitable[httpx.Response]],
) -> list[ActionOutcome]:
    try:
        response = await call(graph, send, what=action.replace("_", " "))
    except GraphError as exc:
        return [ActionOutcome(action, uid, False, exc.status or 0, exc.code, exc.message)
                for uid in user_ids]
    code, message = graph_error_detail(response.content) if response.content else (None, "")
    return [ActionOutcome(action, uid, True, response.status_code, code, message)
            for uid in user_ids]


def _refused(action: Action, user_id: str) -> ActionOutcome:
    return ActionOutcome(action, user_id, False, 0, "InvalidUserId",
                         "the user id is not a GUID; nothing was sent to Graph")


async def revoke_sessions(graph: GraphConnection, user_id: str) -> ActionOutcome:
    """POST /users/{id}/revokeSignInSessions: refresh tokens and session cookies stop working
    (takes effect within minutes; guests are not affected)."""
    if not odata.is_guid(user_id):
        return _refused("revoke_sessions", user_id)
    builder = graph.client.users.by_user_id(user_id.lower()).revoke_sign_in_sessions
    send = partial(builder.post, request_configuration=native_config())
    return (await _perform(graph, "revoke_sessions", [user_id], send))[0]


async def disable_account(graph: GraphConnection, user_id: str) -> ActionOutcome:
    """PATCH /users/{id} {"accountEnabled": false}."""
    from msgraph.generated.models.user import User

    if not odata.is_guid(user_id):
        return _refused("disable_account", user_id)
    builder = graph.client.users.by_user_id(user_id.lower())
    send = partial(builder.patch, User(account_enabled=False),
                   request_configuration=native_config())
    return (await _perform(graph, "disable_account", [user_id], send))[0]


async def force_password_reset(graph: GraphConnection, user_id: str) -> ActionOutcome:
    """PATCH /users/{id} passwordProfile.forceChangePasswordNextSignIn = true (app-only calls
    need a directory role such as User Administrator)."""
    from msgraph.generated.models.password_profile import PasswordProfile
    from msgraph.generated.models.user import User

    if not odata.is_guid(user_id):
        return _refused("force_password_reset", user_id)
    body = User(password_profile=PasswordProfile(force_change_password_next_sign_in=True))
    builder = graph.client.users.by_user_id(user_id.lower())
    send = partial(builder.patch, body, request_configuration=native_config())
    return (await _perform(graph, "force_password_reset", [user_id], send))[0]


async def confirm_compromised(graph: GraphConnection, user_ids: list[str]) -> list[ActionOutcome]:
    """POST /identityProtection/riskyUsers/confirmCompromised {"userIds": [...]}: one outcome
    per user (Graph answers for the whole list at once). Ids that are not GUIDs are refused
    without a call; the rest go in one request."""
    from msgraph.generated.identity_protection.risky_users.confirm_compromised.confirm_compromised_post_request_body import (  # noqa: E501
        ConfirmCompromisedPostRequestBody,
    )

    refused = [_refused("confirm_compromised", uid) for uid in user_ids if not odata.is_guid(uid)]
    valid = [uid.lower() for uid in user_ids if odata.is_guid(uid)]
    if not valid:
        return refused
    builder = graph.client.identity_protection.risky_users.confirm_compromised
    body = ConfirmCompromisedPostRequestBody(user_ids=valid)
    send = partial(builder.post, body, request_configuration=native_config())
    return await _perform(graph, "confirm_compromised", valid, send) + refused
