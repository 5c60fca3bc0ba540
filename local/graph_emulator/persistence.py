"""What followed a sign-in, as Graph serves it, and the containment calls that remove it.

Reads:
- GET /auditLogs/directoryAudits: `$filter` with eq, ge, le and startswith, `$top`, skiptoken
  (https://learn.microsoft.com/en-us/graph/api/directoryaudit-list); filterable here on
  activityDateTime, activityDisplayName, category, loggedByService, id, correlationId and
  initiatedBy/user/id (that page's example 2). The page documents `$top` without a default or a
  maximum: this emulator pages by 100 unless asked, up to 1000 (signIns' maximum).
- GET /users/{id}/authentication/methods
  (https://learn.microsoft.com/en-us/graph/api/authentication-list-methods).
- GET /users/{id}/mailFolders/inbox/messageRules
  (https://learn.microsoft.com/en-us/graph/api/mailfolder-list-messagerules).
- GET /users/{id}/oauth2PermissionGrants
  (https://learn.microsoft.com/en-us/graph/api/user-list-oauth2permissiongrants).
Changes (recorded like the other remediation calls):
- DELETE /users/{id}/authentication/{kind}Methods/{methodId}: 204. There is no DELETE on the
  generic /authentication/methods/{id}; each kind has its own (e.g.
  https://learn.microsoft.com/en-us/graph/api/microsoftauthenticatorauthenticationmethod-delete).
  A phone number that is the user's default MFA method "cannot be deleted" until the user picks
  another default (https://learn.microsoft.com/en-us/graph/api/phoneauthenticationmethod-delete):
  400 here; the password method has no DELETE.
- PATCH /users/{id}/mailFolders/inbox/messageRules/{ruleId}: 200 with the rule
  (https://learn.microsoft.com/en-us/graph/api/messagerule-update).
- DELETE /oauth2PermissionGrants/{id}: 204
  (https://learn.microsoft.com/en-us/graph/api/oauth2permissiongrant-delete).

Per-user rows are stored as Graph sends them plus `_owner` (the user's object id), which is
never served.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from local.graph_emulator.odata import Field, Schema
from local.graph_emulator.queries import (
    EQ,
    EQ_STARTS,
    ORDERED,
    ListRequest,
    _path,
    list_records,
    user_not_found,
)
from local.graph_emulator.responses import GraphFault, collection
from local.graph_emulator.tenant_data import Record

if TYPE_CHECKING:
    from local.graph_emulator.emulator import GraphEmulator
    from local.graph_emulator.routes import Answer, GraphRequest

DIRECTORY_AUDIT: Schema = {
    ("activityDateTime",): Field("datetime", ORDERED, lambda rec: rec.ts),
    ("activityDisplayName",): Field("string", EQ_STARTS, _path("activityDisplayName")),
    ("category",): Field("string", EQ, _path("category")),
    ("loggedByService",): Field("string", EQ, _path("loggedByService")),
    ("id",): Field("string", EQ, _path("id")),
    ("correlationId",): Field("string", EQ, _path("correlationId")),
    ("initiatedBy", "user", "id"): Field("string", EQ, _path("initiatedBy", "user", "id")),
}

# The per-kind method collections and the @odata.type each holds.
METHOD_KINDS = {
    "microsoftauthenticatormethods": "microsoftAuthenticator", "phonemethods": "phone",
    "fido2methods": "fido2", "softwareoathmethods": "softwareOath", "emailmethods": "email",
    "windowshelloforbusinessmethods": "windowsHelloForBusiness",
    "temporaryaccesspassmethods": "temporaryAccessPass",
}


def served(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def list_audits(records: list[Record], req: ListRequest) -> dict[str, Any]:
    return list_records(records, req, schema=DIRECTORY_AUDIT, resource="directoryAudit",
                        fragment="auditLogs/directoryAudits", default_top=100,
                        maximum_top=1000)


def _owned(emulator: GraphEmulator, rows: list[dict[str, Any]], key: str
           ) -> tuple[str, list[dict[str, Any]]]:
    user = emulator.tenant().directory.user(key)
    if user is None:
        raise user_not_found(key)
    user_id = str(user.get("id", "")).lower()
    return user_id, [row for row in rows if str(row.get("_owner", "")).lower() == user_id]


def list_owned(emulator: GraphEmulator, req: GraphRequest, key: str, rows: list[dict[str, Any]],
               fragment: str) -> Answer:
    from local.graph_emulator.routes import Answer

    user_id, mine = _owned(emulator, rows, key)
    return Answer(200, collection(req.version, f"users('{user_id}')/{fragment}",
                                  [served(r) for r in mine], None))


def delete_method(emulator: GraphEmulator, req: GraphRequest, key: str, kind: str,
                  method_id: str) -> Answer:
    from local.graph_emulator.routes import Answer

    directory = emulator.tenant().directory
    user = directory.user(key)
    status, fault = 204, None
    with emulator.data_lock:
        mine = [] if user is None else _owned(emulator, directory.methods, key)[1]
        found = next((m for m in mine if str(m.get("id")) == method_id and
                      str(m.get("@odata.type", "")).endswith(f".{METHOD_KINDS[kind]}"
                                                             "AuthenticationMethod")), None)
        if user is None:
            status, fault = 404, user_not_found(key)
        elif found is None:
            status, fault = 404, GraphFault(404, "itemNotFound",
                                            f"The authentication method '{method_id}' was not "
                                            "found.")
        elif found.get("_isDefault") and METHOD_KINDS[kind] == "phone":
            status, fault = 400, GraphFault(400, "badRequest",
                                            "The phone number is the user's default "
                                            "authentication method and cannot be deleted.")
        else:
            directory.methods.remove(found)
    emulator.record_remediation(req.method, req.full_path, _id(user, key), req.body, status)
    if fault is not None:
        raise fault
    return Answer(204)


def update_rule(emulator: GraphEmulator, req: GraphRequest, key: str, rule_id: str) -> Answer:
    from local.graph_emulator.routes import Answer

    directory = emulator.tenant().directory
    user = directory.user(key)
    body = req.body if isinstance(req.body, dict) else None
    with emulator.data_lock:
        mine = [] if user is None else _owned(emulator, directory.rules, key)[1]
        rule = next((r for r in mine if str(r.get("id")) == rule_id), None)
        if user is None or rule is None or not body:
            status = 404 if user is None or rule is None else 400
        else:
            status = 200
            rule.update({k: v for k, v in body.items() if not k.startswith("@odata.")})
    emulator.record_remediation(req.method, req.full_path, _id(user, key), req.body, status)
    if user is None:
        raise user_not_found(key)
    if rule is None:
        raise GraphFault(404, "ErrorItemNotFound", "The specified object was not found in the "
                                                   "store.")
    if status == 400:
        raise GraphFault(400, "ErrorInvalidRequest", "The request body must hold the rule's "
                                                     "properties to update.")
    return Answer(200, {"@odata.context": f"https://graph.microsoft.com/{req.version}/$metadata"
                                          f"#users('{_id(user, key)}')/mailFolders('inbox')/"
                                          "messageRules/$entity", **served(rule)})


def delete_grant(emulator: GraphEmulator, req: GraphRequest, grant_id: str) -> Answer:
    from local.graph_emulator.routes import Answer

    directory = emulator.tenant().directory
    with emulator.data_lock:
        grant = next((g for g in directory.grants if str(g.get("id")) == grant_id), None)
        if grant is not None:
            directory.grants.remove(grant)
    owner = str(grant.get("principalId") or "") if grant else None
    emulator.record_remediation(req.method, req.full_path, owner, req.body,
                                204 if grant else 404)
    if grant is None:
        raise GraphFault(404, "Request_ResourceNotFound",
                         f"Resource '{grant_id}' does not exist or one of its queried "
                         "reference-property objects are not present.")
    return Answer(204)


def _id(user: dict[str, Any] | None, key: str) -> str:
    return str(user.get("id") or key) if user else key
