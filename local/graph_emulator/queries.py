"""The read endpoints: query options in, Graph's collection or entity JSON out.

Each collection names the properties Graph lets callers filter on and with which operators; a
filter outside that list is a 400, as on Graph. Paging continues through `@odata.nextLink`
whose `$skiptoken` carries the filter and the last position, so the link alone continues.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from local.graph_emulator.odata import (
    Field,
    FilterError,
    Node,
    Predicate,
    Schema,
    compile_filter,
    mentions,
    parse_filter,
)
from local.graph_emulator.responses import (
    GraphFault,
    collection,
    decode_skiptoken,
    encode_skiptoken,
)
from local.graph_emulator.tenant_data import (
    INTERACTIVE,
    V1_SIGN_IN_FIELDS,
    Directory,
    Record,
    SignInTable,
    epoch,
    plan_scan,
    select,
    v1_sign_in,
)

EQ = frozenset({"eq", "ne"})
EQ_STARTS = frozenset({"eq", "ne", "startswith"})
ORDERED = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})


def _path(*names: str) -> Callable[[Record], Any]:
    if len(names) == 1:
        name = names[0]
        return lambda rec: rec.data.get(name)

    def get(rec: Record) -> Any:
        value: Any = rec.data
        for name in names:
            if not isinstance(value, dict):
                return None
            value = value.get(name)
        return value
    return get


def _ts(rec: Record) -> float:
    return rec.ts


SIGN_IN_V1: Schema = {
    ("createdDateTime",): Field("datetime", ORDERED, _ts),
    ("id",): Field("string", EQ, _path("id")),
    ("userId",): Field("string", EQ, _path("userId")),
    ("userPrincipalName",): Field("string", EQ_STARTS, _path("userPrincipalName")),
    ("userDisplayName",): Field("string", EQ_STARTS, _path("userDisplayName")),
    ("appId",): Field("string", EQ, _path("appId")),
    ("appDisplayName",): Field("string", EQ_STARTS, _path("appDisplayName")),
    ("ipAddress",): Field("string", EQ_STARTS, _path("ipAddress")),
    ("clientAppUsed",): Field("string", EQ, _path("clientAppUsed")),
    ("conditionalAccessStatus",): Field("string", EQ, _path("conditionalAccessStatus")),
    ("correlationId",): Field("string", EQ, _path("correlationId")),
    ("riskLevelDuringSignIn",): Field("string", EQ, _path("riskLevelDuringSignIn")),
    ("riskState",): Field("string", EQ, _path("riskState")),
    ("status", "errorCode"): Field("int", EQ, _path("status", "errorCode")),
    ("location", "city"): Field("string", EQ_STARTS, _path("location", "city")),
    ("location", "state"): Field("string", EQ_STARTS, _path("location", "state")),
    ("location", "countryOrRegion"): Field("string", EQ_STARTS,
                                           _path("location", "countryOrRegion")),
}
SIGN_IN_BETA: Schema = {
    **SIGN_IN_V1,
    ("signInEventTypes",): Field("strings", frozenset(), lambda rec: rec.types),
    ("autonomousSystemNumber",): Field("int", EQ, _path("autonomousSystemNumber")),
    ("userType",): Field("string", EQ, _path("userType")),
}
# riskDetections and riskyUsers support $filter (riskdetection-list, riskyuser-list); a one-user
# review filters detections on userId or userPrincipalName and the window on activityDateTime,
# and risky users on id (the user's object id) or userPrincipalName, as public integrations do.
# https://learn.microsoft.com/en-us/graph/api/riskdetection-list
# https://learn.microsoft.com/en-us/graph/api/riskyuser-list
RISK_DETECTION: Schema = {
    ("activityDateTime",): Field("datetime", ORDERED, _ts),
    ("detectedDateTime",): Field("datetime", ORDERED,
                                 lambda rec: epoch(rec.data.get("detectedDateTime"))),
    ("userId",): Field("string", EQ, _path("userId")),
    ("userPrincipalName",): Field("string", EQ, _path("userPrincipalName")),
    ("riskEventType",): Field("string", EQ, _path("riskEventType")),
    ("riskLevel",): Field("string", EQ, _path("riskLevel")),
    ("riskState",): Field("string", EQ, _path("riskState")),
    ("ipAddress",): Field("string", EQ, _path("ipAddress")),
}
RISKY_USER: Schema = {
    ("id",): Field("string", EQ, _path("id")),
    ("userPrincipalName",): Field("string", EQ, _path("userPrincipalName")),
    ("riskLevel",): Field("string", EQ, _path("riskLevel")),
    ("riskState",): Field("string", EQ, _path("riskState")),
    ("riskLastUpdatedDateTime",): Field("datetime", ORDERED, _ts),
}
# unifiedRoleAssignment: principalId, roleDefinitionId and directoryScopeId support $filter (eq).
# https://learn.microsoft.com/en-us/graph/api/resources/unifiedroleassignment
# namedLocation: Graph documents $filter on displayName and the timestamps for this list
# (learn.microsoft.com/graph/api/conditionalaccessroot-list-namedlocations, "Optional query
# parameters"); equality on displayName and id is what this emulator models.
NAMED_LOCATION: Schema = {
    ("id",): Field("string", EQ, _path("id")),
    ("displayName",): Field("string", EQ, _path("displayName")),
}
ROLE_ASSIGNMENT: Schema = {
    ("roleDefinitionId",): Field("string", EQ, _path("roleDefinitionId")),
    ("principalId",): Field("string", EQ, _path("principalId")),
    ("directoryScopeId",): Field("string", EQ, _path("directoryScopeId")),
}

# domain: the emulator filters on id (domain-list documents no $filter; Graph answers it for id).
DOMAIN: Schema = {
    ("id",): Field("string", EQ, _path("id")),
}

# A group's members are directoryObjects; the emulator lists user members and filters on id.
# https://learn.microsoft.com/en-us/graph/api/group-list-members
MEMBER: Schema = {
    ("id",): Field("string", EQ, _path("id")),
}


@dataclass(frozen=True, slots=True)
class ListRequest:
    """A collection GET as the server read it."""

    version: str
    path: str                       # e.g. "auditLogs/signIns", without the version
    options: dict[str, str]         # system query options, names without "$"
    base_url: str                   # where nextLinks point
    generation: int                 # data generation, so stale skip tokens are refused


ALLOWED_OPTIONS = frozenset({"filter", "top", "skiptoken", "select", "expand", "count"})


def _top(options: dict[str, str], default: int, maximum: int) -> int:
    raw = options.get("top")
    if raw is None:
        return default
    try:
        top = int(raw)
    except ValueError:
        raise GraphFault(400, "BadRequest", f"Invalid value '{raw}' for $top.") from None
    if not 1 <= top <= maximum:
        raise GraphFault(400, "BadRequest",
                         f"Invalid page size specified: '{top}'. Must be between 1 and {maximum}.")
    return top


def _resume(req: ListRequest) -> tuple[dict[str, str], int]:
    """Query options and cursor, taken from the skip token when there is one."""
    token = req.options.get("skiptoken")
    if token is None:
        return req.options, -1
    state = decode_skiptoken(token)
    if str(state.get("p")).lower() != req.path.lower() or state.get("v") != req.version:
        raise GraphFault(400, "BadRequest", "Invalid $skiptoken for this request.")
    if state.get("g") != req.generation:
        raise GraphFault(400, "BadRequest", "The $skiptoken has expired; start the query again.")
    options = {k: str(v) for k, v in state.get("o", {}).items()}
    return options, int(state.get("c", -1))


def _next_link(req: ListRequest, options: dict[str, str], cursor: int, *,
               again: bool = False) -> str:
    state = {"p": req.path, "v": req.version, "g": req.generation, "o": options, "c": cursor}
    if again:  # a link of its own that serves the same rows again (tenancy.repeat_pages)
        state["r"] = 1
    token = encode_skiptoken(state)
    top = f"$top={options['top']}&" if "top" in options else ""
    return f"{req.base_url}/{req.version}/{req.path}?{top}$skiptoken={quote(token)}"


def _parse(options: dict[str, str], schema: Schema, resource: str
           ) -> tuple[Node | None, Predicate]:
    text = options.get("filter")
    if text is None:
        return None, lambda rec: True
    try:
        node = parse_filter(text)
        return node, compile_filter(node, schema, resource)
    except FilterError as exc:
        raise GraphFault(400, exc.code, str(exc)) from None


def _selection(options: dict[str, str]) -> list[str] | None:
    raw = options.get("select")
    return [name.strip() for name in raw.split(",") if name.strip()] if raw else None


def _reject_unknown(options: dict[str, str], allowed: frozenset[str]) -> None:
    for name in options:
        if name not in allowed:
            raise GraphFault(400, "BadRequest", f"Query option '${name}' is not supported on "
                                                f"this resource.")


def list_sign_ins(table: SignInTable, req: ListRequest,
                  repeat: Callable[[], bool] = lambda: False,
                  since: float | None = None) -> dict[str, Any]:
    """GET auditLogs/signIns: newest first, interactive only unless beta asks for other types.
    `repeat()` says whether a page with more after it should be served once more (its nextLink
    leads to the same rows again); sign-ins before `since` (epoch seconds) are not kept."""
    _reject_unknown(req.options, frozenset({"filter", "top", "skiptoken", "select"}))
    options, cursor = _resume(req)
    beta = req.version == "beta"
    node, predicate = _parse(options, SIGN_IN_BETA if beta else SIGN_IN_V1, "signIn")
    if node is None or not mentions(node, "signInEventTypes"):
        filtered = predicate
        predicate = lambda rec: INTERACTIVE in rec.types and filtered(rec)  # noqa: E731
    if since is not None:
        kept = predicate
        predicate = lambda rec: rec.ts >= since and kept(rec)  # noqa: E731
    top = _top(options, 1000, 1000)
    rows, more = table.page(predicate, plan_scan(node, "createdDateTime"), top=top,
                            after_rank=cursor)
    fields = _selection(options)
    unknown = [name for name in fields or () if not beta and name not in V1_SIGN_IN_FIELDS]
    if unknown:
        raise GraphFault(400, "BadRequest", f"Could not find a property named '{unknown[0]}' on "
                                            f"type 'microsoft.graph.signIn'.")
    shape = (lambda row: row) if beta else v1_sign_in
    value = [select(shape(rec.data), fields) for rec in rows]
    link = None
    if more:
        again = "r" not in _token_state(req) and repeat()
        link = _next_link(req, options, cursor if again else rows[-1].rank, again=again)
    return collection(req.version, "auditLogs/signIns", value, link)


def _token_state(req: ListRequest) -> dict[str, Any]:
    token = req.options.get("skiptoken")
    return decode_skiptoken(token) if token else {}


def list_records(records: list[Record], req: ListRequest, *, schema: Schema, resource: str,
                 fragment: str, default_top: int = 500, maximum_top: int = 1000,
                 expand: Callable[[dict[str, Any]], dict[str, Any]] | None = None
                 ) -> dict[str, Any]:
    """A small collection (risk data, role assignments): filter, page by offset, expand."""
    _reject_unknown(req.options, ALLOWED_OPTIONS if expand else ALLOWED_OPTIONS - {"expand"})
    options, cursor = _resume(req)
    _, predicate = _parse(options, schema, resource)
    top = _top(options, default_top, maximum_top)
    start = cursor + 1
    matches = [rec for rec in records if predicate(rec)]
    page = matches[start:start + top]
    fields = _selection(options)
    value = [select(expand(rec.data) if expand else rec.data, fields) for rec in page]
    more = start + top < len(matches)
    link = _next_link(req, options, start + top - 1) if more else None
    body = collection(req.version, fragment, value, link)
    if options.get("count", "").lower() == "true":
        body = {"@odata.count": len(matches), **body}
    return body


def role_assignments(directory: Directory, req: ListRequest, *, eligible: bool = False
                     ) -> dict[str, Any]:
    """Active role assignments, or (`eligible`) PIM eligibility schedules: the latter are what
    `roleAssignments` leaves out (https://learn.microsoft.com/en-us/graph/api/
    rbacapplication-list-roleeligibilityschedules)."""
    kind = "unifiedRoleEligibilitySchedule" if eligible else "unifiedRoleAssignment"
    expand = req.options.get("expand")
    if expand not in (None, "principal"):
        raise GraphFault(400, "BadRequest", f"Could not find a property named '{expand}' on type "
                                            f"'microsoft.graph.{kind}'.")

    def shape(row: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in row.items() if k != "principal"}
        if expand == "principal":
            out["principal"] = row.get("principal") or directory.principal(
                str(row.get("principalId", "")))
        return out
    if eligible:
        return list_records(directory.role_eligibilities, req, schema=ROLE_ASSIGNMENT,
                            resource=kind, expand=shape,
                            fragment="roleManagement/directory/roleEligibilitySchedules")
    return list_records(directory.role_assignments, req, schema=ROLE_ASSIGNMENT,
                        resource=kind,
                        fragment="roleManagement/directory/roleAssignments", expand=shape)


def group_members(directory: Directory, req: ListRequest, group_id: str) -> dict[str, Any]:
    """GET /groups/{id}/members: the group's direct members, each a directoryObject with its
    @odata.type and (users) Graph's default user properties; pages of 100 by default, `$top` at
    most 999 (https://learn.microsoft.com/en-us/graph/api/group-list-members,
    https://learn.microsoft.com/en-us/graph/paging). An unknown group is a 404, as for users.
    Role-assignable groups hold no groups ("Group nesting isn't supported",
    https://learn.microsoft.com/en-us/entra/identity/role-based-access-control/groups-concept),
    so direct members are all of them."""
    group = directory.group(group_id)
    if group is None:
        raise user_not_found(group_id)
    rows = []
    for member_id in group.get("_members", ()):
        user = directory.user(str(member_id))
        if user is None:
            continue
        rows.append(Record({"@odata.type": "#microsoft.graph.user",
                            **{name: user.get(name, [] if name == "businessPhones" else None)
                               for name in USER_DEFAULT_FIELDS}}, -math.inf))
    return list_records(rows, req, schema=MEMBER, resource="directoryObject",
                        fragment="directoryObjects", default_top=100, maximum_top=999)


def member_of_groups(directory: Directory, req: ListRequest, user_id: str) -> dict[str, Any]:
    """GET /users/{id}/memberOf/microsoft.graph.group: the groups the user is a direct member of
    (https://learn.microsoft.com/en-us/graph/api/user-list-memberof), each with its id,
    displayName and isAssignableToRole. An unknown user is a 404."""
    user = directory.user(user_id)
    if user is None:
        raise user_not_found(user_id)
    rows = [Record({"@odata.type": "#microsoft.graph.group", "id": g.get("id"),
                    "displayName": g.get("displayName"),
                    "isAssignableToRole": g.get("isAssignableToRole")}, -math.inf)
            for g in directory.groups_of(str(user.get("id", "")))]
    return list_records(rows, req, schema=MEMBER, resource="group", fragment="groups",
                        default_top=100, maximum_top=999)


# Properties GET /users/{id} returns when no $select is given (Graph's default set).
USER_DEFAULT_FIELDS = ("businessPhones", "displayName", "givenName", "jobTitle", "mail",
                       "mobilePhone", "officeLocation", "preferredLanguage", "surname",
                       "userPrincipalName", "id")


def get_user(directory: Directory, version: str, key: str, options: dict[str, str]
             ) -> dict[str, Any]:
    _reject_unknown(options, frozenset({"select"}))
    user = directory.user(key)
    if user is None:
        raise user_not_found(key)
    fields = _selection(options) or list(USER_DEFAULT_FIELDS)
    body: dict[str, Any] = {"@odata.context": f"https://graph.microsoft.com/{version}/$metadata"
                                              f"#users/$entity"}
    body.update({name: user.get(name, [] if name == "businessPhones" else None)
                 for name in fields})
    return body


def user_not_found(key: str) -> GraphFault:
    return GraphFault(404, "Request_ResourceNotFound",
                      f"Resource '{key}' does not exist or one of its queried reference-property "
                      f"objects are not present.")
