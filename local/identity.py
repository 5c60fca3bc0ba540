"""A small local token issuer standing in for Entra ID: one RSA key, its JWKS and OpenID
configuration on 127.0.0.1, and tokens minted for tests and `make serve`.

    issuer = TokenIssuer().start()
    token = issuer.mint(oid=LOGIC_APP_OID)          # RS256, aud/iss/tid as the settings expect
    settings = {**issuer.settings(), "REMEDIATION_ALLOWED_CALLERS": LOGIC_APP_OID}

Besides good tokens it can make the bad ones a test needs: signed by a key it does not publish,
`alg: none`, HS256 keyed with its public key (the classic confusion attack), expired, or with
another audience or issuer.
"""

from __future__ import annotations

import json
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from local.loopback import LoopbackServer

TENANT_ID = "00000000-0000-0000-0000-0000000000aa"
AUDIENCE = "api://signin-review-local"
LOGIC_APP_OID = "10c1a000-0000-4000-8000-00000000a991"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


class TokenIssuer:
    """Serves /{tenant}/v2.0/.well-known/openid-configuration and /{tenant}/discovery/v2.0/keys."""

    def __init__(self, *, tenant_id: str = TENANT_ID, audience: str = AUDIENCE) -> None:
        self.tenant_id = tenant_id
        self.audience = audience
        self.kid = "local-" + uuid.uuid4().hex[:8]
        self.key = new_key()
        self.stray_key = new_key()  # signs tokens whose key is never published
        self.base_url = ""
        self.jwks_requests = 0
        self._server: LoopbackServer | None = None

    # --- serving --------------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/{self.tenant_id}/v2.0"

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}/{self.tenant_id}/discovery/v2.0/keys"

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(self.key, self.kid)]}

    def openid_configuration(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "jwks_uri": self.jwks_url,
                "id_token_signing_alg_values_supported": ["RS256"]}

    def start(self, port: int = 0) -> TokenIssuer:
        if self._server is None:
            self._server = LoopbackServer(_handler(self), port=port, name="token-issuer")
            self.base_url = self._server.base_url
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def __enter__(self) -> TokenIssuer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def settings(self) -> dict[str, str]:
        """The AUTH_* app settings that make the API trust this issuer."""
        return {"AUTH_TENANT_ID": self.tenant_id, "AUTH_AUDIENCE": self.audience,
                "AUTH_ISSUER": self.issuer, "AUTH_JWKS_URL": self.jwks_url}

    # --- tokens ---------------------------------------------------------------------------

    def claims(self, oid: str, *, lifetime_s: int = 3600, **overrides: Any) -> dict[str, Any]:
        """An app token as Entra ID issues one to a managed identity holding the API's app role:
        `roles` a list, `idtyp` app (the optional claim the API's registration asks for), no
        `scp` (Microsoft identity platform, "Access token claims reference")."""
        now = int(time.time())
        claims = {"aud": self.audience, "iss": self.issuer, "tid": self.tenant_id,
                  "oid": oid, "sub": oid, "azp": oid, "idtyp": "app",
                  "roles": ["Remediations.Invoke"],
                  "iat": now, "nbf": now, "exp": now + lifetime_s}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def mint(self, oid: str = LOGIC_APP_OID, *, lifetime_s: int = 3600, **overrides: Any) -> str:
        """An RS256 token signed with the published key; claims can be overridden (None drops)."""
        return jwt.encode(self.claims(oid, lifetime_s=lifetime_s, **overrides), self.key,
                          algorithm="RS256", headers={"kid": self.kid})

    def mint_unpublished(self, oid: str = LOGIC_APP_OID) -> str:
        """Signed by a key the JWKS does not list (under a key id it does not know either)."""
        return jwt.encode(self.claims(oid), self.stray_key, algorithm="RS256",
                          headers={"kid": "stray-" + uuid.uuid4().hex[:6]})

    def mint_forged_kid(self, oid: str = LOGIC_APP_OID) -> str:
        """Signed by the unpublished key but naming the published key id."""
        return jwt.encode(self.claims(oid), self.stray_key, algorithm="RS256",
                          headers={"kid": self.kid})

    def mint_alg_none(self, oid: str = LOGIC_APP_OID) -> str:
        return jwt.encode(self.claims(oid), None, algorithm="none", headers={"kid": self.kid})

    def mint_hs256_with_public_key(self, oid: str = LOGIC_APP_OID) -> str:
        """HS256 keyed with the public key's PEM: accepted only by a verifier that lets the
        token choose its algorithm."""
        import base64
        import hashlib
        import hmac

        pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

        def b64(data: bytes) -> bytes:
            return base64.urlsafe_b64encode(data).rstrip(b"=")

        head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": self.kid}).encode())
        body = b64(json.dumps(self.claims(oid)).encode())
        signature = b64(hmac.new(pem, head + b"." + body, hashlib.sha256).digest())
        return (head + b"." + body + b"." + signature).decode()


def _handler(issuer: TokenIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == f"/{issuer.tenant_id}/discovery/v2.0/keys":
                issuer.jwks_requests += 1
                self._send(200, issuer.jwks())
            elif path == f"/{issuer.tenant_id}/v2.0/.well-known/openid-configuration":
                self._send(200, issuer.openid_configuration())
            else:
                self._send(404, {"error": "not_found"})

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler


if __name__ == "__main__":
    with TokenIssuer() as running:
        print(json.dumps(running.settings(), indent=2))
        print(running.mint())
