"""The sign-in stream: pages of GET /auditLogs/signIns for a window, or for one user.

Pages are asked of the SDK as native responses and decoded with msgspec straight into
`SignIn` records; the SDK's typed models decode about a hundred sign-ins a second, three orders
of magnitude too slow for a tenant's week. Each page keeps its raw bytes, so the pipeline can
store exactly what Graph said as evidence, and its nextLink, so a retried slice resumes where it
stopped instead of starting over.

API version: v1.0 returns interactive sign-ins only. In beta we add non-interactive ones in the
same single pass, with `signInEventTypes/any(t: t eq 'interactiveUser' or t eq
'nonInteractiveUser')`: one pass keeps one nextLink as the whole resume position.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlsplit

import msgspec

from shared.compact import compact
from shared.errors import GraphError, GraphUnavailable, InputError
from shared.graph import odata
from shared.graph.calls import ReadTimedOut, call, native_config
from shared.graph.client import GraphConnection, same_origin
from shared.model import DataSource, SignIn, SignInPage, Window

BETA_EVENT_TYPES = (odata.INTERACTIVE, odata.NON_INTERACTIVE)

_decode_page = msgspec.json.Decoder(SignInPage).decode


GATEWAY_TIMEOUT = frozenset({504})


class WindowTooSlow(GraphError):
    """Graph gave up on a window's first page (504 after its ~300 s, or no answer within the read
    timeout): ask for a shorter one."""


@dataclass(frozen=True, slots=True)
class FetchedPage:
    """One page as Graph sent it (`body`, for evidence) and as we read it (`sign_ins`)."""

    request_url: str
    body: bytes
    sign_ins: list[SignIn]
    next_link: str | None


def sign_in_filter(window: Window, *, user: str | None = None, beta: bool = False) -> str:
    """The `$filter` for a window, optionally one user's sign-ins, in v1.0 or beta."""
    return odata.all_of(
        odata.window_clause(window.start, window.end),
        odata.user_clause(user) if user else "",
        odata.event_types_clause(BETA_EVENT_TYPES) if beta else "",
    )


def sign_in_source(api_version: str, error: GraphUnavailable | None = None) -> DataSource:
    """How the report names the sign-in source: which API version and what it covers, or why
    it could not be read."""
    if error is not None:
        return DataSource(name="signIns", available=False,
                          detail=f"unavailable: {error.reason} ({error.message})")
    if api_version == "beta":
        return DataSource(name="signIns", available=True,
                          detail="Graph beta: interactive and non-interactive sign-ins")
    return DataSource(name="signIns", available=True,
                      detail="Graph v1.0: interactive sign-ins only (set GRAPH_API_VERSION=beta "
                             "to add non-interactive ones)")


def decode_page(body: bytes) -> SignInPage:
    """A page body decoded into records; GraphError when it is not a sign-in page."""
    try:
        page = _decode_page(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise GraphError(f"a sign-in page could not be read: {exc}") from None
    compact(page.value)
    return page


def is_sign_in_link(graph: GraphConnection, link: str) -> bool:
    """Whether a nextLink points at our Graph's signIns: same scheme, host and port (the token
    goes with it; the SDK's own allowed-hosts check reads the host name only) and path.

    Host and path compare case-insensitively: Graph's documented signIns nextLinks say
    `/auditLogs/signins` for a request to `/auditLogs/signIns`
    (https://learn.microsoft.com/en-us/graph/api/signin-list, example 1's response)."""
    ours = graph.base_url + "/auditLogs/signIns"
    return same_origin(ours, link) and \
        urlsplit(link).path.lower().rstrip("/") == urlsplit(ours).path.lower()


def check_resume_link(graph: GraphConnection, link: str) -> str:
    """A caller-supplied nextLink must be a signIns link of our Graph endpoint."""
    if not is_sign_in_link(graph, link):
        raise InputError(f"a resume link must be a sign-in nextLink of {graph.base_url}")
    return link


def _next(graph: GraphConnection, link: str, followed: set[str]) -> str:
    """The nextLink Graph sent, if it may be followed: to our Graph's signIns, and not back to
    a page already read (a page may be empty and still carry a nextLink, paging.md; one that
    points at itself or an earlier page would be followed without end, each page becoming
    evidence)."""
    if not is_sign_in_link(graph, link):
        raise GraphError(f"sign-ins: Graph sent a nextLink outside {graph.base_url}; "
                         "not followed (the token would go with it)")
    if link in followed:
        raise GraphError("sign-ins: Graph sent a nextLink to a page already read; stopped "
                         "instead of reading it again without end")
    followed.add(link)
    return link


async def stream_sign_ins(
    graph: GraphConnection,
    window: Window,
    *,
    user: str | None = None,
    resume_from: str | None = None,
    page_size: int | None = None,
    split_on_timeout: bool = False,
) -> AsyncIterator[FetchedPage]:
    """Yield the window's sign-in pages in Graph's order (newest first), following nextLink.

    `user` is an object id or a UPN (validated and quoted). `resume_from` is the `next_link` of
    the last page a previous attempt stored: the stream continues from there. Raises
    GraphUnavailable (licence/permission) on 401/403, GraphError when the retry budget is spent.
    With `split_on_timeout`, a gateway timeout (504) or no answer within the read timeout on
    the window's first page raises `WindowTooSlow` at once: a filtered query that ran ~300 s into
    a 504 will do so again, and the caller does better asking for halves of the window.

    A sign-in already yielded by this stream is left out of later pages (a page Graph repeats
    is kept as evidence but not counted twice); a nextLink to another host, port or scheme, or
    back to a page already read, ends the stream with GraphError.
    """
    from msgraph.generated.audit_logs.sign_ins.sign_ins_request_builder import (
        SignInsRequestBuilder,
    )

    builder = graph.client.audit_logs.sign_ins
    link = check_resume_link(graph, resume_from) if resume_from else None
    if link is None:
        query = SignInsRequestBuilder.SignInsRequestBuilderGetQueryParameters(
            filter=sign_in_filter(window, user=user, beta=graph.beta),
            top=page_size or graph.settings.graph_page_size,
        )
        config = native_config(query)
    else:
        config = native_config()
        builder = builder.with_url(link)
    first = link is None
    followed: set[str] = {link} if link else set()
    seen: set[str] = set()
    while True:
        splits = first and split_on_timeout
        try:
            response = await call(
                graph,
                partial(builder.get, request_configuration=config),
                what="sign-ins",
                limiter=graph.signin_limiter,
                final=GATEWAY_TIMEOUT if splits else frozenset(),
                timeout_final=splits,
            )
        except ReadTimedOut as exc:
            raise WindowTooSlow(exc.message, code="ReadTimeout") from None
        except GraphError as exc:
            if splits and exc.status == 504:
                raise WindowTooSlow(exc.message, status=504, code=exc.code) from None
            raise
        first = False
        body = response.content
        page = decode_page(body)
        followed.add(str(response.request.url))
        fresh = [s for s in page.value if s.id not in seen]
        seen.update(s.id for s in fresh)
        next_link = _next(graph, page.next_link, followed) if page.next_link else None
        yield FetchedPage(str(response.request.url), body, fresh, page.next_link)
        if next_link is None:
            return
        builder = graph.client.audit_logs.sign_ins.with_url(next_link)
        config = native_config()
