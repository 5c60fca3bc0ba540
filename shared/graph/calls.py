"""One Graph request with pacing, retries and error mapping: the policy every call shares.

- Each attempt first waits for the limiter (when the endpoint has one).
- 429: wait as long as Retry-After says (capped), or back off exponentially with jitter when it
  says nothing (Identity Protection); the wait is put on the limiter so every caller honours it.
- 500/502/503/504 and connections lost before a response: back off and try again.
- A read that gets no answer within GRAPH_READ_TIMEOUT_SECONDS: tried again like a lost
  connection, or (`timeout_final`) ended at once with `ReadTimedOut`, which a sign-in window
  takes like a 504 and splits (a slow filtered signIns query more often gets no answer at all than
  a 504: msgraph-sdk-powershell #3146 and #2941, REFERENCE.md).
- 401/403: `GraphUnavailable` at once (a licence or a permission is missing; retrying is futile),
  except the signIns licence 403, which Graph also sends by mistake: asked again twice first.
- Other 4xx: `GraphError` at once.
The retry budget counts consecutive failed attempts of one request; a success resets it, so a
long stream survives scattered 503s but a Graph that stays down ends the call with `GraphError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import msgspec

from shared.errors import GraphError, GraphUnavailable
from shared.graph.client import GraphConnection
from shared.graph.limiter import Pacer

if TYPE_CHECKING:
    import httpx

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
RETRY_AFTER_CAP_S = 300.0
# Graph reports the licence 403 intermittently to tenants that hold P1/P2 (and when
# Directory.Read.All is missing): asked again before the run concludes "no licence"
# (https://github.com/microsoftgraph/microsoft-graph-docs/issues/11986, .../issues/14120).
LICENCE_CODE = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
LICENCE_RETRIES = 2


class ReadTimedOut(GraphError):
    """Graph sent no answer within the read timeout (and the caller asked to hear of it)."""


class _ErrorDetail(msgspec.Struct):
    code: str | None = None
    message: str | None = None


class _ErrorBody(msgspec.Struct):
    error: _ErrorDetail | None = None


def graph_error_detail(body: bytes) -> tuple[str | None, str]:
    """(code, message) from Graph's `{"error": {"code", "message"}}`; tolerant of other bodies."""
    try:
        detail = msgspec.json.decode(body, type=_ErrorBody).error
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None, body[:200].decode("utf-8", "replace")
    if detail is None:
        return None, ""
    return detail.code, detail.message or ""


def retry_after_s(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date), capped; None
    when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(0.0, seconds), RETRY_AFTER_CAP_S)


def backoff_s(graph: GraphConnection, attempt: int) -> float:
    """Exponential backoff with jitter: half fixed, half random, capped."""
    ceiling = min(graph.backoff_cap_s, graph.backoff_base_s * 2.0**attempt)
    return ceiling / 2 + graph.rng.uniform(0, ceiling / 2)


def failure(status: int, body: bytes, what: str) -> GraphError:
    """The error for a final, non-retryable answer."""
    code, message = graph_error_detail(body)
    text = f"{what}: Graph answered {status}" + (f" {code}" if code else "") \
        + (f": {message}" if message else "")
    if status in (401, 403):
        return GraphUnavailable(text, status=status, code=code)
    return GraphError(text, status=status, code=code)


async def call(
    graph: GraphConnection,
    send: Callable[[], Awaitable[httpx.Response]],
    *,
    what: str,
    limiter: Pacer | None = None,
    final: frozenset[int] = frozenset(),
    timeout_final: bool = False,
) -> httpx.Response:
    """Send (via `send`, an SDK request with the native response handler) until Graph answers
    with success, and return that response; raise GraphError/GraphUnavailable otherwise.
    Statuses in `final` end the call at once (the caller has a better answer than retrying), and
    so does a read timeout with `timeout_final` (`ReadTimedOut`)."""
    import httpx

    attempt = licence_retries = 0
    while True:
        granted = await limiter.acquire() if limiter is not None else 0.0
        graph.stats.requests += 1
        wait: float | None = None
        try:
            try:
                response = await send()
            finally:  # answered, failed or cancelled: it may have arrived, count it from now
                if limiter is not None:
                    limiter.settle(granted, limiter.now())
        except httpx.TransportError as exc:  # refused, reset, dropped mid-response, timed out
            graph.stats.dropped += 1
            last = f"{what}: connection failed ({type(exc).__name__})"
            status = None
            if timeout_final and isinstance(exc, httpx.ReadTimeout):
                raise ReadTimedOut(f"{what}: no answer within the read timeout") from None
        else:
            status = response.status_code
            if status < 400:
                return response
            if status not in RETRYABLE_STATUS:
                refused = failure(status, response.content, what)
                if not (_transient_licence(refused) and licence_retries < LICENCE_RETRIES):
                    raise refused
                licence_retries += 1  # its own allowance, outside the retry budget
                graph.stats.retries += 1
                await _pause(graph, limiter, backoff_s(graph, licence_retries - 1))
                continue
            if status in final:
                raise failure(status, response.content, what)
            if status == 429:
                graph.stats.throttled += 1
            wait = retry_after_s(response.headers.get("Retry-After"))
            last = str(failure(status, response.content, what))
        if attempt >= graph.retry_budget:
            raise GraphError(f"{last}; gave up after {attempt + 1} attempts", status=status)
        delay = wait if wait is not None else backoff_s(graph, attempt)
        attempt += 1
        graph.stats.retries += 1
        await _pause(graph, limiter, delay)


async def _pause(graph: GraphConnection, limiter: Pacer | None, delay: float) -> None:
    """Wait before asking again: through the limiter, so every caller honours it."""
    if limiter is not None:
        limiter.defer(delay)
    else:
        await asyncio.sleep(delay)


def _transient_licence(error: GraphError) -> bool:
    return error.status == 403 and error.code == LICENCE_CODE


def native_config(query: object | None = None) -> Any:
    """A request configuration that makes the SDK hand back the raw httpx response (errors
    included, nothing parsed), with the builder's query parameters when given."""
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from kiota_abstractions.native_response_handler import NativeResponseHandler
    from kiota_http.middleware.options.response_handler_option import ResponseHandlerOption

    return RequestConfiguration(
        query_parameters=query, options=[ResponseHandlerOption(NativeResponseHandler())]
    )
