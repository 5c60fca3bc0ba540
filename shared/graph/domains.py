"""The tenant's verified domains: where a forwarding rule's address is still the tenant's own.

GET /domains lists every domain added to the tenant with `isVerified`; application permission
Domain.Read.All, or Directory.Read.All, which the reader holds
(https://learn.microsoft.com/en-us/graph/api/domain-list). A tenant often has several: its
onmicrosoft.com domain, its brands, an acquired company's. Without the list a rule forwarding to
a colleague under another of them would read as mail sent outside the organisation; without the
permission the review goes on with each user's own UPN domain and the report says so.
"""

from __future__ import annotations

import msgspec

from shared.errors import GraphUnavailable
from shared.graph.client import GraphConnection
from shared.graph.directory import DirectoryResult, _Collection, _list_all, _Listing, unavailable


class _Domain(msgspec.Struct, rename="camel"):
    id: str
    is_verified: bool | None = None


async def verified_domains(graph: GraphConnection) -> DirectoryResult[list[str]]:
    """The verified domains' names, lower case and sorted (unverified ones receive no mail)."""
    from msgraph.generated.domains.domains_request_builder import (
        DomainsRequestBuilder as Builder,
    )

    decode = msgspec.json.Decoder(_Collection[_Domain]).decode
    listing = _Listing[_Domain]("domains", decode)
    query = Builder.DomainsRequestBuilderGetQueryParameters(select=["id", "isVerified"])
    try:
        rows = await _list_all(graph, graph.client.domains, query, listing)
    except GraphUnavailable as exc:
        return unavailable([], exc)
    names = sorted({row.id.lower() for row in rows if row.is_verified})
    return DirectoryResult(names, detail=f"{len(names)} verified domain(s)")
