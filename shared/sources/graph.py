"""Sign-ins from Microsoft Graph (`/auditLogs/signIns`): the default source.

A thin adapter over `shared.graph.signins`: a page is Graph's response body, its cursor the
`@odata.nextLink`, its origin the request URL. Pacing, retries and the licence checks stay in
`shared.graph`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass

from shared.graph import decode_page, sign_in_source, stream_sign_ins
from shared.model import DataSource, SignIn, Window
from shared.services import Services
from shared.sources import SourcePage


@dataclass(frozen=True)
class GraphSource:
    services: Services
    name: str = "graph"

    def describe(self) -> DataSource:
        return sign_in_source(self.services.settings.graph_api_version)

    async def pages(self, window: Window, *, user: str | None = None,
                    resume_from: str | None = None) -> AsyncGenerator[SourcePage, None]:
        async with self.services.graph() as graph:
            # a fresh query whose first page times out (504) is split by the fetch step
            async for page in stream_sign_ins(graph, window, user=user, resume_from=resume_from,
                                              split_on_timeout=resume_from is None):
                yield SourcePage(page.body, page.sign_ins, page.next_link, page.request_url)

    def stored(self, body: bytes, fetched: SourcePage, window: Window) -> SourcePage:
        page = decode_page(body)  # the stored page's own nextLink is where the stream goes on
        return SourcePage(body, page.value, page.next_link, fetched.origin)

    def rows(self, body: bytes, window: Window) -> list[SignIn]:
        return decode_page(body).value


def connect(services: Services) -> GraphSource:
    return GraphSource(services)
