"""Directory and risk data: privileged role members, risky users, risk detections.

A tenant without Entra ID P2 (or an app without the permission) gets 403 from Identity
Protection. That must not stop a review: each function returns a `DirectoryResult` that says
whether the data was available and, if not, why ("licence" or "permission"), so the report can
say plainly what was missing.

Identity Protection allows 1 request per second per tenant and its 429s carry no Retry-After:
those calls are paced by the connection's risk limiter and back off exponentially when refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import msgspec

from shared.errors import ConfigError, GraphError, GraphUnavailable
from shared.graph import odata
from shared.graph.calls import call, native_config
from shared.graph.client import GraphConnection, same_origin
from shared.graph.limiter import Pacer
from shared.model import DataSource, RiskDetection, RiskyUser, Window
from shared.remediation_plan import MEMBERSHIP_UNREAD, ROLE_GROUP_MEMBER

T = TypeVar("T")

# Built-in role template ids (the same in every tenant) and their names.
PRIVILEGED_ROLES: dict[str, str] = {
    "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
    "e8611ab8-c189-46e8-94e1-60213ab1f814": "Privileged Role Administrator",
    "29232cdf-9323-42fd-ade2-1d097af3e4de": "Exchange Administrator",
    "194ae4cb-b126-40b2-bd5b-6091b380977d": "Security Administrator",
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13": "Privileged Authentication Administrator",
}

LICENCE_CODE = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
# riskDetections: default page 20, `$top` at most 500 (riskdetection-list, REFERENCE.md).
RISK_DETECTIONS_TOP = 500
# Identity Protection answers both a missing licence and a missing permission with code
# `Forbidden`; only the message tells them apart ("Your tenant is not licensed for this
# feature." vs "... required scopes are missing in the token.").
_LICENCE_WORDS = ("not licensed", "premium license")


@dataclass(frozen=True)
class DirectoryResult(Generic[T]):
    """Data read from Graph, or an empty value with the reason it could not be read."""

    value: T
    available: bool = True
    reason: str | None = None  # "licence" or "permission" when not available
    detail: str = ""
    # user id (lower case) -> UPN, where the read carried it (role holders: $expand=principal)
    names: dict[str, str] = field(default_factory=dict)

    def source(self, name: str) -> DataSource:
        """How the report lists this data source."""
        if self.available:
            return DataSource(name=name, available=True, detail=self.detail)
        return DataSource(name=name, available=False, detail=f"unavailable: {self.reason}"
                          + (f" ({self.detail})" if self.detail else ""))


def refusal_reason(exc: GraphUnavailable) -> str:
    """"licence" or "permission" for a 401/403, by code and, for `Forbidden`, by message."""
    if exc.status != 403:
        return "permission"
    if exc.code == LICENCE_CODE:
        return "licence"
    if exc.code == "Forbidden" and any(w in exc.message.lower() for w in _LICENCE_WORDS):
        return "licence"
    return "permission"


def unavailable(empty: T, exc: GraphUnavailable) -> DirectoryResult[T]:
    """The result for a 401/403, saying whether a licence or a permission is missing."""
    return DirectoryResult(empty, available=False, reason=refusal_reason(exc),
                           detail=exc.message)


class _Collection(msgspec.Struct, Generic[T]):
    value: list[T]
    next_link: str | None = msgspec.field(default=None, name="@odata.nextLink")


class _Principal(msgspec.Struct, rename="camel"):
    id: str | None = None
    user_principal_name: str | None = None
    display_name: str | None = None
    odata_type: str | None = msgspec.field(default=None, name="@odata.type")


class _RoleAssignment(msgspec.Struct, rename="camel"):
    principal_id: str
    role_definition_id: str
    principal: _Principal | None = None


@dataclass
class _Listing(Generic[T]):
    """One collection GET and the pages after it."""

    what: str
    decode: Callable[[bytes], _Collection[T]]
    limiter: Pacer | None = None
    rows: list[T] = field(default_factory=list)


def next_link(graph: GraphConnection, what: str, link: str, followed: set[str]) -> str:
    """A collection's nextLink, if it may be followed: same scheme, host and port as our Graph
    and its API version (the token goes with it), and not back to a page already read."""
    if not same_origin(graph.base_url, link) or not urlsplit(link).path.lower().startswith(
            urlsplit(graph.base_url).path.lower() + "/"):
        raise GraphError(f"{what}: Graph sent a nextLink outside {graph.base_url}; not followed")
    if link in followed:
        raise GraphError(f"{what}: Graph sent a nextLink to a page already read; stopped")
    followed.add(link)
    return link


async def _list_all(graph: GraphConnection, builder: Any, query: object,
                    listing: _Listing[T]) -> list[T]:
    config = native_config(query)
    followed: set[str] = set()
    while True:
        response = await call(graph, partial(builder.get, request_configuration=config),
                              what=listing.what, limiter=listing.limiter)
        try:
            page = listing.decode(response.content)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise GraphError(f"{listing.what}: a page could not be read: {exc}") from None
        listing.rows.extend(page.value)
        if not page.next_link:
            return listing.rows
        followed.add(str(response.request.url))
        builder = builder.with_url(next_link(graph, listing.what, page.next_link, followed))
        config = native_config()


def role_ids(graph: GraphConnection) -> dict[str, str]:
    """The built-in privileged roles plus PRIVILEGED_ROLE_IDS, id -> name."""
    roles = dict(PRIVILEGED_ROLES)
    for raw in graph.settings.privileged_role_ids:
        if not odata.is_guid(raw):
            raise ConfigError(f"PRIVILEGED_ROLE_IDS holds a value that is not a GUID: {raw!r}")
        roles.setdefault(raw.lower(), f"Role {raw.lower()}")
    return roles


ELIGIBLE = " (eligible)"
VIA_GROUP = "via group "


def via_group(role: str, group: str, *, eligible: bool = False) -> str:
    """A role held through a role-assignable group, as `role_holders` names it:
    "Global Administrator (via group Tier-0 admins)", "... (eligible, via group ...)"."""
    return f"{role} ({'eligible, ' if eligible else ''}{VIA_GROUP}{group})"


@dataclass
class _GroupHolding:
    """A group some privileged roles are assigned to (or made eligible for): its name (from
    `$expand=principal`) and the roles its members hold through it, named by `via_group`."""

    name: str
    roles: list[str] = field(default_factory=list)


async def privileged_role_members(graph: GraphConnection) -> DirectoryResult[dict[str, list[str]]]:
    """Every holder of a privileged role: `role_holders` for the whole tenant."""
    return await role_holders(graph)


async def privileged_roles_of(graph: GraphConnection, user_id: str
                              ) -> DirectoryResult[dict[str, list[str]]]:
    """One user's privileged roles ({user id: role names}, empty when none): `role_holders`
    filtered on the user, so a one-user review sees PIM eligibility as the weekend run does."""
    return await role_holders(graph, odata.guid(user_id, what="a user's object id"))


async def role_holders(graph: GraphConnection, user_id: str | None = None
                       ) -> DirectoryResult[dict[str, list[str]]]:
    """User id -> names of the privileged roles the user holds: active assignments, and
    PIM-eligible ones (marked "(eligible)"), which `roleAssignments` does not list
    (https://learn.microsoft.com/en-us/graph/api/rbacapplication-list-roleeligibilityschedules;
    RoleEligibilitySchedule.Read.Directory). An admin who can activate a role in minutes is an
    admin to review.

    For the tenant (`user_id` None): a query per privileged role, filtered on roleDefinitionId.
    A role assigned (or made eligible) to a role-assignable group is held by each of the group's
    members: the group's members are read (GET /groups/{id}/members, GroupMember.Read.All,
    https://learn.microsoft.com/en-us/graph/api/group-list-members) and each user member holds
    the role "via group <name>" (`via_group`). Direct members are all there is: a role-assignable
    group cannot have groups as members ("Group nesting isn't supported",
    https://learn.microsoft.com/en-us/entra/identity/role-based-access-control/groups-concept).
    Without the permission the group assignments are counted in `detail`, not expanded.

    For one user: one query of each kind filtered on `principalId`, which unifiedRoleAssignment
    and unifiedRoleEligibilitySchedule document as filterable (eq), the way Microsoft's own "list
    role assignments of a user" example reads them
    (https://learn.microsoft.com/en-us/graph/api/resources/unifiedroleassignment,
    https://learn.microsoft.com/en-us/entra/identity/role-based-access-control/view-assignments);
    then the same two for each role-assignable group the user is a direct member of (read as
    `directory_roles` reads them, `_user_groups`), whose roles the user holds "via group" as in
    the tenant's listing. When those memberships cannot be read, `detail` says so.

    A tenant without PIM (no P2) or an app without the permission still gets the active ones;
    `detail` says eligibility could not be read.
    """
    members: dict[str, list[str]] = {}
    privileged = role_ids(graph)
    notes = []
    if user_id is None:
        filters = [(f"roleDefinitionId eq {odata.quote(r)}", n) for r, n in privileged.items()]
    else:
        principals = [user_id.lower()]
        try:
            principals += [g.id.lower() for g in await _user_groups(graph, user_id.lower())
                           if g.is_assignable_to_role and odata.is_guid(g.id)]
        except GraphError as exc:
            why = refusal_reason(exc) if isinstance(exc, GraphUnavailable) else "error"
            notes.append(f"role-assignable group memberships not read ({why}: {exc.message})")
        filters = [(f"principalId eq {odata.quote(p)}", "") for p in principals]
    groups: dict[str, _GroupHolding] = {}
    names: dict[str, str] = {}
    try:
        for clause, name in filters:
            builder = graph.client.role_management.directory.role_assignments
            await _role_holders(graph, builder, clause, name, privileged, members, groups,
                                names=names)
    except GraphUnavailable as exc:
        return unavailable({}, exc)
    try:
        for clause, name in filters:
            builder = graph.client.role_management.directory.role_eligibility_schedules
            await _role_holders(graph, builder, clause, name, privileged, members, groups,
                                eligible=True, names=names)
    except GraphUnavailable as exc:
        notes.append(f"PIM-eligible assignments not read ({refusal_reason(exc)}: "
                     f"{exc.message})")
    if groups and user_id is None:
        through: dict[str, list[str]] = {}  # merged only when every group was read
        try:
            missing = await _group_members(graph, groups, through, names)
        except GraphUnavailable as exc:
            notes.insert(0, f"{len(groups)} group(s) holding a privileged role not expanded "
                            f"({refusal_reason(exc)}: {exc.message})")
        else:
            for key, via in through.items():
                held = members.setdefault(key, [])
                held.extend(role for role in via if role not in held)
            notes.insert(0, f"members of {len(groups) - len(missing)} role-assignable "
                            "group(s) included" + (f"; group(s) not found: {', '.join(missing)}"
                                                   if missing else ""))
    elif groups and user_id is not None:  # the user's own groups: their roles are the user's
        held = members.setdefault(user_id.lower(), [])
        held.extend(role for group in groups.values() for role in group.roles
                    if role not in held)
        notes.insert(0, f"roles through {len(groups)} role-assignable group(s) included")
    if user_id is not None:
        members = {key: sorted(names) for key, names in members.items()}
    return DirectoryResult(members, detail="; ".join(notes), names=names)


async def _role_holders(graph: GraphConnection, builder: Any, clause: str, name: str,
                        privileged: dict[str, str], members: dict[str, list[str]],
                        groups: dict[str, _GroupHolding], *, eligible: bool = False,
                        names: dict[str, str] | None = None) -> None:
    """Add the users the query (`clause`, active or eligible per `builder`) finds holding a
    privileged role to `members` (under `name`, or the row's role when `name` is empty), and the
    groups it finds holding one to `groups`."""
    from msgraph.generated.role_management.directory.role_assignments.role_assignments_request_builder import (  # noqa: E501
        RoleAssignmentsRequestBuilder as Builder,
    )

    decode = msgspec.json.Decoder(_Collection[_RoleAssignment]).decode
    query = Builder.RoleAssignmentsRequestBuilderGetQueryParameters(
        filter=clause, expand=["principal"])
    kind = "role eligibilities" if eligible else "role assignments"
    listing = _Listing[_RoleAssignment](f"{kind} ({name or clause})", decode)
    for row in await _list_all(graph, builder, query, listing):
        kind = (row.principal.odata_type or "") if row.principal else ""
        role = name or privileged.get(row.role_definition_id.lower())
        if kind and not kind.endswith(".user"):
            if kind.endswith(".group") and role is not None:
                key = row.principal_id.lower()
                group = groups.setdefault(key, _GroupHolding(
                    (row.principal.display_name if row.principal else None) or key))
                held = via_group(role, group.name, eligible=eligible)
                if held not in group.roles:
                    group.roles.append(held)
            continue
        if role is None:
            continue
        role += ELIGIBLE if eligible else ""
        if names is not None and row.principal and row.principal.user_principal_name:
            names.setdefault(row.principal_id.lower(), row.principal.user_principal_name)
        roles = members.setdefault(row.principal_id.lower(), [])
        if role not in roles and role.removesuffix(ELIGIBLE) not in roles:
            roles.append(role)


class _Member(msgspec.Struct, rename="camel"):
    id: str
    user_principal_name: str | None = None
    odata_type: str | None = msgspec.field(default=None, name="@odata.type")


async def _group_members(graph: GraphConnection, groups: dict[str, _GroupHolding],
                         members: dict[str, list[str]], names: dict[str, str]) -> list[str]:
    """Each user member of each group holds the group's roles. One listing per group, read like
    the role assignments (the same calls, retries and nextLink checks); service principals and
    other non-user members are not accounts to review. The names of groups Graph no longer
    knows (404) are returned."""
    missing: list[str] = []
    decode = msgspec.json.Decoder(_Collection[_Member]).decode
    for group_id, group in groups.items():
        if not odata.is_guid(group_id):
            continue
        builder = graph.client.groups.by_group_id(group_id).members
        listing = _Listing[_Member](f"members of group {group.name}", decode)
        try:
            found = await _list_all(graph, builder, None, listing)
        except GraphUnavailable:
            raise
        except GraphError as exc:
            if exc.status != 404:
                raise
            missing.append(group.name)  # deleted since its assignment was read
            continue
        for member in found:
            if member.odata_type and not member.odata_type.endswith(".user"):
                continue
            roles = members.setdefault(member.id.lower(), [])
            roles.extend(role for role in group.roles if role not in roles)
            if member.user_principal_name:
                names.setdefault(member.id.lower(), member.user_principal_name)
    return missing


async def directory_roles(graph: GraphConnection, user_ids: list[str]
                          ) -> DirectoryResult[dict[str, set[str]]]:
    """The directory roles (template ids, lower case) each user holds, active or PIM-eligible,
    privileged or not: what decides whether the remediator may act on them (Microsoft's table of
    who may act on whom; `shared.remediation_plan`). Two queries per user, filtered on
    principalId; ids that are not GUIDs are left out.

    A member of a role-assignable group is protected like an administrator, whatever the group
    holds: such a user also gets `ROLE_GROUP_MEMBER` (and the roles the group holds need no
    reading: only Privileged Authentication or Global Administrator may act on the user either
    way). The user's groups are read with GET /users/{id}/memberOf/microsoft.graph.group
    ($select=id,isAssignableToRole; https://learn.microsoft.com/en-us/graph/api/user-list-memberof,
    Directory.Read.All, which the reader holds); direct memberships are all there is, since
    role-assignable groups cannot be nested. When that read fails (no permission, an error, the
    user not found) the user gets `MEMBERSHIP_UNREAD`: the plan then refuses rather than
    guesses."""
    from msgraph.generated.role_management.directory.role_assignments.role_assignments_request_builder import (  # noqa: E501
        RoleAssignmentsRequestBuilder as Builder,
    )

    decode = msgspec.json.Decoder(_Collection[_RoleAssignment]).decode
    found: dict[str, set[str]] = {}
    directory = graph.client.role_management.directory
    try:
        for user_id in user_ids:
            if not odata.is_guid(user_id):
                continue
            key = user_id.lower()
            query = Builder.RoleAssignmentsRequestBuilderGetQueryParameters(
                filter=f"principalId eq {odata.quote(key)}")
            held = found.setdefault(key, set())
            for builder in (directory.role_assignments, directory.role_eligibility_schedules):
                listing = _Listing[_RoleAssignment]("directory roles of one user", decode)
                rows = await _list_all(graph, builder, query, listing)
                held.update(row.role_definition_id.lower() for row in rows)
            held.add(await _role_group_membership(graph, key))
            held.discard("")
    except GraphUnavailable as exc:
        return unavailable({}, exc)
    return DirectoryResult(found)


class _Group(msgspec.Struct, rename="camel"):
    id: str
    is_assignable_to_role: bool | None = None


async def _user_groups(graph: GraphConnection, user_id: str) -> list[_Group]:
    """The groups the user is a direct member of (GET /users/{id}/memberOf/microsoft.graph.group,
    $select=id,isAssignableToRole); a GraphError when they cannot be read."""
    from msgraph.generated.users.item.member_of.graph_group.graph_group_request_builder import (
        GraphGroupRequestBuilder as Builder,
    )

    decode = msgspec.json.Decoder(_Collection[_Group]).decode
    query = Builder.GraphGroupRequestBuilderGetQueryParameters(
        select=["id", "isAssignableToRole"])
    builder = graph.client.users.by_user_id(user_id).member_of.graph_group
    listing = _Listing[_Group]("group memberships of one user", decode)
    return await _list_all(graph, builder, query, listing)


async def _role_group_membership(graph: GraphConnection, user_id: str) -> str:
    """`ROLE_GROUP_MEMBER` if the user is a member of a role-assignable group, `MEMBERSHIP_UNREAD`
    if that could not be read, "" if not."""
    try:
        groups = await _user_groups(graph, user_id)
    except GraphError:
        return MEMBERSHIP_UNREAD
    return ROLE_GROUP_MEMBER if any(g.is_assignable_to_role for g in groups) else ""


def risk_user_clause(user: str, *, id_field: str = "userId") -> str:
    """One user in an Identity Protection filter: `id_field eq` an object id, or the UPN."""
    if odata.is_guid(user):
        return f"{id_field} eq {odata.quote(user.lower())}"
    return f"userPrincipalName eq {odata.quote(odata.upn(user))}"


async def risky_users(graph: GraphConnection, user: str | None = None
                      ) -> DirectoryResult[list[RiskyUser]]:
    """Identity Protection's risky users (every risk state; callers pick what they need), or
    only `user`'s entry (riskyUsers supports $filter; `id` is the user's object id).
    https://learn.microsoft.com/en-us/graph/api/riskyuser-list"""
    from msgraph.generated.identity_protection.risky_users.risky_users_request_builder import (
        RiskyUsersRequestBuilder as Builder,
    )

    decode = msgspec.json.Decoder(_Collection[RiskyUser]).decode
    listing = _Listing[RiskyUser]("risky users", decode, graph.risk_limiter)
    query = Builder.RiskyUsersRequestBuilderGetQueryParameters(
        filter=risk_user_clause(user, id_field="id") if user else None)
    try:
        rows = await _list_all(graph, graph.client.identity_protection.risky_users, query, listing)
    except GraphUnavailable as exc:
        return unavailable([], exc)
    return DirectoryResult(rows)


async def risk_detections(graph: GraphConnection, window: Window, user: str | None = None
                          ) -> DirectoryResult[list[RiskDetection]]:
    """Risk detections whose activity falls in the window, optionally `user`'s only (filtered
    on userId or userPrincipalName). Offline detections can arrive up to 48 hours late, so a
    later re-run of the same window may see more. Pages of 500, the most `$top` allows (the
    default is 20: at 1 request per second a tenant's detections would take 25 times as long).
    https://learn.microsoft.com/en-us/graph/api/riskdetection-list"""
    from msgraph.generated.identity_protection.risk_detections.risk_detections_request_builder import (  # noqa: E501
        RiskDetectionsRequestBuilder as Builder,
    )

    decode = msgspec.json.Decoder(_Collection[RiskDetection]).decode
    listing = _Listing[RiskDetection]("risk detections", decode, graph.risk_limiter)
    query = Builder.RiskDetectionsRequestBuilderGetQueryParameters(
        filter=odata.all_of(
            odata.window_clause(window.start, window.end, field="activityDateTime"),
            risk_user_clause(user) if user else ""),
        top=RISK_DETECTIONS_TOP)
    builder = graph.client.identity_protection.risk_detections
    try:
        rows = await _list_all(graph, builder, query, listing)
    except GraphUnavailable as exc:
        return unavailable([], exc)
    return DirectoryResult(rows)


class _SyncState(msgspec.Struct, rename="camel"):
    id: str | None = None
    on_premises_sync_enabled: bool | None = None


async def synced_users(graph: GraphConnection, user_ids: list[str]) -> DirectoryResult[set[str]]:
    """Which of these users are synced from on-premises AD (onPremisesSyncEnabled): Entra ID
    refuses to disable them or reset their password. One GET per user (few users need it:
    those a high verdict proposes to disable or reset). A user Graph does not know is left out."""
    from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

    decode = msgspec.json.Decoder(_SyncState).decode
    synced: set[str] = set()
    query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
        select=["id", "onPremisesSyncEnabled"])
    try:
        for user_id in user_ids:
            if not odata.is_guid(user_id):
                continue
            builder = graph.client.users.by_user_id(user_id.lower())
            try:
                response = await call(graph, partial(builder.get,
                                                     request_configuration=native_config(query)),
                                      what="user sync state")
            except GraphUnavailable:
                raise
            except GraphError as exc:
                if exc.status == 404:
                    continue
                raise
            if decode(response.content).on_premises_sync_enabled:
                synced.add(user_id.lower())
    except GraphUnavailable as exc:
        return unavailable(synced, exc)
    return DirectoryResult(synced)
