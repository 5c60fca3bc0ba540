"""Which Graph endpoint a request names, and the answer it gets.

Reads go to `queries`; the remediation endpoints (revoke sessions, PATCH user, confirm
compromised) change the stored tenant and are recorded with what was received.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from local.graph_emulator import persistence, queries
from local.graph_emulator.queries import ListRequest, user_not_found
from local.graph_emulator.responses import GraphFault, now_iso
from local.graph_emulator.tenancy import (
    as_tenant_sends,
    empty_page_to_itself,
    history_since,
    remediation_refusal,
    revoke_refusal,
    subscribed_skus,
)

if TYPE_CHECKING:
    from local.graph_emulator.emulator import GraphEmulator

# Writable user properties this emulator accepts on PATCH /users/{id}.
USER_WRITABLE = frozenset({
    "accountEnabled", "passwordProfile", "displayName", "givenName", "surname", "jobTitle",
    "department", "officeLocation", "mobilePhone", "usageLocation", "mail", "city", "country",
})


@dataclass
class Answer:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GraphRequest:
    method: str
    version: str            # "v1.0" or "beta"
    rel_path: str           # path after the version, no leading slash
    options: dict[str, str]
    body: Any               # decoded JSON body, or None
    raw_target: str = ""    # the request's path and query as sent

    @property
    def full_path(self) -> str:
        return unquote(f"/{self.version}/{self.rel_path}")


def answer(emulator: GraphEmulator, req: GraphRequest) -> Answer:
    segments = [unquote(s) for s in req.rel_path.split("/") if s]
    lower = [s.lower() for s in segments]
    tenant = emulator.tenant()

    def listing() -> ListRequest:
        return ListRequest(req.version, "/".join(segments), req.options, emulator.base_url,
                           tenant.generation)

    match (req.method, lower):
        case ("GET", ["auditlogs", "signins"]):
            if emulator.faults.switches.empty_page_loop and "skiptoken" in req.options:
                return Answer(200, empty_page_to_itself(req.version,
                                                        emulator.base_url + req.raw_target))
            page = queries.list_sign_ins(tenant.sign_ins, listing(),
                                         repeat=lambda: emulator.faults.take("repeat_pages"),
                                         since=history_since(emulator.faults.switches))
            return Answer(200, as_tenant_sends(page, emulator.faults.switches))
        case ("GET", ["auditlogs", "directoryaudits"]):
            return Answer(200, persistence.list_audits(tenant.directory.audits, listing()))
        case ("GET", ["users", _, "authentication", "methods"]):
            return persistence.list_owned(emulator, req, segments[1], tenant.directory.methods,
                                          "authentication/methods")
        case ("GET", ["users", _, "mailfolders", "inbox", "messagerules"]):
            return persistence.list_owned(emulator, req, segments[1], tenant.directory.rules,
                                          "mailFolders('inbox')/messageRules")
        case ("GET", ["users", _, "oauth2permissiongrants"]):
            owned = [{**g, "_owner": g.get("principalId")} for g in tenant.directory.grants]
            return persistence.list_owned(emulator, req, segments[1], owned,
                                          "oauth2PermissionGrants")
        case ("DELETE", ["users", _, "authentication", kind, _]) \
                if kind in persistence.METHOD_KINDS:
            return persistence.delete_method(emulator, req, segments[1], kind, segments[4])
        case ("PATCH", ["users", _, "mailfolders", "inbox", "messagerules", _]):
            return persistence.update_rule(emulator, req, segments[1], segments[5])
        case ("DELETE", ["oauth2permissiongrants", _]):
            return persistence.delete_grant(emulator, req, segments[1])
        case ("GET", ["identityprotection", "riskyusers"]):
            return Answer(200, queries.list_records(
                tenant.directory.risky_users, listing(), schema=queries.RISKY_USER,
                resource="riskyUser", fragment="identityProtection/riskyUsers"))
        case ("GET", ["identityprotection", "riskdetections"]):
            # default page 20, $top at most 500 (riskdetection-list, "Optional query parameters")
            return Answer(200, queries.list_records(
                tenant.directory.risk_detections, listing(), schema=queries.RISK_DETECTION,
                resource="riskDetection", fragment="identityProtection/riskDetections",
                default_top=20, maximum_top=500))
        case ("POST", ["identityprotection", "riskyusers", "confirmcompromised"]):
            return confirm_compromised(emulator, req)
        case ("GET", ["identity", "conditionalaccess", "namedlocations"]):
            # Both kinds in one list, each with its @odata.type (ipNamedLocation with isTrusted
            # and ipRanges, countryNamedLocation with countriesAndRegions), as Graph answers.
            return Answer(200, queries.list_records(
                tenant.directory.named_locations, listing(), schema=queries.NAMED_LOCATION,
                resource="namedLocation", fragment="identity/conditionalAccess/namedLocations"))
        case ("GET", ["rolemanagement", "directory", "roleassignments"]):
            return Answer(200, queries.role_assignments(tenant.directory, listing()))
        case ("GET", ["rolemanagement", "directory", "roleeligibilityschedules"]):
            return Answer(200, queries.role_assignments(tenant.directory, listing(),
                                                        eligible=True))
        # the SDK's cast segment is the alias "graph.group" (its url template), others write
        # "microsoft.graph.group": Graph takes both
        case ("GET", ["users", _, "memberof", "graph.group" | "microsoft.graph.group"]):
            return Answer(200, queries.member_of_groups(tenant.directory, listing(),
                                                        segments[1]))
        case ("GET", ["groups", _, "members"]):
            return Answer(200, queries.group_members(tenant.directory, listing(), segments[1]))
        case ("GET", ["domains"]):  # https://learn.microsoft.com/en-us/graph/api/domain-list
            return Answer(200, queries.list_records(
                tenant.directory.domains, listing(), schema=queries.DOMAIN, resource="domain",
                fragment="domains"))
        case ("GET", ["subscribedskus"]):
            return Answer(200, subscribed_skus(req.version, emulator.faults.switches))
        case ("GET", ["users", _]):
            return Answer(200, queries.get_user(tenant.directory, req.version, segments[1],
                                                req.options))
        case ("PATCH", ["users", _]):
            return update_user(emulator, req, segments[1])
        case ("POST", ["users", _, "revokesigninsessions"]):
            return revoke_sessions(emulator, req, segments[1])
    known = {"auditlogs", "identityprotection", "rolemanagement", "users", "identity",
             "oauth2permissiongrants", "groups", "domains"}
    if lower and lower[0] in known:
        raise GraphFault(405, "Request_BadRequest",
                         f"The request method '{req.method}' is not supported for "
                         f"'/{'/'.join(segments)}'.")
    segment = segments[0] if segments else ""
    raise GraphFault(400, "BadRequest", f"Resource not found for the segment '{segment}'.")


def revoke_sessions(emulator: GraphEmulator, req: GraphRequest, key: str) -> Answer:
    directory = emulator.tenant().directory
    user = directory.user(key)
    refusal = None if user is None else revoke_refusal(
        emulator.faults.switches, directory.roles_of(str(user.get("id", ""))))
    result = Answer(404) if user is None else Answer(refusal.status) if refusal else Answer(200, {
        "@odata.context": f"https://graph.microsoft.com/{req.version}/$metadata#Edm.Boolean",
        "value": True,
    })
    if user is not None and refusal is None:
        with emulator.data_lock:
            user["signInSessionsValidFromDateTime"] = now_iso()
    emulator.record_remediation(req.method, req.full_path, _user_id(user, key), req.body,
                                result.status)
    if user is None:
        raise user_not_found(key)
    if refusal is not None:
        raise refusal
    return result


def update_user(emulator: GraphEmulator, req: GraphRequest, key: str) -> Answer:
    user = emulator.tenant().directory.user(key)
    problem = _patch_problem(req.body)
    refusal = None if user is None or problem else remediation_refusal(
        emulator.faults.switches, user, req.body,
        target_roles=emulator.tenant().directory.roles_of(str(user.get("id", ""))))
    status = 404 if user is None else (400 if problem else (refusal.status if refusal else 204))
    emulator.record_remediation(req.method, req.full_path, _user_id(user, key), req.body, status)
    if user is None:
        raise user_not_found(key)
    if problem:
        raise GraphFault(400, "Request_BadRequest", problem)
    if refusal is not None:
        raise refusal
    with emulator.data_lock:
        for name, value in req.body.items():
            if name == "passwordProfile" and isinstance(value, dict):
                profile = dict(user.get("passwordProfile") or {})
                profile.update({k: v for k, v in value.items() if not k.startswith("@odata.")})
                user["passwordProfile"] = profile
            elif not name.startswith("@odata."):
                user[name] = value
    return Answer(204)


def _patch_problem(body: Any) -> str | None:
    if not isinstance(body, dict) or not body:
        return "The request body must be a JSON object with the properties to update."
    for name in body:
        if not name.startswith("@odata.") and name not in USER_WRITABLE:
            return f"Property '{name}' does not exist on type 'microsoft.graph.user'."
    if "accountEnabled" in body and not isinstance(body["accountEnabled"], bool):
        return "Cannot convert the literal for property 'accountEnabled' to Edm.Boolean."
    return None


def confirm_compromised(emulator: GraphEmulator, req: GraphRequest) -> Answer:
    body = req.body if isinstance(req.body, dict) else {}
    user_ids = body.get("userIds")
    if not isinstance(user_ids, list) or not user_ids \
            or not all(isinstance(u, str) and u for u in user_ids):
        emulator.record_remediation(req.method, req.full_path, None, req.body, 400)
        raise GraphFault(400, "BadRequest", "The request body needs 'userIds': a non-empty list "
                                            "of user ids.")
    directory = emulator.tenant().directory
    unknown = [u for u in user_ids if not directory.knows(u)]
    status = 404 if unknown else 204
    for user_id in user_ids:
        emulator.record_remediation(req.method, req.full_path, user_id, req.body, status)
    if unknown:
        raise user_not_found(unknown[0])
    with emulator.data_lock:
        when = now_iso()
        for user_id in user_ids:
            directory.confirm_compromised(user_id, when)
    return Answer(204)


def _user_id(user: dict[str, Any] | None, key: str) -> str:
    return str(user.get("id") or key) if user else key
