"""What real tenants do that an emulator easily misses: licence tiers, the two kinds of 403 on
signIns and on Identity Protection, lower-case nextLinks, fractional Retry-After, slow queries,
expired skip tokens, the UPNs sign-ins carry, and the remediation Graph refuses.

Each behaviour is a switch (`faults.Switches`) and traces to a public source:

- nextLink casing: the signIns "List" examples request `/auditLogs/signIns` and answer with
  `@odata.nextLink` `.../auditLogs/signins?...&$skiptoken=...`
  (https://learn.microsoft.com/en-us/graph/api/signin-list, "Response" of example 1).
- Fractional Retry-After (`Retry-After: 2.128`) and the `TooManyRequests` body:
  https://learn.microsoft.com/en-us/graph/throttling ("Sample response").
- Licence 403 `Authentication_RequestFromNonPremiumTenantOrB2CTenant` on signIns without P1/P2
  (signin-list "Permissions" note), reported intermittently to tenants holding P1/P2:
  https://github.com/microsoftgraph/microsoft-graph-docs/issues/11986 and
  https://github.com/microsoftgraph/microsoft-graph-docs/issues/14120.
- Missing AuditLog.Read.All: 403 `Authentication_MSGraphPermissionMissing` "Application missing
  MSGraph API 'Read all audit log data' permission" (REFERENCE.md, checked against public threads).
- Identity Protection's 403s both say `Forbidden`; the message tells licence from permission
  (https://learn.microsoft.com/en-us/graph/api/resources/identityprotection-overview, licensing;
  REFERENCE.md). riskDetections need P1 or P2, riskyUsers P2: a P1 tenant reads detections only.
- Slow filtered signIns queries run up to ~300 s and then fail with 504; skip tokens expire (400)
  (https://learn.microsoft.com/en-us/graph/api/signin-list, REFERENCE.md).
- Sign-ins store userPrincipalName in lower case; a guest's carry the home UPN, not the `#EXT#`
  form (https://learn.microsoft.com/en-us/entra/identity/monitoring-health/
  concept-sign-ins, REFERENCE.md).
- Read timeouts (`silent_slow_query`): a slow filtered signIns query more often gets no answer
  at all within ~300 s than a 504 (msgraph-sdk-powershell #3146, #2941; REFERENCE.md): the
  emulator holds the answer until the client hangs up.
- Empty pages (`empty_page_loop`): a page may be empty and still carry a nextLink (Graph docs
  paging.md; microsoft-graph-docs PR #16718); this one's link is its own URL, which a client
  following links blindly would read without end.
- Repeated pages (`repeat_pages`): a page served a second time under a new link (as after a
  retried request or an expired skip token read again): its rows must count once.
- Foreign nextLinks (`next_link_base`): kiota's allowed-hosts check compares host names only,
  not ports or schemes (kiota_abstractions/authentication/allowed_hosts_validator.py), so a
  link to another port would carry the token; the client must check every link it follows.
- Licences and retention (`tier`, `premium`, `history_since`): /subscribedSkus lists the
  tenant's subscriptions with their service plans (AAD_PREMIUM for P1, AAD_PREMIUM_P2 for P2;
  https://learn.microsoft.com/en-us/graph/api/subscribedsku-list and "Product names and service
  plan identifiers for licensing"); sign-ins are kept 7 days free, 30 days P1/P2, and a tenant
  that has just upgraded sees only about 7 days at first (reference-reports-data-retention;
  REFERENCE.md): `history_since` hides sign-ins before a moment.
- Remediation: an app changing accountEnabled or passwordProfile of an administrator needs a
  role that may act on them, else 403 `Authorization_RequestDenied`: User Administrator may act
  on Helpdesk, Password and User Administrators and Directory Readers, anyone else with a role
  needs Privileged Authentication Administrator or Global Administrator
  (https://learn.microsoft.com/en-us/graph/api/resources/users#who-can-perform-sensitive-actions);
  revokeSignInSessions is refused alike for administrators (Azure-Sentinel #783,
  microsoft-365-docs #12853; REFERENCE.md);
  synced (on-premises mastered) users answer 400 `Request_BadRequest` (REFERENCE.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from local.graph_emulator.responses import GraphFault

if TYPE_CHECKING:
    from local.graph_emulator.faults import Switches

TIERS = ("P2", "P1")
TENANCY_SWITCHES = frozenset({
    "tier", "lowercase_next_link", "fractional_retry_after", "flaky_licence_next",
    "audit_log_permission", "slow_query_hours", "expire_skiptokens", "lowercase_upns",
    "caller_roles", "silent_slow_query", "empty_page_loop", "repeat_pages", "next_link_base",
    "history_since",
})

LICENCE_CODE = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
LICENCE_MESSAGE = "Neither tenant is B2C or tenant doesn't have premium license"
AUDIT_PERMISSION_CODE = "Authentication_MSGraphPermissionMissing"
AUDIT_PERMISSION_MESSAGE = "Application missing MSGraph API 'Read all audit log data' permission"
IP_LICENCE_MESSAGE = "Your tenant is not licensed for this feature."
IP_PERMISSION_MESSAGE = ("You cannot perform the requested operation, required scopes are "
                         "missing in the token.")
DENIED_MESSAGE = "Insufficient privileges to complete the operation."
SYNCED_MESSAGE = ("Unable to update the specified properties for on-premises mastered Directory "
                  "Sync objects or objects currently undergoing migration.")
# Properties only a higher-privileged role may change on an administrator, and only on-premises
# AD may change on a synced user.
SENSITIVE = frozenset({"accountEnabled", "passwordProfile"})
# Roles that may change sensitive properties of any administrator (users#who-can-...).
ADMIN_CHANGERS = frozenset({"global administrator", "privileged authentication administrator"})
# Roles whose holders User Administrator may act on (template ids; the same table).
USER_ADMIN_REACH = frozenset({
    "729827e3-9c14-49f7-bb1b-9608f156bbb8",  # Helpdesk Administrator
    "966707d0-3269-4727-9be2-8c3a10f19b9d",  # Password Administrator
    "fe930be7-5e62-47db-91af-98c3a49a38b1",  # User Administrator
    "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",  # Directory Readers
})


def tenancy_value(name: str, value: Any) -> Any:
    """A switch value checked and converted; ValueError when it makes no sense."""
    if name == "tier":
        if value not in TIERS:
            raise ValueError(f"tier must be one of {', '.join(TIERS)}, got {value!r}")
        return value
    if name in ("flaky_licence_next", "expire_skiptokens", "repeat_pages"):
        return max(0, int(value))
    if name == "slow_query_hours":
        return None if value is None else max(0.0, float(value))
    if name == "history_since":
        if value is None:
            return None
        datetime.fromisoformat(str(value).replace("Z", "+00:00"))  # ValueError when not a time
        return str(value)
    if name == "next_link_base":
        return None if value is None else str(value).rstrip("/")
    if name == "caller_roles":
        return tuple(str(role) for role in value or ())
    return bool(value)


def licence_fault() -> GraphFault:
    return GraphFault(403, LICENCE_CODE, LICENCE_MESSAGE)


def identity_protection_fault(*, licence: bool) -> GraphFault:
    return GraphFault(403, "Forbidden", IP_LICENCE_MESSAGE if licence else IP_PERMISSION_MESSAGE)


def tier_refuses(switches: Switches, rel: str) -> bool:
    """riskyUsers (and confirmCompromised) need P2; a P1 tenant still reads risk detections."""
    return switches.tier == "P1" and rel.startswith("identityprotection/riskyusers")


def audit_log_fault(switches: Switches) -> GraphFault | None:
    if not switches.audit_log_permission:
        return GraphFault(403, AUDIT_PERMISSION_CODE, AUDIT_PERMISSION_MESSAGE)
    return None


def retry_after(wait_s: float, switches: Switches) -> str:
    """Whole seconds (rounded up), or Graph's fractional form when the switch asks for it."""
    if switches.fractional_retry_after:
        return f"{max(0.001, wait_s):.3f}"
    return str(max(1, -int(-wait_s // 1)))


def fractional(fault: GraphFault, switches: Switches) -> GraphFault:
    """An injected 429's Retry-After in Graph's fractional form (a quarter second)."""
    if switches.fractional_retry_after and "Retry-After" in fault.headers:
        fault.headers["Retry-After"] = retry_after(0.25, switches)
    return fault


def window_hours(filter_text: str | None) -> float | None:
    """The span of a `createdDateTime ge X and createdDateTime le Y` filter, in hours."""
    if not filter_text:
        return None
    bounds: dict[str, datetime] = {}
    words = filter_text.replace("(", " ").replace(")", " ").split()
    for i, word in enumerate(words[:-2]):
        if word.lower() == "createddatetime" and words[i + 1] in ("ge", "gt", "le", "lt"):
            try:
                moment = datetime.fromisoformat(words[i + 2].replace("Z", "+00:00"))
            except ValueError:
                continue
            bounds["lower" if words[i + 1] in ("ge", "gt") else "upper"] = moment
    if len(bounds) < 2:
        return None
    return (bounds["upper"] - bounds["lower"]).total_seconds() / 3600


class NoAnswer(Exception):
    """The request gets no answer: the server holds it until the client hangs up."""


def slow_query_fault(switches: Switches, filter_text: str | None) -> GraphFault | None:
    """504 for a signIns query over a window longer than `slow_query_hours` (a query without
    time bounds counts as long); with `silent_slow_query`, no answer at all (NoAnswer)."""
    limit = switches.slow_query_hours
    if limit is None:
        return None
    hours = window_hours(filter_text)
    if hours is not None and hours <= limit:
        return None
    if switches.silent_slow_query:
        raise NoAnswer
    return GraphFault(504, "UnknownError", "Service issue: the request timed out upstream.")


def as_tenant_sends(page: dict[str, Any], switches: Switches) -> dict[str, Any]:
    """A signIns page as a real tenant words it: nextLink path `auditLogs/signins`, UPNs as
    the log stores them."""
    link = page.get("@odata.nextLink")
    if switches.lowercase_next_link and isinstance(link, str):
        page["@odata.nextLink"] = link.replace("/auditLogs/signIns?", "/auditLogs/signins?", 1)
    if switches.lowercase_upns:
        page["value"] = [sign_in_as_stored(row) for row in page["value"]]
    return page


def history_since(switches: Switches) -> float | None:
    """`history_since` in epoch seconds (None: the whole retention period is there)."""
    if switches.history_since is None:
        return None
    return datetime.fromisoformat(switches.history_since.replace("Z", "+00:00")).timestamp()


def subscribed_skus(version: str, switches: Switches) -> dict[str, Any]:
    """GET /subscribedSkus: an Office subscription, and Entra ID P1 or P2 as the tier says (none
    when the tenant has no premium licence)."""
    def sku(part: str, plans: list[str]) -> dict[str, Any]:
        return {"skuPartNumber": part, "capabilityStatus": "Enabled", "appliesTo": "User",
                "servicePlans": [{"servicePlanName": name, "provisioningStatus": "Success",
                                  "appliesTo": "User"} for name in plans]}

    skus = [sku("O365_BUSINESS_PREMIUM", ["EXCHANGE_S_STANDARD", "SHAREPOINTSTANDARD"])]
    if switches.premium:
        skus.append(sku("AAD_PREMIUM_P2", ["AAD_PREMIUM", "AAD_PREMIUM_P2"])
                    if switches.tier == "P2" else sku("AAD_PREMIUM", ["AAD_PREMIUM"]))
    return {"@odata.context": f"https://graph.microsoft.com/{version}/$metadata#subscribedSkus",
            "value": skus}


def empty_page_to_itself(version: str, request_url: str) -> dict[str, Any]:
    """An empty signIns page whose nextLink is the URL that asked for it."""
    return {"@odata.context": f"https://graph.microsoft.com/{version}/$metadata#auditLogs/signIns",
            "@odata.nextLink": request_url, "value": []}


def relinked(answer: Any, switches: Switches) -> Any:
    """The answer with its nextLink moved to `next_link_base` (path and query kept)."""
    body = getattr(answer, "body", None)
    base = switches.next_link_base
    if not base or not isinstance(body, dict) or "@odata.nextLink" not in body:
        return answer
    link = urlsplit(str(body["@odata.nextLink"]))
    body["@odata.nextLink"] = base + link.path + (f"?{link.query}" if link.query else "")
    return answer


def home_upn(upn: str) -> str:
    """`adele_fabrikam.com#EXT#@contoso.onmicrosoft.com` -> `adele@fabrikam.com`."""
    local, marker, _ = upn.partition("#EXT#")
    if not marker or "_" not in local:
        return upn.lower()
    name, _, domain = local.rpartition("_")
    return f"{name}@{domain}".lower()


def sign_in_as_stored(row: dict[str, Any]) -> dict[str, Any]:
    """A sign-in with the UPN Graph keeps in the log: lower case, a guest's home UPN."""
    upn = row.get("userPrincipalName")
    if not isinstance(upn, str):
        return row
    return {**row, "userPrincipalName": home_upn(upn)}


def may_act_on(switches: Switches, target_roles: set[str]) -> bool:
    """Whether the caller's roles may act on a user holding `target_roles` (template ids)."""
    held = {role.lower() for role in switches.caller_roles}
    if not target_roles or ADMIN_CHANGERS & held:
        return True
    return "user administrator" in held and {r.lower() for r in target_roles} <= USER_ADMIN_REACH


def remediation_refusal(switches: Switches, user: dict[str, Any], body: Any,
                        target_roles: set[str]) -> GraphFault | None:
    """Graph's answer to a PATCH of sensitive properties it will not carry out, or None."""
    if not isinstance(body, dict) or not SENSITIVE & set(body):
        return None
    if user.get("onPremisesSyncEnabled") is True:
        return GraphFault(400, "Request_BadRequest", SYNCED_MESSAGE)
    if not may_act_on(switches, target_roles):
        return GraphFault(403, "Authorization_RequestDenied", DENIED_MESSAGE)
    return None


def revoke_refusal(switches: Switches, target_roles: set[str]) -> GraphFault | None:
    """Graph's answer to revokeSignInSessions for an administrator the caller may not act on."""
    if not may_act_on(switches, target_roles):
        return GraphFault(403, "Authorization_RequestDenied", DENIED_MESSAGE)
    return None
