"""The Graph client factory: credentials, base URL and API version from settings.

`connect(settings)` returns a `GraphConnection`: the msgraph-sdk `GraphServiceClient` plus what
every call needs beside it (the limiters, the retry budget, counters). The SDK and kiota are
imported inside the functions here, never at module level, so importing `function_app` or
`shared.graph` does not pay for them.

The SDK's own RetryHandler is switched off: it would retry 429/503 on its own schedule, out of
sight of our limiter and on top of our retry budget. `shared.graph.calls` does the retrying.
"""

from __future__ import annotations

import random
import ssl
import time
from dataclasses import dataclass, field
from functools import lru_cache
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken

from shared.config import Settings
from shared.errors import ConfigError
from shared.graph.limiter import Pacer, RequestLimiter, shared_limiter

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential

Role = Literal["reader", "remediator"]

# Filtered signIns queries can run about 300 s before Graph answers (or fails with 504): the
# read timeout (GRAPH_READ_TIMEOUT_SECONDS, 330 s) outlasts them, so a slow answer is not cut off
# and asked again; one that has not come by then is treated like a 504 (`shared.graph.calls`).
CONNECT_TIMEOUT_S = 10.0
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class StaticTokenCredential:
    """An async token credential that hands out one fixed token: for the local Graph emulator.

    Selected only by GRAPH_CREDENTIAL=local, so nothing on a laptop falls through to a
    credential that probes the instance metadata address.
    """

    def __init__(self, token: str, *, lifetime_s: int = 3600) -> None:
        if not token:
            raise ConfigError("a static Graph token must not be empty")
        self._token = token
        self._lifetime_s = lifetime_s

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + self._lifetime_s)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> StaticTokenCredential:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


@dataclass
class GraphStats:
    """What one connection did, for logs and the benchmark."""

    requests: int = 0
    throttled: int = 0  # 429 answers
    retries: int = 0
    dropped: int = 0  # connections lost before a response


@dataclass
class GraphConnection:
    """A Graph client with its pacing and retry policy. Close it (or use `async with`)."""

    client: Any  # msgraph.GraphServiceClient, typed loosely to keep the SDK out of imports
    settings: Settings
    credential: AsyncTokenCredential | StaticTokenCredential
    signin_limiter: Pacer
    risk_limiter: Pacer
    retry_budget: int
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0
    stats: GraphStats = field(default_factory=GraphStats)
    rng: random.Random = field(default_factory=random.Random)

    @property
    def base_url(self) -> str:
        """Where requests go, with the API version: `https://graph.microsoft.com/v1.0`."""
        return f"{self.settings.graph_base_url}/{self.settings.graph_api_version}"

    @property
    def beta(self) -> bool:
        return self.settings.graph_api_version == "beta"

    async def aclose(self) -> None:
        http_client = getattr(self.client.request_adapter, "_http_client", None)
        if http_client is not None:
            await http_client.aclose()
        await self.credential.close()

    async def __aenter__(self) -> GraphConnection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


DEFAULT_PORTS = {"https": 443, "http": 80}


def same_origin(ours: str, link: str) -> bool:
    """Whether `link` has the scheme, host and port of `ours` (an absent port is the scheme's
    default). kiota's allowed-hosts check reads a request's host name only, not its port or
    scheme (kiota_abstractions/authentication/allowed_hosts_validator.py, `is_url_host_valid`
    compares `hostname`), so a link to another port of the same host would carry
    the token there: every link Graph hands back is checked here before it is followed."""
    a, b = urlsplit(ours), urlsplit(link)
    try:
        ports = (a.port or DEFAULT_PORTS.get(a.scheme.lower())), \
            (b.port or DEFAULT_PORTS.get(b.scheme.lower()))
    except ValueError:  # a port that is not a number
        return False
    return a.scheme.lower() == b.scheme.lower() and bool(b.hostname) \
        and (a.hostname or "").lower() == (b.hostname or "").lower() and ports[0] == ports[1]


def credential_for(
    settings: Settings, role: Role = "reader"
) -> AsyncTokenCredential | StaticTokenCredential:
    """The credential GRAPH_CREDENTIAL names; the remediator uses its own managed identity."""
    if settings.graph_credential == "local":
        token = settings.graph_local_remediator_token if role == "remediator" else None
        return StaticTokenCredential(token or settings.graph_local_token or "")
    if settings.graph_credential == "default":
        from azure.identity.aio import DefaultAzureCredential

        return DefaultAzureCredential()
    from azure.identity.aio import ManagedIdentityCredential

    client_id = (
        settings.graph_remediator_client_id if role == "remediator"
        else settings.graph_reader_client_id
    )
    return ManagedIdentityCredential(client_id=client_id) if client_id \
        else ManagedIdentityCredential()


def signin_limiter(settings: Settings) -> RequestLimiter:
    """Sign-in pacing: GRAPH_SIGNIN_REQUESTS per GRAPH_SIGNIN_PERIOD_SECONDS. Windows are
    counted from each answer (see `RequestLimiter.settle`), so the slack can stay tiny."""
    period = settings.graph_signin_period_s
    key = ("signIns", settings.graph_base_url, settings.graph_signin_requests, period)
    return shared_limiter(key, lambda: RequestLimiter(
        settings.graph_signin_requests, period, margin_s=min(0.05, period / 200),
        hold_s=_hold_s(settings)))


def risk_limiter(settings: Settings) -> RequestLimiter:
    """Identity Protection and Conditional Access pacing (one limit for both, 1 request per second
    per tenant): GRAPH_RISK_REQUESTS_PER_SECOND for the whole process."""
    rate = settings.graph_risk_requests_per_s
    key = ("identityProtection", settings.graph_base_url, rate)
    return shared_limiter(key, lambda: RequestLimiter.per_second(rate, hold_s=_hold_s(settings)))


def _hold_s(settings: Settings) -> float:
    """How long an unanswered request keeps its slot in a limiter: until its read times out."""
    return settings.graph_read_timeout_s + CONNECT_TIMEOUT_S


def connect(
    settings: Settings,
    *,
    role: Role = "reader",
    credential: AsyncTokenCredential | StaticTokenCredential | None = None,
    signin_pacer: Pacer | None = None,
) -> GraphConnection:
    """A `GraphConnection` for the tenant the settings describe. `signin_pacer` replaces the
    process's own sign-in limiter (the pipeline passes the budget every instance shares)."""
    chosen = credential or credential_for(settings, role)
    graph = GraphConnection(
        client=_service_client(settings, chosen),
        settings=settings,
        credential=chosen,
        signin_limiter=signin_pacer or signin_limiter(settings),
        risk_limiter=risk_limiter(settings),
        retry_budget=settings.graph_retry_budget,
    )
    return graph


def _service_client(settings: Settings, credential: object) -> Any:
    import httpx
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from kiota_http.middleware.options import RetryHandlerOption
    from msgraph.graph_request_adapter import GraphRequestAdapter
    from msgraph.graph_request_adapter import options as sdk_options
    from msgraph.graph_service_client import GraphServiceClient
    from msgraph_core import GraphClientFactory

    host = urlsplit(settings.graph_base_url).hostname or ""
    # The token goes to the configured Graph host only, never to a host a nextLink names.
    auth = AzureIdentityAuthenticationProvider(credential, allowed_hosts=[host])  # type: ignore[arg-type]
    options = {
        **sdk_options,
        RetryHandlerOption.get_key(): RetryHandlerOption(max_retries=0, should_retry=False),
    }
    http_client = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(
            timeout=httpx.Timeout(settings.graph_read_timeout_s, connect=CONNECT_TIMEOUT_S),
            trust_env=host not in LOOPBACK,  # no proxy between us and a local emulator
            verify=_tls_context(host not in LOOPBACK),
        ),
        options=options,
    )
    adapter = GraphRequestAdapter(auth, client=http_client)
    adapter.base_url = f"{settings.graph_base_url}/{settings.graph_api_version}"
    return GraphServiceClient(request_adapter=adapter)


@lru_cache(maxsize=2)
def _tls_context(trust_env: bool) -> ssl.SSLContext:
    """One TLS context per process (loading the CA bundle took ~60 ms per connection, and a
    run opens a Graph connection per step); the same verification httpx would set up."""
    import httpx

    return httpx.create_ssl_context(trust_env=trust_env)
