"""Conditional Access named locations: the tenant's trusted networks (offices, VPN egress).

GET /identity/conditionalAccess/namedLocations lists both kinds, ipNamedLocation (isTrusted,
ipRanges of cidrAddress) and countryNamedLocation (countriesAndRegions); application permission
Policy.Read.All (learn.microsoft.com/graph/api/conditionalaccessroot-list-namedlocations).
Without the permission the review goes on without them and the report says so.

The list counts against the "Identity protection and conditional access" limit: 1 request per
second per tenant, with 429s that may carry no Retry-After (Graph docs,
includes/throttling-identityprotection-ca.md; REFERENCE.md): it is paced by the same limiter as
Identity Protection.
"""

from __future__ import annotations

from typing import Any

import msgspec

from shared.detect.trusted import NamedLocationError, TrustedNetworks, from_named_locations
from shared.errors import GraphError, GraphUnavailable
from shared.graph.client import GraphConnection
from shared.graph.directory import DirectoryResult, _Collection, _list_all, _Listing, unavailable


async def trusted_networks(graph: GraphConnection) -> DirectoryResult[TrustedNetworks]:
    """The tenant's trusted IP ranges (and countries a location marks trusted)."""
    from msgraph.generated.identity.conditional_access.named_locations.named_locations_request_builder import (  # noqa: E501
        NamedLocationsRequestBuilder as Builder,
    )

    decode = msgspec.json.Decoder(_Collection[dict[str, Any]]).decode
    listing = _Listing[dict[str, Any]]("named locations", decode, graph.risk_limiter)
    query = Builder.NamedLocationsRequestBuilderGetQueryParameters()
    builder = graph.client.identity.conditional_access.named_locations
    try:
        rows = await _list_all(graph, builder, query, listing)
    except GraphUnavailable as exc:
        return unavailable(TrustedNetworks(), exc)
    try:
        trusted = from_named_locations(rows)
    except NamedLocationError as exc:
        raise GraphError(f"named locations: {exc}") from None
    detail = (f"{len(rows)} named locations, {len(trusted.ranges)} trusted IP ranges"
              + (f", {len(trusted.countries)} trusted countries" if trusted.countries else ""))
    return DirectoryResult(trusted, detail=detail)
