"""What every scenario writes into: the sign-in log, the clock, Identity Protection records.

A scenario is a function `(scene, person) -> away`, where `away` lists the (start, end) spans
during which the person's everyday routine must not also place them at home (they are on a
plane, abroad, or the account is switched off).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, TypedDict

from local.tenant.people import Person, address
from local.tenant.places import City, Network
from local.tenant.records import SignInLog
from local.tenant.timeline import Timeline

Away = list[tuple[int, int]]


class Origin(TypedDict):
    """Where a sign-in comes from as Graph records it; spread into `SignInLog.add` as keywords."""

    ip: str
    asn: int
    location: dict[str, object]


@dataclass
class Scene:
    log: SignInLog
    clock: Timeline
    rng: random.Random
    risky_users: list[dict[str, object]] = field(default_factory=list)
    risk_detections: list[dict[str, object]] = field(default_factory=list)
    # what followed some sign-ins (local/tenant/followed.py)
    audits: list[dict[str, Any]] = field(default_factory=list)
    methods: list[dict[str, Any]] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)
    grants: list[dict[str, Any]] = field(default_factory=list)
    benign_phone: str = ""  # the user whose new phone is the tenant's benign registration

    def jitter(self, spread: int = 300) -> int:
        """A few random seconds to add to a scripted time, so nothing lands on round minutes."""
        return self.rng.randrange(1, spread)

    def home(self, person: Person, *, ipv6: bool | None = None) -> Origin:
        """The person's home connection; dual-stack homes use IPv6 about half the time."""
        use_v6 = bool(person.home_ipv6) and (self.rng.random() < 0.5 if ipv6 is None else ipv6)
        ip = person.home_ipv6 if use_v6 else person.home_ip
        return {"ip": ip, "asn": person.home_isp.asn, "location": self.log.location(person.home)}

    def office(self, person: Person) -> Origin:
        office = person.office
        return {"ip": self.rng.choice(office.egress_ips), "asn": office.network.asn,
                "location": self.log.location(office.city)}

    def mobile(self, person: Person, city: City | None = None) -> Origin:
        """A fresh carrier address (carriers hand out a new one on most connections)."""
        carrier = person.carrier
        return {"ip": address(carrier, self.rng), "asn": carrier.asn,
                "location": self.log.location(city or person.home)}

    def elsewhere(self, network: Network, city: City, ip: str | None = None) -> Origin:
        return {"ip": ip or address(network, self.rng), "asn": network.asn,
                "location": self.log.location(city)}
