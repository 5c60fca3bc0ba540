"""The remediation route's lock: an Entra ID bearer token checked in this process.

POST /api/remediations needs no function key (a key is a shared secret that ends up in ticketing
configs, and must never be able to disable accounts); it needs a JWT from the Logic App's managed
identity, verified here with PyJWT: RS256 signature against the tenant's published keys (JWKS,
cached, refreshed on an unknown key id at most once a minute), issuer (v2.0 and the v1
sts.windows.net form), audience, expiry and not-before with a small leeway, the tenant (`tid`,
always required), the caller's object id (`oid`) in REMEDIATION_ALLOWED_CALLERS, and that the
token is an app token holding the API's app role: `idtyp` = `app` (the optional claim the API's
registration asks for, infra/modules/entra.bicep), no `scp` (a user's delegated token has one),
and `Remediations.Invoke` in the `roles` list. Microsoft's guidance for an API called by daemon
apps is to verify that app role ("Protected web API: verify scopes and app roles",
learn.microsoft.com/entra/identity-platform/scenario-protected-web-api-verification-scope-app-roles);
`idtyp` is described in the access token claims reference
(learn.microsoft.com/entra/identity-platform/access-token-claims-reference). Platform headers
such as X-MS-CLIENT-PRINCIPAL-ID are never trusted: wherever the platform's own authentication
is off, anyone can send them. Missing settings refuse every call (fail closed) with a 503 that
names nothing; the logs name the settings.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
import msgspec

from shared.config import Settings
from shared.errors import ConfigError, PermissionDenied, ServiceUnavailable, Unauthenticated
from shared.logs import event

V2_ISSUER = "https://login.microsoftonline.com/{tenant}/v2.0"
V1_ISSUER = "https://sts.windows.net/{tenant}/"
TENANT_JWKS = "https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys"
ALGORITHMS = ["RS256"]  # never none, never HS* (a public key must not become an HMAC secret)
LEEWAY_S = 60
JWKS_TTL_S = 6 * 3600
JWKS_MIN_REFRESH_S = 60
MAX_TOKEN_CHARS = 16_384
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
INVOKE_ROLE = "Remediations.Invoke"  # the API registration's app role (infra/modules/entra.bicep)
NOT_CONFIGURED = "remediation is not available: the service is not configured for it"


class Caller(msgspec.Struct, frozen=True, rename="camel"):
    """Who called, as the verified token says."""

    object_id: str
    app_id: str | None = None
    tenant_id: str | None = None


@dataclass(frozen=True)
class AuthPolicy:
    """What a token must say, from the settings."""

    audience: str
    issuers: tuple[str, ...]
    jwks_url: str
    tenant_id: str
    allowed_callers: frozenset[str]


def missing_settings(settings: Settings) -> list[str]:
    """The settings the route needs that are not set (for the logs and `doctor`, never for the
    caller)."""
    missing = []
    if not settings.auth_audience:
        missing.append("AUTH_AUDIENCE")
    if not settings.remediation_allowed_callers:
        missing.append("REMEDIATION_ALLOWED_CALLERS")
    if not settings.auth_tenant_id:
        missing.append("AUTH_TENANT_ID")
    return missing


def auth_policy(settings: Settings) -> AuthPolicy:
    """The policy, or ConfigError (the route then refuses all): the log names every missing
    setting, the answer to an unauthenticated caller names none."""
    tenant = settings.auth_tenant_id
    missing = missing_settings(settings)
    if missing or not tenant:
        event("auth.not_configured", logging.ERROR, missing=missing)
        raise ConfigError(NOT_CONFIGURED)
    issuers = ((settings.auth_issuer,) if settings.auth_issuer
               else (V2_ISSUER.format(tenant=tenant), V1_ISSUER.format(tenant=tenant)))
    return AuthPolicy(
        audience=settings.auth_audience or "",
        issuers=issuers,
        jwks_url=settings.auth_jwks_url or TENANT_JWKS.format(tenant=tenant),
        tenant_id=tenant.lower(),
        allowed_callers=settings.remediation_allowed_callers,
    )


def fetch_jwks(url: str) -> dict[str, Any]:
    """GET the key set (no proxy for a loopback issuer)."""
    import httpx

    host = urlsplit(url).hostname or ""
    response = httpx.get(url, timeout=10.0, trust_env=host not in LOOPBACK)
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


class KeySet:
    """The signing keys of one JWKS URL, cached for `ttl_s`, re-read when a token names a key id
    not in the cache, but at most once per `min_refresh_s` (an attacker sending random key ids
    must not turn this process into a load generator against the issuer)."""

    def __init__(self, url: str, *, fetch: Callable[[str], dict[str, Any]] = fetch_jwks,
                 ttl_s: float = JWKS_TTL_S, min_refresh_s: float = JWKS_MIN_REFRESH_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self._fetch = fetch
        self._ttl_s = ttl_s
        self._min_refresh_s = min_refresh_s
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, Any] | None = None
        self._fetched_at = 0.0
        self._tried_at: float | None = None
        self.fetches = 0

    def key(self, kid: str) -> Any | None:
        """The public key with this id, or None when the issuer does not publish it."""
        with self._lock:
            now = self._clock()
            stale = self._keys is None or now - self._fetched_at >= self._ttl_s
            unknown = self._keys is not None and kid not in self._keys
            may_try = self._tried_at is None or now - self._tried_at >= self._min_refresh_s
            if (stale or unknown) and may_try:
                self._refresh(now)
            if self._keys is None:
                raise ServiceUnavailable(f"the signing keys at {self.url} could not be read; "
                                         "remediation is refused until they can be")
            return self._keys.get(kid)

    def _refresh(self, now: float) -> None:
        self._tried_at = now
        self.fetches += 1
        try:
            document = self._fetch(self.url)
            keys = jwt.PyJWKSet.from_dict(document).keys
        except Exception as exc:  # network, HTTP status, malformed set: keep what we had
            event("auth.jwks_unreadable", url=self.url, error=type(exc).__name__)
            return
        self._keys = {k.key_id: k.key for k in keys
                      if k.key_id and k.key_type == "RSA" and k.public_key_use in (None, "sig")}
        self._fetched_at = now


_key_sets: dict[str, KeySet] = {}
_key_sets_lock = threading.Lock()


def key_set(url: str) -> KeySet:
    """The process-wide cache for one JWKS URL."""
    with _key_sets_lock:
        found = _key_sets.get(url)
        if found is None:
            found = _key_sets[url] = KeySet(url)
        return found


def bearer_token(headers: Mapping[str, str]) -> str:
    value = headers.get("authorization", "")
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("an `Authorization: Bearer <token>` header is required")
    if len(token) > MAX_TOKEN_CHARS:
        raise Unauthenticated("the bearer token is too long")
    return token.strip()


def authenticate(settings: Settings, headers: Mapping[str, str], *,
                 keys: KeySet | None = None) -> Caller:
    """The verified caller, or Unauthenticated (401) / PermissionDenied (403) / ConfigError."""
    policy = auth_policy(settings)
    token = bearer_token(headers)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise Unauthenticated("the bearer token is not a JWT") from None
    if header.get("alg") not in ALGORITHMS:
        raise Unauthenticated("the token must be signed with RS256")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Unauthenticated("the token names no signing key (kid)")
    key = (keys or key_set(policy.jwks_url)).key(kid)
    if key is None:
        raise Unauthenticated("the token is signed by a key the issuer does not publish")
    try:
        claims = jwt.decode(
            token, key, algorithms=ALGORITHMS, audience=policy.audience,
            issuer=policy.issuers, leeway=LEEWAY_S,
            options={"require": ["exp", "iss", "aud", "oid", "tid"]},
        )
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated(f"the token was rejected: {exc}") from None
    return allowed_caller(claims, policy)


def allowed_caller(claims: Mapping[str, Any], policy: AuthPolicy) -> Caller:
    tenant = claims.get("tid")
    if not isinstance(tenant, str) or tenant.lower() != policy.tenant_id:
        raise Unauthenticated("the token was issued for another tenant")
    oid = claims.get("oid")
    if not isinstance(oid, str) or not oid:
        raise Unauthenticated("the token carries no object id (oid)")
    if oid.lower() not in policy.allowed_callers:
        raise PermissionDenied(f"caller {oid[:64]} is not in REMEDIATION_ALLOWED_CALLERS")
    if claims.get("idtyp") != "app" or "scp" in claims:
        raise PermissionDenied("only an application token may call this route (idtyp app, "
                               "no delegated scopes)")
    roles = claims.get("roles")
    if not isinstance(roles, list) or INVOKE_ROLE not in roles:
        raise PermissionDenied(f"the token does not hold the app role {INVOKE_ROLE}")
    app_id = claims.get("azp") or claims.get("appid")
    return Caller(object_id=oid.lower(), app_id=str(app_id) if app_id else None,
                  tenant_id=str(tenant) if tenant else None)
