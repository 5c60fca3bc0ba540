"""What followed the sign-ins in a named sequence: audit rows, methods and inbox rules, written
short (tests/data/detect/persistence.json) and built into Graph's shapes.

An audit row: {"at", "activity", "ip", "method", "app", "app_id", "by" ("helpdesk": an admin
acting on the user; default the user), "result"}. A method: {"id", "type", "created", "name"}.
A rule: {"id", "name", "forward_to": [...], "move_to", "delete", "mark_as_read", "enabled"}.
A case's "domains": the tenant's verified domains (default the users' contoso.com).
"""

from __future__ import annotations

from typing import Any

import msgspec

from shared.persistence.records import AuditEvent, AuthMethod, Followed, InboxRule
from tests.unit.detect_sequences import USER


def _time(text: str) -> str:
    return text if text.endswith("Z") else text + ":00Z"


def audit_event(spec: dict[str, Any], index: int, user: str = USER) -> dict[str, Any]:
    by = spec.get("by", user)
    targets: list[dict[str, Any]] = [
        {"id": user, "type": "User", "userPrincipalName": f"{user}@contoso.com"}]
    if "app" in spec:
        targets.insert(0, {"id": spec.get("app_id", "sp-1"), "type": "ServicePrincipal",
                           "displayName": spec["app"]})
    details = [{"key": "Method", "value": spec["method"]}] if "method" in spec else []
    return {
        "id": f"audit-{index}", "activityDateTime": _time(spec["at"]),
        "activityDisplayName": spec["activity"], "category": "UserManagement",
        "result": spec.get("result", "success"),
        "initiatedBy": {"user": {"id": by, "userPrincipalName": f"{by}@contoso.com",
                                 "ipAddress": spec.get("ip")}},
        "targetResources": targets, "additionalDetails": details,
    }


def auth_method(spec: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {
        "@odata.type": f"#microsoft.graph.{spec['type']}AuthenticationMethod", "id": spec["id"]}
    if "created" in spec:
        found["createdDateTime"] = _time(spec["created"])
    if "name" in spec:
        found["displayName"] = spec["name"]
    return found


def inbox_rule(spec: dict[str, Any]) -> dict[str, Any]:
    actions: dict[str, Any] = {}
    if "forward_to" in spec:
        actions["forwardTo"] = [{"emailAddress": {"address": a}} for a in spec["forward_to"]]
    if "move_to" in spec:
        actions["moveToFolder"] = spec["move_to"]
    for key, name in (("delete", "delete"), ("mark_as_read", "markAsRead")):
        if key in spec:
            actions[name] = spec[key]
    return {"id": spec["id"], "displayName": spec.get("name"), "sequence": 1,
            "isEnabled": spec.get("enabled", True), "actions": actions}


def followed(case: dict[str, Any]) -> Followed:
    """The case's audit rows, methods and rules; methods and rules are None when not given."""
    return Followed(
        audit_events=msgspec.convert([audit_event(s, i) for i, s in
                                      enumerate(case.get("audit", []))], list[AuditEvent]),
        audit_read="audit" in case,
        methods=msgspec.convert([auth_method(s) for s in case["methods"]], list[AuthMethod])
        if "methods" in case else None,
        rules=msgspec.convert([inbox_rule(s) for s in case["rules"]], list[InboxRule])
        if "rules" in case else None,
        tenant_domains=case.get("domains", ["contoso.com"]),  # the tenant's verified ones
    )
