"""Pre-flight checks of a deployment or a laptop configuration (`signin-review doctor`).

Each check answers one question with `ok`, `missing` or `wrong` and, when not ok, how to fix
it; `note` is for what cannot be checked from here (said honestly, not counted as a failure).
A check marked not `required` (PIM eligibility) is reported but does not fail the doctor.

What is checked, in order: the settings; storage (reachable; the evidence container's
immutability); the reader's and the remediator's tokens and the Graph application permissions
their `roles` claim carries; the licence (a one-row signIns read); Identity Protection (P2, P1
or none); the remediator's directory roles against REMEDIATOR_DIRECTORY_ROLES; the approval
webhook and the remediation caller check.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from shared.config import Settings
from shared.errors import GraphError, GraphUnavailable, SigninReviewError
from shared.services import Services

Status = Literal["ok", "missing", "wrong", "note"]

READER_PERMISSIONS = ("AuditLog.Read.All", "Directory.Read.All", "IdentityRiskyUser.Read.All",
                      "IdentityRiskEvent.Read.All")
READER_OPTIONAL = ("RoleEligibilitySchedule.Read.Directory",)
REMEDIATOR_PERMISSIONS = ("User.RevokeSessions.All", "User.EnableDisableAccount.All",
                          "User.Read.All", "IdentityRiskyUser.ReadWrite.All",
                          "User-PasswordProfile.ReadWrite.All")
# Directory roles a remediator may hold (template ids are the same in every tenant).
DIRECTORY_ROLES = {
    "fe930be7-5e62-47db-91af-98c3a49a38b1": "User Administrator",
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13": "Privileged Authentication Administrator",
    "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
    "c4e39bd9-1100-46d3-8c65-fb160da0071f": "Authentication Administrator",
    "729827e3-9c14-49f7-bb1b-9608f156bbb8": "Helpdesk Administrator",
}
AZURITE_ACCOUNT = "devstoreaccount1"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""
    required: bool = True

    @property
    def failed(self) -> bool:
        return self.required and self.status in ("missing", "wrong")


# --- tokens ---------------------------------------------------------------------------------


def token_claims(token: str) -> dict[str, Any] | None:
    """The claims of a JWT, unverified (we only read what our own identity was given); None
    when the token is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def permissions_check(role: str, claims: dict[str, Any] | None,
                      needed: tuple[str, ...], *, required: bool = True) -> Check:
    name = f"{role} permissions" if required else f"{role} permissions (optional)"
    if claims is None:
        return Check(name, "note", "the token is not a JWT (a local token?): its permissions "
                     "cannot be read from it", required=False)
    held = claims.get("roles") or []
    lacking = [p for p in needed if p not in held]
    if not lacking:
        return Check(name, "ok", ", ".join(needed), required=required)
    return Check(name, "missing", "the token's roles claim lacks " + ", ".join(lacking),
                 fix=f"grant the {role} identity these Microsoft Graph application permissions "
                     "(infra/modules/entra.bicep does on `azd up`; a token issued before the "
                     "grant lacks them for up to an hour)", required=required)


async def token_of(settings: Settings, role: Literal["reader", "remediator"]) -> str:
    from shared.graph.client import credential_for

    credential = credential_for(settings, role)
    try:
        token = await credential.get_token("https://graph.microsoft.com/.default")
    finally:
        await credential.close()
    return token.token


async def identity_checks(settings: Settings) -> tuple[list[Check], dict[str, Any] | None]:
    """Token and permission checks for both identities; the remediator's claims."""
    checks: list[Check] = []
    remediator: dict[str, Any] | None = None
    for role, needed in (("reader", READER_PERMISSIONS), ("remediator", REMEDIATOR_PERMISSIONS)):
        try:
            token = await token_of(settings, role)  # type: ignore[arg-type]
        except Exception as exc:  # any credential failure is the answer here
            checks.append(Check(f"{role} token", "missing", f"no token: {exc}"[:300],
                                fix=f"check GRAPH_CREDENTIAL and GRAPH_{role.upper()}_CLIENT_ID"))
            continue
        claims = token_claims(token)
        checks.append(Check(f"{role} token", "ok", "issued" if claims is None else
                            f"issued for app {claims.get('appid') or claims.get('azp', '?')}"))
        checks.append(permissions_check(role, claims, needed))
        if role == "reader":
            checks.append(permissions_check(role, claims, READER_OPTIONAL, required=False))
        else:
            remediator = claims
    return checks, remediator


# --- Graph ----------------------------------------------------------------------------------


def _refused(name: str, exc: GraphError, what: str) -> Check:
    from shared.graph.directory import refusal_reason

    if isinstance(exc, GraphUnavailable) and refusal_reason(exc) == "licence":
        return Check(name, "missing", f"{what}: no licence ({exc.code})",
                     fix="the tenant needs Microsoft Entra ID P1 or P2")
    if isinstance(exc, GraphUnavailable):
        return Check(name, "wrong", f"{what}: refused ({exc.status} {exc.code})",
                     fix="grant the reader's Graph permissions (see the permission lines above)")
    return Check(name, "wrong", f"{what}: Graph failed: {exc.message}"[:300],
                 fix="try again later; if it persists check GRAPH_BASE_URL")


async def licence_check(services: Services) -> Check:
    """One row of signIns from the last hour: the licence, the permission, the endpoint."""
    from shared.graph import stream_sign_ins
    from shared.model import Window

    now = services.clock()
    try:
        async with services.graph() as graph:
            async for page in stream_sign_ins(graph, Window(now - timedelta(hours=1), now),
                                              page_size=1):
                rows = len(page.sign_ins)
                break
            else:
                rows = 0
    except GraphError as exc:
        return _refused("licence (signIns)", exc, "reading one sign-in")
    return Check("licence (signIns)", "ok", f"sign-ins readable ({rows} row read)")


async def identity_protection_check(services: Services) -> Check:
    """Risk detections (P1 or P2) and risky users (P2)."""
    from shared.graph import risk_detections, risky_users
    from shared.model import Window

    now = services.clock()
    name = "Identity Protection"
    async with services.graph() as graph:
        detections = await risk_detections(graph, Window(now - timedelta(hours=1), now))
        users = await risky_users(graph)
    if detections.available and users.available:
        return Check(name, "ok", "P2: risk detections and risky users readable")
    if detections.available and users.reason == "licence":
        return Check(name, "ok", "P1: risk detections readable, risky users need P2 (the "
                     "report says so; confirm compromised is not proposed)")
    refused = [r for r in (detections, users) if not r.available]
    if any(r.reason == "permission" for r in refused):
        return Check(name, "wrong", "refused: " + "; ".join(r.detail for r in refused),
                     fix="grant IdentityRiskEvent.Read.All and IdentityRiskyUser.Read.All")
    return Check(name, "note", "no Identity Protection licence: reviews go on without risk "
                 "data and say so", required=False)


async def directory_roles_check(services: Services, claims: dict[str, Any] | None) -> Check:
    """The remediator's directory roles, read through the reader, against the setting."""
    name = "remediator directory roles"
    configured = list(services.settings.remediator_directory_roles)
    oid = (claims or {}).get("oid")
    if not isinstance(oid, str):
        return Check(name, "note", f"configured: {', '.join(configured) or 'none'}; the "
                     "remediator's object id is not in its token, so Graph was not asked",
                     required=False)
    try:
        held = await _roles_held(services, oid)
    except GraphError as exc:
        return _refused(name, exc, "reading the remediator's role assignments")
    if not held:
        return Check(name, "missing", "the remediator holds no directory role: password "
                     "resets fail for everyone",
                     fix="assign User Administrator (or, knowing the trade-off, Privileged "
                         "Authentication Administrator) to it: docs/deploy.md")
    claimed = {r.lower() for r in configured} - {r.lower() for r in held}
    if claimed:
        return Check(name, "wrong", f"REMEDIATOR_DIRECTORY_ROLES says {', '.join(configured)} "
                     f"but Graph shows {', '.join(held)}",
                     fix="set REMEDIATOR_DIRECTORY_ROLES to the roles it holds, or assign them")
    return Check(name, "ok", ", ".join(held))


async def _roles_held(services: Services, principal_id: str) -> list[str]:
    from msgraph.generated.role_management.directory.role_assignments.role_assignments_request_builder import (  # noqa: E501
        RoleAssignmentsRequestBuilder as Builder,
    )

    from shared.graph import odata
    from shared.graph.calls import call, native_config

    if not odata.is_guid(principal_id):
        return []
    query = Builder.RoleAssignmentsRequestBuilderGetQueryParameters(
        filter=f"principalId eq {odata.quote(principal_id.lower())}")
    async with services.graph() as graph:
        builder = graph.client.role_management.directory.role_assignments
        response = await call(graph, lambda: builder.get(request_configuration=native_config(
            query)), what="remediator role assignments")
    rows = json.loads(response.content).get("value", [])
    ids = {str(row.get("roleDefinitionId", "")).lower() for row in rows}
    return [DIRECTORY_ROLES.get(i, f"role {i}") for i in sorted(ids)]


# --- storage and settings -------------------------------------------------------------------


def storage_checks(services: Services) -> list[Check]:
    store = services.store
    try:
        container = store.clients.container(store.names.evidence)
        props = container.get_container_properties()
    except Exception as exc:  # every storage failure is the answer here
        return [Check("storage", "missing", f"the evidence container cannot be read: {exc}"[:300],
                      fix="check AzureWebJobsStorage (or its __*ServiceUri settings) and the "
                          "identity's Storage Blob Data Owner role")]
    checks = [Check("storage", "ok", f"evidence container {store.names.evidence} reachable")]
    account = str(getattr(container, "account_name", "") or "")
    if account == AZURITE_ACCOUNT:
        checks.append(Check("evidence immutability", "note", "Azurite has no immutability "
                            "policies: evidence is kept write-once by create-only writes only",
                            required=False))
    elif getattr(props, "immutable_storage_with_versioning_enabled", False):
        checks.append(Check("evidence immutability", "ok", "version-level WORM enabled"))
    elif getattr(props, "has_immutability_policy", False):
        checks.append(Check("evidence immutability", "ok", "a container immutability policy is "
                            "set (locked or unlocked: `az storage container immutability-policy "
                            "show` tells; a locked one can never be shortened or removed)"))
    else:
        checks.append(Check("evidence immutability", "missing", "no immutability policy: "
                            "evidence could be deleted by anyone with data access",
                            fix="deploy infra/ (storage module) or add a time-based retention "
                                "policy to the evidence container"))
    return checks


def settings_checks(settings: Settings) -> list[Check]:
    from shared.api.auth import auth_policy, missing_settings

    url = settings.approval_webhook_url
    checks = []
    if not url:
        checks.append(Check("approval webhook", "missing", "APPROVAL_WEBHOOK_URL is not set: "
                            "nobody is asked to approve remediation",
                            fix="set it to the Logic App trigger URL (azd sets it)"))
    elif not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        checks.append(Check("approval webhook", "wrong", "APPROVAL_WEBHOOK_URL is not https",
                            fix="use the Logic App's https trigger URL"))
    else:
        checks.append(Check("approval webhook", "ok", url.split("?", 1)[0]))
    missing = missing_settings(settings)
    if missing:
        checks.append(Check("remediation auth", "missing", "remediation is refused until "
                            "these settings are set: " + ", ".join(missing),
                            fix="set the AUTH_* settings and REMEDIATION_ALLOWED_CALLERS "
                                "(docs/deploy.md)"))
    else:
        policy = auth_policy(settings)
        checks.append(Check("remediation auth", "ok", f"audience {policy.audience}, "
                            f"{len(policy.allowed_callers)} allowed caller(s)"))
    return checks


async def graph_checks(services: Services) -> list[Check]:
    checks, remediator = await identity_checks(services.settings)
    if any(c.failed for c in checks if c.name == "reader token"):
        return checks
    checks.append(await licence_check(services))
    checks.append(await identity_protection_check(services))
    checks.append(await directory_roles_check(services, remediator))
    return checks


def run_checks(services: Services) -> list[Check]:
    """Every check, in order; never raises for what it checks."""
    import asyncio

    checks = storage_checks(services)
    try:
        checks += asyncio.run(graph_checks(services))
    except SigninReviewError as exc:
        checks.append(Check("graph", "wrong", exc.message, fix="check the GRAPH_* settings"))
    return checks + settings_checks(services.settings)
