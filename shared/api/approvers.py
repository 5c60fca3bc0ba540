"""Who may read a report from the approval mail's link: an approver the platform signed in.

GET /api/approvals/reports/{runId} carries no function key (approvers have none). In Azure the
function app's platform authentication ("Easy Auth", infra/modules/site-auth.bicep) signs the
approver in with Entra ID and passes who signed in as X-MS-CLIENT-PRINCIPAL: base64 of a JSON
object with `auth_typ` (the identity provider, `aad` for Entra ID) and `claims`, a list of
`{"typ", "val"}` that holds the ID token's claims, `groups` among them when the registration asks
for the group claim (entra.bicep). "External requests aren't allowed to set these headers, so
they're present only if set by App Service" (learn.microsoft.com/azure/app-service/
configure-authentication-user-identities).

So the route serves a report only when all of these hold, and refuses otherwise (fail closed):
- the platform's authentication is on (WEBSITE_AUTH_ENABLED, set by the platform): where it is
  off, anyone could send the header;
- APPROVER_GROUP_ID is set (else a plain 503; the log names the setting);
- X-MS-CLIENT-PRINCIPAL decodes to that shape, its `auth_typ` is `aad` (and so is
  X-MS-CLIENT-PRINCIPAL-IDP when sent), it names the user's object id, which agrees with
  X-MS-CLIENT-PRINCIPAL-ID when that is sent;
- one of its `groups` claims is the approvers' group.

Which paths the platform leaves unauthenticated (`excludedPaths`) is matched by the platform, and
how it treats dot segments or percent-encoding is not documented; none of that matters here,
because this check runs in the route itself, whatever the spelling of the path that reached it.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from typing import Any

import msgspec

from shared.config import Settings
from shared.errors import ConfigError, PermissionDenied, Unauthenticated
from shared.logs import event

PRINCIPAL = "x-ms-client-principal"
PRINCIPAL_ID = "x-ms-client-principal-id"
PRINCIPAL_NAME = "x-ms-client-principal-name"
PRINCIPAL_IDP = "x-ms-client-principal-idp"
MAX_PRINCIPAL_CHARS = 64 * 1024
ENTRA = "aad"
OBJECT_ID_TYPES = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
GROUP_TYPES = ("groups", "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups")
NOT_CONFIGURED = "approvers' reports are not available: the service is not configured for them"
SIGN_IN = ("sign in through the function app's platform authentication (the link in the "
           "approval mail) to read this report")


class Claim(msgspec.Struct):
    typ: str
    val: Any = None  # a string from Entra ID; anything else is never matched


class ClientPrincipal(msgspec.Struct):
    auth_typ: str
    claims: list[Claim]
    name_typ: str | None = None
    role_typ: str | None = None

    def values(self, types: tuple[str, ...]) -> list[str]:
        return [c.val for c in self.claims if c.typ in types and isinstance(c.val, str)]


class Approver(msgspec.Struct, frozen=True):
    object_id: str
    name: str


def decode_principal(value: str) -> ClientPrincipal:
    """X-MS-CLIENT-PRINCIPAL as the platform writes it; Unauthenticated for anything else."""
    text = value.strip()
    if not text or len(text) > MAX_PRINCIPAL_CHARS:
        raise Unauthenticated(SIGN_IN)
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        return msgspec.json.decode(raw, type=ClientPrincipal)
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError):
        raise Unauthenticated("the signed-in identity passed to this route is not one the "
                              "platform's authentication writes") from None


def approver(settings: Settings, headers: Mapping[str, str]) -> Approver:
    """The signed-in approver, or Unauthenticated (401) / PermissionDenied (403) / ConfigError."""
    if not settings.platform_auth_enabled:
        raise Unauthenticated("this route serves approvers signed in through the function "
                              "app's platform authentication, which is off here")
    group = settings.approver_group_id
    if not group:
        event("approvals.not_configured", logging.ERROR, missing=["APPROVER_GROUP_ID"])
        raise ConfigError(NOT_CONFIGURED)
    principal = decode_principal(headers.get(PRINCIPAL, ""))
    idp = headers.get(PRINCIPAL_IDP)
    if principal.auth_typ.lower() != ENTRA or (idp is not None and idp.strip().lower() != ENTRA):
        raise Unauthenticated("approvers sign in with Microsoft Entra ID")
    ids = {v.strip().lower() for v in principal.values(OBJECT_ID_TYPES) if v.strip()}
    said = headers.get(PRINCIPAL_ID)
    if len(ids) != 1 or (said is not None and said.strip().lower() not in ids):
        raise Unauthenticated("the signed-in identity names no single user")
    (object_id,) = ids
    if group not in {g.strip().lower() for g in principal.values(GROUP_TYPES)}:
        event("report.refused", by=object_id[:64], reason="not in the approvers' group")
        raise PermissionDenied("only members of the approvers' group read these reports")
    names = principal.values((principal.name_typ,)) if principal.name_typ else []
    name = headers.get(PRINCIPAL_NAME) or (names[0] if names else "")
    return Approver(object_id=object_id, name=name[:256])
