"""What follows some sign-ins in the sample tenant: directory audit rows, authentication methods,
inbox rules and delegated grants, as Graph serves them (local/graph_emulator/persistence.py).

Hostile, tied to an attack's own address and minutes:
- the AiTM session (attacks.impossible_travel) registers the attacker's Microsoft Authenticator
  four minutes after the stolen session is replayed: AiTM kits do it at once so the account
  survives a password reset ("User registered security info", loggedByService "Authentication
  Methods", initiatedBy.user.ipAddress the attacker's);
- the credential-stuffing success (attacks.new_country_success) consents a mail-reading app
  ("Consent to application"; the user's own delegated grant, consentType "Principal");
- the MFA-fatigue success (attacks.mfa_fatigue) leaves an inbox rule forwarding invoices outside
  the organisation (Graph gives rules no creation time; the Exchange audit holds when).
Benign, from the user's own home connection:
- one weekend catch-up (benign.ordinary_weekend) registers a new phone's Authenticator;
- one user who mistyped their password (benign.typo_then_success) resets it through self-service.
Every user has a password and their own Authenticator, registered long before the history.

No random numbers are drawn here: adding these leaves every other record of the tenant as it
was. Ids are derived from the user's id.
"""

from __future__ import annotations

import uuid
from typing import Any

from local.tenant.people import Person
from local.tenant.scene import Scene

# The password method's id is the same for every user (authentication-list-methods' example).
PASSWORD_METHOD_ID = "28c10230-6103-485e-b985-444c60001490"
_NAMESPACE = uuid.UUID("6f1c8a52-4e0d-4f3b-9a77-2d5b1e0c9a11")
MAIL_APP = ("Mail Backup Pro", "3c9e7d21-5f8a-4b6e-9d10-7a2f4c8e1b55")
GRAPH_SP = "00000003-0000-0000-c000-000000000000"


def _id(person: Person, what: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{person.id}:{what}"))


def _audit(scene: Scene, person: Person, at: int, activity: str, ip: str, *,
           service: str, category: str, method: str | None = None,
           app: tuple[str, str] | None = None) -> dict[str, Any]:
    targets: list[dict[str, Any]] = [{
        "id": person.id, "displayName": person.display_name, "type": "User",
        "userPrincipalName": person.upn, "modifiedProperties": []}]
    if app is not None:
        targets.insert(0, {"id": app[1], "displayName": app[0], "type": "ServicePrincipal",
                           "modifiedProperties": []})
    row = {
        "id": f"{category}_{_id(person, activity)}", "category": category,
        "correlationId": _id(person, activity + ":correlation"), "result": "success",
        "resultReason": "", "activityDisplayName": activity,
        "activityDateTime": scene.log.iso(at), "loggedByService": service,
        "operationType": "Add",
        "initiatedBy": {"user": {"id": person.id, "displayName": None,
                                 "userPrincipalName": person.upn, "ipAddress": ip},
                        "app": None},
        "targetResources": targets,
        "additionalDetails": [{"key": "Method", "value": method}] if method else [],
    }
    scene.audits.append(row)
    return row


def _authenticator(scene: Scene, person: Person, at: int, what: str, model: str
                   ) -> dict[str, Any]:
    method = {"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
              "id": _id(person, what), "displayName": model, "deviceTag": "SoftwareTokenActivated",
              "phoneAppVersion": "6.2401.0119", "createdDateTime": scene.log.iso(at),
              "_owner": person.id}
    scene.methods.append(method)
    return method


def registers_authenticator(scene: Scene, person: Person, at: int, ip: str) -> None:
    """The attacker's kit registers their own Authenticator from the replayed session."""
    _audit(scene, person, at, "User registered security info", ip,
           service="Authentication Methods", category="UserManagement",
           method="Microsoft Authenticator App")
    _authenticator(scene, person, at, "attacker-authenticator", "SM-A515F")


def consents_mail_app(scene: Scene, person: Person, at: int, ip: str) -> None:
    """Consent phishing: the user 'consents' an app that reads mail, from the attacker's host."""
    _audit(scene, person, at, "Consent to application", ip, service="Core Directory",
           category="ApplicationManagement", app=MAIL_APP)
    _audit(scene, person, at + 1, "Add delegated permission grant", ip,
           service="Core Directory", category="ApplicationManagement", app=MAIL_APP)
    scene.grants.append({"id": _id(person, "mail-app-grant"), "clientId": MAIL_APP[1],
                         "consentType": "Principal", "principalId": person.id,
                         "resourceId": GRAPH_SP, "scope": "Mail.Read Mail.Send offline_access"})


def forwarding_rule(scene: Scene, person: Person) -> None:
    scene.rules.append({
        "id": _id(person, "forwarding-rule"), "displayName": ".", "sequence": 1,
        "isEnabled": True, "hasError": False, "isReadOnly": False,
        "conditions": {"subjectContains": ["invoice", "payment"]},
        "actions": {"forwardTo": [{"emailAddress": {"name": "Accounts",
                                                    "address": "accounts.ledger@proton.me"}}],
                    "markAsRead": True, "stopProcessingRules": True},
        "_owner": person.id})


def new_phone_at_home(scene: Scene, person: Person, at: int, ip: str) -> None:
    """A user sets up a new phone at home on a weekend morning (once in the tenant)."""
    if scene.benign_phone:
        return
    scene.benign_phone = person.id
    _audit(scene, person, at, "User registered security info", ip,
           service="Authentication Methods", category="UserManagement",
           method="Microsoft Authenticator App")
    _authenticator(scene, person, at, "new-phone", "iPhone 15")


def self_service_reset(scene: Scene, person: Person, at: int, ip: str) -> None:
    _audit(scene, person, at, "Reset password (self-service)", ip,
           service="Self-service Password Management", category="UserManagement")


def own_methods(scene: Scene, people: list[Person]) -> list[dict[str, Any]]:
    """Every user's password and own Authenticator (registered months before the history),
    then the methods the scenarios added."""
    found: list[dict[str, Any]] = []
    for person in people:
        found.append({"@odata.type": "#microsoft.graph.passwordAuthenticationMethod",
                      "id": PASSWORD_METHOD_ID, "password": None,
                      "createdDateTime": "2024-09-02T08:00:00Z", "_owner": person.id})
        found.append({"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
                      "id": _id(person, "own-authenticator"), "displayName": "Pixel 7",
                      "deviceTag": "SoftwareTokenActivated", "phoneAppVersion": "6.2311.7543",
                      "createdDateTime": f"2024-09-{2 + person.index % 27:02d}T09:15:00Z",
                      "_owner": person.id})
    return found + scene.methods
