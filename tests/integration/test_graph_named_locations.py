"""Conditional Access named locations read through the real SDK from the Graph emulator.

The shapes follow Microsoft Graph v1.0: learn.microsoft.com/graph/api/resources/ipnamedlocation
(isTrusted, ipRanges of cidrAddress), .../resources/countrynamedlocation (countriesAndRegions,
no trust flag) and .../api/conditionalaccessroot-list-namedlocations (one list of both kinds,
Policy.Read.All).
"""

from __future__ import annotations

from typing import Any

import pytest

from local.graph_emulator import GraphEmulator
from local.tenant.generator import named_locations
from shared.errors import GraphError
from shared.graph import trusted_networks
from tests.integration.test_graph_directory import USERS, connection, run


def ip_location(n: int, name: str, cidrs: list[str], trusted: bool) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.ipNamedLocation", "id": f"nl-{n}",
            "displayName": name, "isTrusted": trusted,
            "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": c}
                         for c in cidrs]}


def test_trusted_ranges_are_read_untrusted_and_countries_left_out(graph: GraphEmulator) -> None:
    graph.load(users=USERS, named_locations=[
        ip_location(1, "London office", ["194.74.140.10/32", "194.74.140.11/32"], True),
        ip_location(2, "Partner extranet", ["198.51.100.0/24"], False),
        {"@odata.type": "#microsoft.graph.countryNamedLocation", "id": "nl-3",
         "displayName": "Blocked countries", "countriesAndRegions": ["KP"],
         "includeUnknownCountriesAndRegions": False},
        {"@odata.type": "#microsoft.graph.ipNamedLocation", "id": "nl-4",
         "displayName": "VPN v6", "isTrusted": True,
         "ipRanges": [{"@odata.type": "#microsoft.graph.iPv6CidrRange",
                       "cidrAddress": "2001:db8:1::/48"}]},
    ])
    result = run(connection(graph), trusted_networks)
    assert result.available
    trusted = result.value
    assert trusted.range_of("194.74.140.11") == "London office"
    assert trusted.range_of("2001:db8:1:2::9") == "VPN v6"
    assert trusted.range_of("198.51.100.7") is None  # listed, but not marked trusted
    assert trusted.country_of("KP") is None  # a block list is not a trust list
    assert [c["path"].split("?")[0] for c in graph.calls] == [
        "/v1.0/identity/conditionalAccess/namedLocations"]


def test_the_sample_tenant_serves_its_named_locations(graph: GraphEmulator) -> None:
    graph.load(users=USERS, named_locations=named_locations())
    trusted = run(connection(graph), trusted_networks).value
    assert trusted.range_of("165.225.72.14") == "Corporate VPN egress"
    assert trusted.range_of("80.150.12.66") == "Berlin office"


def test_without_policy_read_all_the_review_goes_on(graph: GraphEmulator) -> None:
    graph.load(users=USERS, named_locations=named_locations())
    graph.configure(forbidden_paths=["identity/conditionalAccess"])
    result = run(connection(graph), trusted_networks)
    assert (result.available, result.reason, bool(result.value)) == (False, "permission", False)
    assert not result.source("namedLocations").available


def test_a_malformed_range_is_a_clear_error(graph: GraphEmulator) -> None:
    graph.load(users=USERS, named_locations=[ip_location(1, "Typo", ["10.0.0.300/24"], True)])
    with pytest.raises(GraphError, match=r"'Typo' has an invalid cidrAddress '10\.0\.0\.300/24'"):
        run(connection(graph), trusted_networks)
