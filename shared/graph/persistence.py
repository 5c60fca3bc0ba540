"""What followed the sign-ins, read from Graph: the directory audit log (once per run), and for
users at low or above their authentication methods, inbox rules and delegated grants.

- GET /auditLogs/directoryAudits supports `$filter` with eq, ge, le and startswith, `$top`,
  `$orderby` and skiptoken (https://learn.microsoft.com/en-us/graph/api/directoryaudit-list);
  `or` is not among the documented operators, so the window is read by time alone and the
  activities that matter are kept here. It needs AuditLog.Read.All and spends the reports
  budget that signIns spends (5 requests per 10 s per app per tenant; REFERENCE.md): it goes
  through the connection's sign-in limiter, and its raw pages are kept as evidence.
- GET /users/{id}/authentication/methods (UserAuthenticationMethod.Read.All; also the reports
  budget: https://learn.microsoft.com/en-us/graph/api/authentication-list-methods).
- GET /users/{id}/mailFolders/inbox/messageRules (MailboxSettings.Read;
  https://learn.microsoft.com/en-us/graph/api/mailfolder-list-messagerules).
- GET /users/{id}/oauth2PermissionGrants (DelegatedPermissionGrant.Read.All or
  Directory.Read.All; https://learn.microsoft.com/en-us/graph/api/user-list-oauth2permissiongrants).
A 401/403 makes that part unavailable (named in the evidence and the report), never the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import msgspec

from shared.errors import GraphError, GraphUnavailable
from shared.graph import odata
from shared.graph.calls import call, native_config
from shared.graph.client import GraphConnection
from shared.graph.directory import DirectoryResult, next_link, refusal_reason, unavailable
from shared.graph.limiter import Pacer
from shared.persistence.activities import kind_of
from shared.persistence.records import (
    AuditEvent,
    AuditPage,
    AuthMethod,
    AuthMethodPage,
    InboxRule,
    InboxRulePage,
    PermissionGrant,
    PermissionGrantPage,
)

T = TypeVar("T")


@dataclass
class AuditRead:
    """The window's directory audit log: every raw page as Graph sent it (for evidence) and the
    rows whose activity matters."""

    pages: list[bytes] = field(default_factory=list)
    events: list[AuditEvent] = field(default_factory=list)
    rows: int = 0


async def _pages(graph: GraphConnection, builder: Any, query: object | None, what: str,
                 limiter: Pacer | None, keep: Callable[[bytes], int]) -> None:
    """GET a collection and its nextLinks, handing each page's bytes to `keep`."""
    config = native_config(query)
    followed: set[str] = set()
    while True:
        response = await call(graph, partial(builder.get, request_configuration=config),
                              what=what, limiter=limiter)
        link = keep(response.content)
        if not link:
            return
        followed.add(str(response.request.url))
        builder = builder.with_url(next_link(graph, what, link, followed))  # type: ignore[arg-type]
        config = native_config()


async def directory_audits(graph: GraphConnection, start: datetime, end: datetime, *,
                           initiator: str | None = None) -> DirectoryResult[AuditRead]:
    """The directory audit rows from `start` to `end` whose activity matters (activities.py),
    only those `initiator` (an object id) initiated when given (directoryaudit-list, example 2:
    `initiatedBy/user/id eq`)."""
    from msgraph.generated.audit_logs.directory_audits.directory_audits_request_builder import (
        DirectoryAuditsRequestBuilder as Builder,
    )

    read = AuditRead()
    decode = msgspec.json.Decoder(AuditPage).decode

    def keep(data: bytes) -> Any:
        try:
            page = decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise GraphError(f"directory audits: a page could not be read: {exc}") from None
        read.pages.append(data)
        read.rows += len(page.value)
        read.events.extend(e for e in page.value if kind_of(e) is not None)
        return page.next_link

    by = f"initiatedBy/user/id eq {odata.quote(initiator.lower())}" \
        if initiator and odata.is_guid(initiator) else ""
    query = Builder.DirectoryAuditsRequestBuilderGetQueryParameters(
        filter=odata.all_of(odata.window_clause(start, end, field="activityDateTime"), by))
    try:
        await _pages(graph, graph.client.audit_logs.directory_audits, query,
                     "directory audits", graph.signin_limiter, keep)
    except GraphUnavailable as exc:
        return unavailable(AuditRead(), exc)
    return DirectoryResult(read, detail=f"{read.rows:,} audit rows read, "
                                        f"{len(read.events):,} of the activities that matter")


async def _collection(graph: GraphConnection, builder: Any, kind: type[Any], what: str,
                      limiter: Pacer | None) -> DirectoryResult[list[T]]:
    decode = msgspec.json.Decoder(kind).decode
    rows: list[T] = []

    def keep(data: bytes) -> Any:
        try:
            page = decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise GraphError(f"{what}: a page could not be read: {exc}") from None
        rows.extend(page.value)
        return page.next_link

    try:
        await _pages(graph, builder, None, what, limiter, keep)
    except GraphUnavailable as exc:
        return unavailable([], exc)
    except GraphError as exc:
        if exc.status == 404:  # no mailbox (a user without an Exchange licence): nothing to read
            return DirectoryResult([], available=False, reason="not found", detail=exc.message)
        raise
    return DirectoryResult(rows)


@dataclass
class UserObjects:
    methods: DirectoryResult[list[AuthMethod]]
    rules: DirectoryResult[list[InboxRule]]
    grants: DirectoryResult[list[PermissionGrant]]

    def unread(self) -> dict[str, str]:
        """Why a part could not be read ("methods" -> "permission: ..."), for the evidence."""
        return {name: f"{part.reason}" + (f": {part.detail}" if part.detail else "")
                for name, part in (("methods", self.methods), ("rules", self.rules),
                                   ("grants", self.grants)) if not part.available}


NOT_NEEDED = "not needed"


async def user_objects(graph: GraphConnection, user_id: str, *,
                       skip_methods: str | None = None) -> UserObjects:
    """A user's authentication methods, inbox rules and delegated grants now; with
    `skip_methods` (why) the methods are not read, and marked unread with that reason."""
    user = graph.client.users.by_user_id(user_id.lower())
    methods: DirectoryResult[list[AuthMethod]] = DirectoryResult(
        [], available=False, reason=NOT_NEEDED, detail=skip_methods) if skip_methods else \
        await _collection(graph, user.authentication.methods, AuthMethodPage,
                          "authentication methods", graph.signin_limiter)
    rules: DirectoryResult[list[InboxRule]] = await _collection(
        graph, user.mail_folders.by_mail_folder_id("inbox").message_rules, InboxRulePage,
        "inbox rules", None)
    grants: DirectoryResult[list[PermissionGrant]] = await _collection(
        graph, user.oauth2_permission_grants, PermissionGrantPage, "permission grants", None)
    return UserObjects(methods, rules, grants)


__all__ = ["NOT_NEEDED", "AuditRead", "UserObjects", "directory_audits", "refusal_reason",
           "user_objects"]
