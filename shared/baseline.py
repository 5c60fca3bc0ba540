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
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TypeVar

import msgspec

from shared.model import SignIn

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
    version: int = 1


def network_prefix(ip: str | None) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) a sign-in came from: a home or office network, roughly."""
    if not ip:
        return None
    if ":" in ip:
        try:
            exploded = ipaddress.IPv6Address(ip).exploded
        except ValueError:
            return None
        return exploded[:14] + "::/48"
    head, dot, _ = ip.rpartition(".")
    return head + ".0/24" if dot else None


def platform_of(sign_in: SignIn) -> str | None:
    """"Operating system|browser family" (browser versions change too often to remember)."""
    device = sign_in.device_detail
    if device is None or not (device.operating_system or device.browser):
        return None
    browser = (device.browser or "").split(" ", 1)[0]
    return f"{device.operating_system or ''}|{browser}"


def hour_of_week(moment: datetime) -> int:
    """0 for Monday 00:00-00:59 UTC ... 167 for Sunday 23:00-23:59 UTC."""
    if moment.tzinfo is not None and moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.weekday() * 24 + moment.hour


def _is_success(sign_in: SignIn) -> bool:
    status = sign_in.status
    return status is None or status.error_code == 0


def _count(counts: dict[str, int], key: str | None) -> None:
    if key:
        counts[key] = counts.get(key, 0) + 1


def build_profile(sign_ins: Iterable[SignIn]) -> BaselineProfile:
    """A fresh profile from a user's history (any order; only successful sign-ins count)."""
    profile = BaselineProfile()
    _add(profile, sign_ins)
    return _capped(profile)


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
    return _capped(merged)


def _add(profile: BaselineProfile, sign_ins: Iterable[SignIn]) -> None:
    countries, cities, prefixes = profile.countries, profile.cities, profile.prefixes
    devices, platforms, networks, hours = (
        profile.devices, profile.platforms, profile.networks, profile.hours
    )
    first, last = profile.first_seen, profile.last_seen
    for sign_in in sign_ins:
        if not _is_success(sign_in):
            continue
        profile.sign_ins += 1
        moment = sign_in.created_date_time
        if first is None or moment < first:
            first = moment
        if last is None or moment > last:
            last = moment
        location = sign_in.location
        if location is not None and location.country_or_region:
            country = location.country_or_region
            countries[country] = countries.get(country, 0) + 1
            if location.city:
                _count(cities, f"{location.city}, {country}")
        if sign_in.autonomous_system_number:
            asn = sign_in.autonomous_system_number
            networks[asn] = networks.get(asn, 0) + 1
        _count(prefixes, network_prefix(sign_in.ip_address))
        _count(devices, sign_in.device_id)
        _count(platforms, platform_of(sign_in))
        if sign_in.is_interactive is not False:
            hours[hour_of_week(moment)] += 1
            profile.interactive += 1
    profile.first_seen, profile.last_seen = first, last


def _top(counts: dict[K, int], cap: int) -> dict[K, int]:
    if len(counts) <= cap:
        return counts
    ranked = sorted(counts.items(), key=lambda item: item[1], reverse=True)[:cap]
    return dict(ranked)


def _capped(profile: BaselineProfile) -> BaselineProfile:
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
