"""The tenant's own trusted networks: Conditional Access named locations, as detections use them.

A named location marked trusted (`ipNamedLocation` with `isTrusted` and `ipRanges` of CIDR
addresses) is an office, a VPN egress or a partner network the tenant vouches for; a
`countryNamedLocation` lists countries (`countriesAndRegions`) the tenant works in. Every
detection treats a trusted range as a familiar network (a VPN egress abroad is not a new country,
not a travel hop, not a spray source), and a trusted country as a familiar country, and says so.

Shapes (Microsoft Graph v1.0: learn.microsoft.com/graph/api/resources/ipnamedlocation and
.../resources/countrynamedlocation; the list is GET /identity/conditionalAccess/namedLocations,
learn.microsoft.com/graph/api/conditionalaccessroot-list-namedlocations, least privilege
Policy.Read.All):
  {"@odata.type": "#microsoft.graph.ipNamedLocation", "displayName": "...", "isTrusted": true,
   "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "12.34.0.0/16"}]}
  {"@odata.type": "#microsoft.graph.countryNamedLocation", "displayName": "...",
   "countriesAndRegions": ["US", "GB"], "includeUnknownCountriesAndRegions": false}
Graph gives country locations no `isTrusted` (only IP locations can be marked trusted), and
tenants often list countries to block them: a country location read from Graph is therefore not
trusted. A trusted-networks file may mark one `"isTrusted": true` to make its countries familiar.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from functools import cache, lru_cache
from typing import Any

import msgspec

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedNetworks(msgspec.Struct, rename="camel", frozen=True, kw_only=True):
    """Trusted CIDR ranges and countries, each with the named location it came from."""

    ranges: dict[str, str] = msgspec.field(default_factory=dict)  # "203.0.113.0/24" -> name
    countries: dict[str, str] = msgspec.field(default_factory=dict)  # "GB" -> name

    def __bool__(self) -> bool:
        return bool(self.ranges or self.countries)

    def range_of(self, ip: str | None) -> str | None:
        """The name of the trusted location whose range holds `ip`, or None."""
        if not ip or not self.ranges:
            return None
        return _range_of(tuple(self.ranges.items()), ip)

    def country_of(self, country: str | None) -> str | None:
        return self.countries.get(country.upper()) if country and self.countries else None


@lru_cache(maxsize=1 << 16)
def _range_of(ranges: tuple[tuple[str, str], ...], ip: str) -> str | None:
    """Pure, so remembered: a run asks for every sign-in's address, a few per user, and parsing
    the address and testing each range was the largest cost of scoring 1,000 users."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    for network, name in _parsed(ranges):
        if address.version == network.version and address in network:
            return name
    return None


@cache
def _parsed(ranges: tuple[tuple[str, str], ...]) -> list[tuple[IPNetwork, str]]:
    """Parsed ranges (reference data read once per distinct set; malformed ones were refused)."""
    return [(ipaddress.ip_network(cidr, strict=False), name) for cidr, name in ranges]


class NamedLocationError(ValueError):
    """A named location that cannot be read as a trusted network."""


def from_named_locations(locations: Iterable[Mapping[str, Any]]) -> TrustedNetworks:
    """Trusted networks from Graph namedLocation objects (other kinds and untrusted IP ranges are
    left out). Raises NamedLocationError, naming the location, for a malformed CIDR."""
    ranges: dict[str, str] = {}
    countries: dict[str, str] = {}
    for location in locations:
        kind = str(location.get("@odata.type", ""))
        name = str(location.get("displayName") or location.get("id") or "named location")
        if kind.endswith("ipNamedLocation") or "ipRanges" in location:
            if not location.get("isTrusted"):
                continue
            for entry in location.get("ipRanges") or []:
                cidr = str((entry or {}).get("cidrAddress", "")).strip()
                try:
                    ipaddress.ip_network(cidr, strict=False)
                except ValueError:
                    raise NamedLocationError(
                        f"named location {name!r} has an invalid cidrAddress {cidr!r}") from None
                ranges[cidr] = name
        elif kind.endswith("countryNamedLocation") or "countriesAndRegions" in location:
            if not location.get("isTrusted"):
                continue
            for code in location.get("countriesAndRegions") or []:
                if isinstance(code, str) and len(code) == 2:
                    countries[code.upper()] = name
    return TrustedNetworks(ranges=ranges, countries=countries)
