"""Pre-flight checks of a deployment or a laptop configuration (`signin-review doctor`).

Each check answers one question with `ok`, `missing` or `wrong` and, when not ok, how to fix
it; `note` is for what cannot be checked from here (said honestly, not counted as a failure).
A check marked not `required` (PIM eligibility) is reported but does not fail the doctor.

What is checked, in order: the settings; storage (reachable; the evidence container's
immutability); the reader's and the remediator's tokens and the Graph application permissions
their `roles` claim carries; the licence (a one-row signIns read); Identity Protection (P2, P1
or none); the remediator's directory roles against REMEDIATOR_DIRECTORY_ROLES; the approval
webhook and the remediation caller check.

No check ever ends the doctor with a traceback: each one runs within a time limit (a person is
waiting: the doctor's Graph calls are tried twice, not the pipeline's eight times) and whatever
goes wrong is its answer, said with the setting or URL concerned and the fix. Graph is asked with
the doctor's own pacing, so it answers even while storage (the shared budget's table) does not.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from shared.config import Settings
from shared.errors import ConfigError, GraphError, GraphUnavailable, SigninReviewError
from shared.services import Services

if TYPE_CHECKING:
    from shared.graph.client import GraphConnection

Status = Literal["ok", "missing", "wrong", "note"]

READER_PERMISSIONS = ("AuditLog.Read.All", "Directory.Read.All", "IdentityRiskyUser.Read.All",
                      "IdentityRiskEvent.Read.All")
# Optional: a review goes on without them and says what it could not read. PIM eligibility;
# what followed a sign-in: authentication methods and inbox rules (docs/persistence.md).
READER_OPTIONAL = ("RoleEligibilitySchedule.Read.Directory", "UserAuthenticationMethod.Read.All",
                   "MailboxSettings.Read")
REMEDIATOR_PERMISSIONS = ("User.RevokeSessions.All", "User.EnableDisableAccount.All",
                          "User.Read.All", "IdentityRiskyUser.ReadWrite.All",
                          "User-PasswordProfile.ReadWrite.All")
# Containment (remove methods, disable inbox rules, revoke a grant): refused without them.
REMEDIATOR_OPTIONAL = ("UserAuthenticationMethod.ReadWrite.All", "MailboxSettings.ReadWrite",
                       "DelegatedPermissionGrant.ReadWrite.All")
# Directory roles a remediator may hold (template ids are the same in every tenant).
DIRECTORY_ROLES = {
    "fe930be7-5e62-47db-91af-98c3a49a38b1": "User Administrator",
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13": "Privileged Authentication Administrator",
    "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
    "c4e39bd9-1100-46d3-8c65-fb160da0071f": "Authentication Administrator",
    "729827e3-9c14-49f7-bb1b-9608f156bbb8": "Helpdesk Administrator",
}
AZURITE_ACCOUNT = "devstoreaccount1"
# Seconds each check may take before it is reported as unanswered (`doctor --timeout`).
CHECK_SECONDS = 20.0
# Attempts per Graph request beyond the first: enough for one dropped connection.
DOCTOR_RETRY_BUDGET = 1
# Hosts the Graph client sends a token to over plain http (kiota's AzureIdentityAuthentication-
# Provider refuses every other http URL: "Only https is supported").
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# Library loggers whose lines would mix with the check lines (azure-identity logs each credential
# it tried at WARNING): the check line says what matters.
LIBRARY_LOGGERS = ("azure", "msal", "kiota_http", "kiota_abstractions", "msgraph", "httpx",
                   "urllib3")
Progress = Callable[[str, float], None]
# Graph's 403 names a permission by its admin-consent display name ("Application missing MSGraph
# API 'Read all audit log data' permission"); the fix names what to grant. Names as in the
# Microsoft Graph permissions reference (learn.microsoft.com/graph/permissions-reference).
PERMISSION_DISPLAY_NAMES = {
    "read all audit log data": "AuditLog.Read.All",
    "read directory data": "Directory.Read.All",
    "read all identity risky user information": "IdentityRiskyUser.Read.All",
    "read all identity risk event information": "IdentityRiskEvent.Read.All",
    "read all users' full profiles": "User.Read.All",
    "read all users' authentication methods": "UserAuthenticationMethod.Read.All",
    "read all user mailbox settings": "MailboxSettings.Read",
}


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


def no_token(settings: Settings, role: str, error: BaseException, seconds: float) -> Check:
    """Why no token came, with the GRAPH_CREDENTIAL that fits where this runs."""
    name = f"{role} token"
    said = _first_line(error) if not isinstance(error, TimeoutError) \
        else f"no token within {seconds:g} s"
    client_id = f"GRAPH_{role.upper()}_CLIENT_ID"
    if settings.graph_credential == "managed-identity":
        return Check(name, "missing", f"no managed identity answered "
                     f"(GRAPH_CREDENTIAL=managed-identity): {said}"[:400],
                     fix="on a laptop: `az login`, then set GRAPH_CREDENTIAL=default; in Azure: "
                         f"check that {client_id} names an identity attached to the function app")
    if settings.graph_credential == "default":
        return Check(name, "missing", f"DefaultAzureCredential found no credential "
                     f"(GRAPH_CREDENTIAL=default): {said}"[:400],
                     fix="sign in with `az login` (or `azd auth login`) as someone who may read "
                         "the tenant's sign-ins, or set AZURE_CLIENT_ID/AZURE_TENANT_ID/"
                         "AZURE_CLIENT_SECRET for an app registration")
    return Check(name, "missing", f"no token (GRAPH_CREDENTIAL=local): {said}"[:400],
                 fix="set GRAPH_LOCAL_TOKEN (and GRAPH_LOCAL_REMEDIATOR_TOKEN) to Graph tokens")


async def identity_checks(settings: Settings, seconds: float = CHECK_SECONDS,
                          progress: Progress | None = None
                          ) -> tuple[list[Check], dict[str, Any] | None]:
    """Token and permission checks for both identities; the remediator's claims."""
    checks: list[Check] = []
    remediator: dict[str, Any] | None = None
    for role, needed in (("reader", READER_PERMISSIONS), ("remediator", REMEDIATOR_PERMISSIONS)):
        if progress is not None:
            progress(f"{role} token", seconds)
        try:
            token = await asyncio.wait_for(token_of(settings, role),  # type: ignore[arg-type]
                                           seconds)
        except Exception as exc:  # any credential failure is the answer here
            checks.append(no_token(settings, role, exc, seconds))
            continue
        claims = token_claims(token)
        checks.append(Check(f"{role} token", "ok", "issued" if claims is None else
                            f"issued for app {claims.get('appid') or claims.get('azp', '?')}"))
        checks.append(permissions_check(role, claims, needed))
        if role == "reader":
            checks.append(permissions_check(role, claims, READER_OPTIONAL, required=False))
        else:
            checks.append(permissions_check(role, claims, REMEDIATOR_OPTIONAL, required=False))
            remediator = claims
    return checks, remediator


# --- Graph ----------------------------------------------------------------------------------


def _refused(name: str, exc: GraphError, what: str, url: str = "") -> Check:
    from shared.graph.directory import refusal_reason

    if isinstance(exc, GraphUnavailable) and refusal_reason(exc) == "licence":
        return Check(name, "missing", f"{what}: no licence ({exc.code})",
                     fix="the tenant needs Microsoft Entra ID P1 or P2")
    if isinstance(exc, GraphUnavailable) and exc.status == 401:
        return Check(name, "wrong", f"{what}: Graph did not accept the token: {exc.message}"[:400],
                     fix="the token is expired or for another audience or tenant: check "
                         "GRAPH_CREDENTIAL and the identity it names (a GRAPH_LOCAL_TOKEN must "
                         "be a token for https://graph.microsoft.com)")
    if isinstance(exc, GraphUnavailable):  # 403: Graph's own message names the permission
        named = [p for display, p in PERMISSION_DISPLAY_NAMES.items()
                 if f"'{display}'" in exc.message.lower()]
        return Check(name, "wrong", f"{what}: refused: {exc.message}"[:400],
                     fix=f"grant the reader {' and '.join(named) or 'the permission Graph names'}"
                         " (a Microsoft Graph application permission; the permission lines list "
                         "what its token lacks)")
    if exc.status is None:  # no answer at all
        return Check(name, "wrong", f"{what}: no answer from Graph at {url or 'GRAPH_BASE_URL'}: "
                     f"{exc.message}"[:400],
                     fix=f"check GRAPH_BASE_URL ({url}): is Graph (or the emulator) listening "
                         "there, and does this machine need a proxy (HTTPS_PROXY)?")
    return Check(name, "wrong", f"{what}: Graph failed: {exc.message}"[:400],
                 fix=f"try again later; if it persists check GRAPH_BASE_URL ({url})")


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
        return _refused("licence (signIns)", exc, "reading one sign-in",
                        services.settings.graph_base_url)
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
        return _refused(name, exc, "reading the remediator's role assignments",
                        services.settings.graph_base_url)
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


def storage_checks(services: Services, seconds: float = CHECK_SECONDS,
                   progress: Progress | None = None) -> list[Check]:
    """Storage reachable and the evidence container there; its immutability. Runs in a daemon
    thread so that an unanswered account ends the check after `seconds`, not the SDK's retries."""
    if progress is not None:
        progress("storage", seconds)
    answer: list[list[Check]] = []

    def check() -> None:
        try:
            answer.append(_storage_checks(services))
        except BaseException as exc:  # every storage failure is the answer here
            answer.append([storage_failure(services, exc)])

    worker = threading.Thread(target=check, name="doctor-storage", daemon=True)
    worker.start()
    worker.join(seconds)
    if answer:
        return answer[0]
    return [Check("storage", "missing", f"no answer from storage at {_storage_url(services)} "
                  f"within {seconds:g} s",
                  fix="check AzureWebJobsStorage (or its __*ServiceUri settings): is the account "
                      "(or Azurite) running and reachable from here?")]


def _storage_url(services: Services) -> str:
    try:
        return str(services.store.clients.blob_service.url).rstrip("/")
    except Exception:
        return "the AzureWebJobsStorage account"


def storage_failure(services: Services, exc: BaseException) -> Check:
    """The storage line for an error: the setting, the URL and the fix."""
    if isinstance(exc, ConfigError):
        return Check("storage", "missing", exc.message,
                     fix="set AzureWebJobsStorage to the account's connection string (Azurite: "
                         "UseDevelopmentStorage=true), or AzureWebJobsStorage__blobServiceUri, "
                         "__queueServiceUri and __tableServiceUri with an identity")
    code = str(getattr(exc, "error_code", "") or "")
    status = getattr(exc, "status_code", None)
    url = _storage_url(services)
    if code == "ContainerNotFound":
        return Check("storage", "missing", f"{url} answers but has no evidence container "
                     f"{services.store.names.evidence} (a fresh account or Azurite)",
                     fix="create the app's containers, tables and queues: `signin-review doctor "
                         "--create-resources` (Azurite, a laptop), or `azd up` in Azure (infra/ "
                         "creates them with the evidence immutability policy)")
    if status in (401, 403):
        return Check("storage", "wrong", f"{url} refused us ({status} {code})",
                     fix="check the account key in AzureWebJobsStorage, or grant the identity "
                         "Storage Blob Data Owner, Storage Queue Data Contributor and Storage "
                         "Table Data Contributor on the account")
    return Check("storage", "missing", f"the evidence container at {url} cannot be read: "
                 f"{type(exc).__name__}: {_first_line(exc)}"[:400],
                 fix="check AzureWebJobsStorage (or its __*ServiceUri settings): is the account "
                     "(or Azurite) running and reachable from here?")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _storage_checks(services: Services) -> list[Check]:
    store = services.store
    container = store.clients.container(store.names.evidence)
    props = container.get_container_properties()
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


def graph_url_check(settings: Settings) -> Check | None:
    """A GRAPH_BASE_URL the Graph client cannot send a token to; None when it can."""
    url = settings.graph_base_url
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and (parts.hostname or "") in LOCAL_HOSTS:
        return None  # the local emulator
    return Check("graph endpoint", "wrong", f"GRAPH_BASE_URL={url}: the Graph client sends "
                 "tokens over https only (plain http only to localhost)",
                 fix="unset GRAPH_BASE_URL (the default is https://graph.microsoft.com) or give "
                     "an https URL")


class _DoctorServices(Services):
    """The services with the doctor's own Graph pacing (see the module's docstring)."""

    def graph(self, role: Literal["reader", "remediator"] = "reader") -> GraphConnection:
        from shared.graph import connect

        return connect(self.settings, role=role)


async def _limited(name: str, check: Callable[[], Awaitable[Check]], *, url: str,
                   seconds: float, progress: Progress | None) -> Check:
    """One Graph check within its time limit; whatever goes wrong is its answer."""
    if progress is not None:
        progress(name, seconds)
    try:
        return await asyncio.wait_for(check(), seconds)
    except TimeoutError:
        return Check(name, "wrong", f"no answer from Graph at {url} within {seconds:g} s",
                     fix=f"check GRAPH_BASE_URL ({url}): is Graph (or the emulator) listening "
                         "there, and does this machine need a proxy (HTTPS_PROXY)?")
    except GraphError as exc:
        return _refused(name, exc, "asking Graph", url)
    except SigninReviewError as exc:
        return Check(name, "wrong", exc.message[:400], fix="see the message")
    except Exception as exc:  # a library's own error: said in one line, never a traceback
        return Check(name, "wrong", f"{type(exc).__name__}: {_first_line(exc)}"[:400],
                     fix=f"check GRAPH_BASE_URL ({url}) and GRAPH_CREDENTIAL")


async def graph_checks(services: Services, seconds: float = CHECK_SECONDS,
                       progress: Progress | None = None) -> list[Check]:
    checks, remediator = await identity_checks(services.settings, seconds, progress)
    if any(c.failed for c in checks if c.name == "reader token"):
        return checks
    url = services.settings.graph_base_url
    for name, check in (
        ("licence (signIns)", lambda: licence_check(services)),
        ("Identity Protection", lambda: identity_protection_check(services)),
        ("remediator directory roles", lambda: directory_roles_check(services, remediator)),
    ):
        checks.append(await _limited(name, check, url=url, seconds=seconds, progress=progress))
    return checks


def quiet_libraries() -> None:
    """Keep library log lines (azure-identity's list of credentials tried) out of the output."""
    import logging

    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.CRITICAL + 1)
        logger.propagate = False


def run_checks(services: Services, *, seconds: float = CHECK_SECONDS,
               progress: Progress | None = None) -> list[Check]:
    """Every check, in order, each within `seconds`; never raises for what it checks."""
    import msgspec

    settings = msgspec.structs.replace(
        services.settings,
        graph_retry_budget=min(services.settings.graph_retry_budget, DOCTOR_RETRY_BUDGET))
    doctor = _DoctorServices(settings, store_prefix=services.store_prefix, clock=services.clock)
    if "store" in services.__dict__:  # already built (tests, --create-resources): share it
        doctor.__dict__["store"] = services.store
    try:
        checks = storage_checks(doctor, seconds, progress)
        wrong_url = graph_url_check(settings)
        if wrong_url is not None:
            checks.append(wrong_url)
        else:
            checks += asyncio.run(graph_checks(doctor, seconds, progress))
        return checks + settings_checks(settings)
    finally:
        if "store" in doctor.__dict__ and "store" not in services.__dict__:
            doctor.store.close()
