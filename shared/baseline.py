"""Per-user baseline: the countries, networks, devices and hours a user's sign-ins usually show.

"Unfamiliar" needs a memory of the familiar. A profile is built from a user's history (sign-ins
before the review window, or everything the retention period holds) and updated after each run
with the sign-ins not judged suspicious. Only successful sign-ins teach the profile: a failure
says nothing about where the user really is.

The profile is compact by design: every collection keeps only its most frequent entries (caps
below), so its JSON stays far under the 32 KB a Table property may hold. Hours are an
hours-of-week histogram in UTC (Monday 00:00 = 0); comparing a user with their own UTC pattern
needs no time zone.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from operator import attrgetter
from typing import TypeVar

import msgspec

from shared.model import DeviceDetail, GeoCoordinates, Location, SignIn, Status

HOURS_OF_WEEK = 168
CAPS = {
    "countries": 40,
    "cities": 80,
    "networks": 60,
    "prefixes": 80,
    "devices": 40,
    "platforms": 40,
}
THIN_MIN_SIGN_INS = 20
THIN_MIN_DAYS = 7

K = TypeVar("K", str, int)


class LastPlace(msgspec.Struct, rename="camel", frozen=True, kw_only=True):
    """The user's last located successful sign-in: the first leg of a travel hop into a window."""

    id: str
    at: datetime
    country: str
    city: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    ip: str | None = None
    asn: int | None = None

    def as_sign_in(self) -> SignIn:
        """The sign-in it stands for, as detections reason with it."""
        coordinates = (
            GeoCoordinates(latitude=self.latitude, longitude=self.longitude)
            if self.latitude is not None and self.longitude is not None else None
        )
        return SignIn(
            id=self.id, created_date_time=self.at, ip_address=self.ip,
            autonomous_system_number=self.asn, status=Status(),
            location=Location(city=self.city, country_or_region=self.country,
                              geo_coordinates=coordinates),
        )


def last_place(sign_ins: Sequence[SignIn]) -> LastPlace | None:
    """The newest located success of `sign_ins`, given in time order (either direction).

    Scans from the newest end and stops at the first located success, so it is cheap on the
    histories and timelines the callers hold (oldest first in review, newest first from Graph).
    """
    if not sign_ins:
        return None
    newest_first = sign_ins[0].created_date_time > sign_ins[-1].created_date_time
    for sign_in in (sign_ins if newest_first else reversed(sign_ins)):
        location = sign_in.location
        status = sign_in.status
        if location is None or not location.country_or_region or (
            status is not None and status.error_code != 0
        ):
            continue
        coordinates = sign_in.coordinates
        return LastPlace(
            id=sign_in.id, at=sign_in.created_date_time, country=location.country_or_region,
            city=location.city, latitude=coordinates[0] if coordinates else None,
            longitude=coordinates[1] if coordinates else None, ip=sign_in.ip_address,
            asn=sign_in.autonomous_system_number,
        )
    return None


class BaselineProfile(msgspec.Struct, rename="camel", kw_only=True):
    """A user's familiar places, networks, devices and hours, with counts of successful sign-ins."""

    countries: dict[str, int] = msgspec.field(default_factory=dict)  # "GB" -> sign-ins
    cities: dict[str, int] = msgspec.field(default_factory=dict)  # "London, GB"
    networks: dict[int, int] = msgspec.field(default_factory=dict)  # ASN
    prefixes: dict[str, int] = msgspec.field(default_factory=dict)  # "203.0.113.0/24"
    devices: dict[str, int] = msgspec.field(default_factory=dict)  # Entra device id
    platforms: dict[str, int] = msgspec.field(default_factory=dict)  # "Windows 10|Edge"
    hours: list[int] = msgspec.field(default_factory=lambda: [0] * HOURS_OF_WEEK)
    interactive: int = 0  # sign-ins counted in `hours`
    sign_ins: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    updated_at: datetime | None = None
    last_place: LastPlace | None = None  # newest located success the profile learned from
    version: int = 1


def network_prefix(ip: str | None) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) a sign-in came from: a home or office network, roughly."""
    if not ip:
        return None
    if ":" in ip:
        return _ipv6_prefix(ip)
    head, dot, _ = ip.rpartition(".")
    return head + ".0/24" if dot else None


def _ipv6_prefix(ip: str) -> str | None:
    head, compressed, _ = ip.partition("::")
    groups = head.split(":") if head else []
    if "." not in ip and "%" not in ip and (len(groups) >= 3 or compressed) and all(
        0 < len(group) <= 4 for group in groups[:3]
    ):
        first = [*groups, "0", "0", "0"][:3]
        try:
            return ":".join(f"{int(group, 16):04x}" for group in first) + "::/48"
        except ValueError:
            return None
    try:
        return ipaddress.IPv6Address(ip).exploded[:14] + "::/48"
    except ValueError:
        return None


def platform_of(sign_in: SignIn) -> str | None:
    """"Operating system|browser family" (browser versions change too often to remember)."""
    device = sign_in.device_detail
    if device is None:
        return None
    return _platform(device.operating_system, device.browser)


def _platform(operating_system: str | None, browser: str | None) -> str | None:
    if not (operating_system or browser):
        return None
    return f"{operating_system or ''}|{(browser or '').split(' ', 1)[0]}"


def hour_of_week(moment: datetime) -> int:
    """0 for Monday 00:00-00:59 UTC ... 167 for Sunday 23:00-23:59 UTC."""
    if moment.tzinfo is not None and moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.weekday() * 24 + moment.hour


def build_profile(sign_ins: Iterable[SignIn]) -> BaselineProfile:
    """A fresh profile from a user's history (any order; only successful sign-ins count)."""
    return capped(uncapped_profile(sign_ins))


def uncapped_profile(sign_ins: Iterable[SignIn]) -> BaselineProfile:
    """`build_profile` before its collections are cut to their caps: every country and network
    counted, for a tenant-wide total that must not lose a user's rarer ones (`capped` then
    gives the user's profile)."""
    profile = BaselineProfile()
    _add(profile, sign_ins)
    return profile


def update_profile(
    profile: BaselineProfile | None, sign_ins: Iterable[SignIn], now: datetime
) -> BaselineProfile:
    """The profile with the given (non-suspicious) sign-ins added, stamped `now`.

    Callers pass only sign-ins not judged suspicious, so an attacker's network never becomes
    familiar. The input profile is not modified.
    """
    merged = msgspec.structs.replace(
        profile or BaselineProfile(),
        countries=dict(profile.countries) if profile else {},
        cities=dict(profile.cities) if profile else {},
        networks=dict(profile.networks) if profile else {},
        prefixes=dict(profile.prefixes) if profile else {},
        devices=dict(profile.devices) if profile else {},
        platforms=dict(profile.platforms) if profile else {},
        hours=list(profile.hours) if profile else [0] * HOURS_OF_WEEK,
    )
    _add(merged, sign_ins)
    merged.updated_at = now
    return capped(merged)


_PLACE_DEVICE_NETWORK = attrgetter("location", "device_detail", "autonomous_system_number")
_IP = attrgetter("ip_address")
_CREATED = attrgetter("created_date_time")


def _successes(sign_ins: Iterable[SignIn]) -> list[SignIn]:
    return [s for s in sign_ins if (status := s.status) is None or status.error_code == 0]


def _add(profile: BaselineProfile, sign_ins: Iterable[SignIn]) -> None:
    """Count successful sign-ins into the profile.

    Hot in bulk scoring, so fields are counted by C-level `Counter(map(...))` over the records,
    then folded. Place, device and network are counted together, as one key (each is frozen,
    hashable, and few per user, so their combinations are few too): one pass over the records
    instead of three, which costs about half as much, and each value still first counted where
    it first appears.
    """
    successes = _successes(sign_ins)
    if not successes:
        return
    place = last_place(successes)
    if place is not None and (profile.last_place is None or place.at > profile.last_place.at):
        profile.last_place = place
    locations: Counter[Location | None] = Counter()
    devices: Counter[DeviceDetail | None] = Counter()
    networks: Counter[int | None] = Counter()
    for (location, device, asn), seen in Counter(map(_PLACE_DEVICE_NETWORK, successes)).items():
        locations[location] += seen
        devices[device] += seen
        networks[asn] += seen
    for location, seen in locations.items():
        if location is not None and location.country_or_region:
            country = location.country_or_region
            _add_count(profile.countries, country, seen)
            if location.city:
                _add_count(profile.cities, f"{location.city}, {country}", seen)
    for device, seen in devices.items():
        if device is not None:
            _add_count(profile.devices, device.device_id, seen)
            _add_count(profile.platforms, _platform(device.operating_system, device.browser),
                       seen)
    for asn, seen in networks.items():
        if asn:
            profile.networks[asn] = profile.networks.get(asn, 0) + seen
    for ip, seen in Counter(map(_IP, successes)).items():
        _add_count(profile.prefixes, network_prefix(ip), seen)
    interactive = [s.created_date_time for s in successes if s.is_interactive is not False]
    hours = profile.hours
    for slot, seen in Counter(map(hour_of_week, interactive)).items():
        hours[slot] += seen
    times = list(map(_CREATED, successes))
    first, last = min(times), max(times)
    if profile.first_seen is None or first < profile.first_seen:
        profile.first_seen = first
    if profile.last_seen is None or last > profile.last_seen:
        profile.last_seen = last
    profile.sign_ins += len(successes)
    profile.interactive += len(interactive)


def _add_count(counts: dict[str, int], key: str | None, seen: int) -> None:
    if key:
        counts[key] = counts.get(key, 0) + seen


def _top(counts: dict[K, int], cap: int) -> dict[K, int]:
    if len(counts) <= cap:
        return counts
    ranked = sorted(counts.items(), key=lambda item: item[1], reverse=True)[:cap]
    return dict(ranked)


def capped(profile: BaselineProfile) -> BaselineProfile:
    """The profile with each collection cut to its most frequent entries (CAPS)."""
    return msgspec.structs.replace(
        profile,
        countries=_top(profile.countries, CAPS["countries"]),
        cities=_top(profile.cities, CAPS["cities"]),
        networks=_top(profile.networks, CAPS["networks"]),
        prefixes=_top(profile.prefixes, CAPS["prefixes"]),
        devices=_top(profile.devices, CAPS["devices"]),
        platforms=_top(profile.platforms, CAPS["platforms"]),
    )


def is_thin(
    profile: BaselineProfile | None,
    *,
    min_sign_ins: int = THIN_MIN_SIGN_INS,
    min_days: int = THIN_MIN_DAYS,
) -> bool:
    """Too little history to call anything unfamiliar with confidence (the report says so)."""
    if profile is None or profile.sign_ins < min_sign_ins:
        return True
    if profile.first_seen is None or profile.last_seen is None:
        return True
    return (profile.last_seen - profile.first_seen).days < min_days
