"""Hosting networks: autonomous systems (ASN) of cloud and VPS providers, where anyone can rent a
machine by the hour, so a sign-in from one is rarely a person at home or in an office.

Why it matters for an account without a history (`shared.detect.unfamiliar_location`): with no
baseline of its own, a first sign-in from the tenant's usual country can still come from a
rented server: attackers rent virtual private servers to sign in from (MITRE ATT&CK T1583.003,
https://attack.mitre.org/techniques/T1583/003/). A hosting network the tenant's users
use routinely (a VPN egress, a virtual desktop) is the tenant's own and says nothing.

The list is short and deliberate: the largest public clouds and VPS hosts, each ASN as registered
with its regional internet registry (ARIN, RIPE NCC, APNIC, LACNIC; the owner names below are the
registrations', as shown by e.g. https://bgp.he.net/AS16509). Microsoft's own networks (AS8075)
are left out: Azure virtual desktops, Windows 365 Cloud PCs and Microsoft-internal sign-ins come
from them every day. An ASN not listed is not called hosting: a missed provider raises nothing,
it never lowers a level.

Sources: MITRE ATT&CK T1583.003 (above) and the registrations above.
"""

from __future__ import annotations

HOSTING_NETWORKS: dict[int, str] = {
    16509: "Amazon (AWS)",
    14618: "Amazon (AWS)",
    15169: "Google",
    396982: "Google Cloud",
    31898: "Oracle Cloud",
    45102: "Alibaba Cloud",
    132203: "Tencent Cloud",
    14061: "DigitalOcean",
    16276: "OVH",
    24940: "Hetzner",
    213230: "Hetzner Cloud",
    63949: "Akamai Connected Cloud (Linode)",
    20473: "Vultr (Choopa)",
    9009: "M247",
    51167: "Contabo",
    60781: "Leaseweb",
    16265: "Leaseweb",
    12876: "Scaleway",
    36352: "ColoCrossing",
    53667: "FranTech (BuyVM)",
    62240: "Clouvider",
    27715: "Locaweb",
}


def hosting_provider(asn: int | None) -> str | None:
    """The provider whose hosting network `asn` is, or None (unknown ASN, or none)."""
    return HOSTING_NETWORKS.get(asn) if asn else None
