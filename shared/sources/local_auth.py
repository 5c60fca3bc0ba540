"""A fixed bearer token for a local query-API emulator on 127.0.0.1 (GRAPH_CREDENTIAL=local).

azure-core's bearer policy refuses plain HTTP, rightly; the emulator speaks plain HTTP on the
loopback address only, so this policy adds the token there and refuses every other host.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy

from shared.errors import ConfigError

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class StaticTokenCredential:
    """A synchronous credential handing out one token (the client wants a credential)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)


class LoopbackTokenPolicy(SansIOHTTPPolicy[Any, Any]):
    def __init__(self, token: str) -> None:
        self._token = token

    def on_request(self, request: PipelineRequest[Any]) -> None:
        host = urlsplit(request.http_request.url).hostname or ""
        if host not in LOOPBACK:
            raise ConfigError(f"a local token is only sent to 127.0.0.1, not to {host}")
        request.http_request.headers["Authorization"] = f"Bearer {self._token}"


def loopback_token_policy(endpoint: str, token: str) -> LoopbackTokenPolicy:
    if (urlsplit(endpoint).hostname or "") not in LOOPBACK:
        raise ConfigError("GRAPH_CREDENTIAL=local reads Log Analytics only from an emulator on "
                          f"127.0.0.1, not {endpoint}")
    if not token:
        raise ConfigError("GRAPH_CREDENTIAL=local needs GRAPH_LOCAL_TOKEN")
    return LoopbackTokenPolicy(token)
