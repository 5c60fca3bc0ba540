"""The tenant's baseline: where the tenant's users sign in from, and how often, for judging an
account that has no history of its own.

Why it matters: a user with no sign-ins before the window (a new hire, a guest's first visit, an
account whose history is not in the export, a tenant that keeps 7 days) has no baseline, so every
detection comparing with one stays silent, and the user's own window is no yardstick either: any
user's only sign-in is "new in this window". The tenant's users together say which countries and
networks (ASN) are ordinary here and at which hours the tenant works.

Learned from the users' baselines (their successful sign-ins before the window), or, when there
is no history at all, from the window's own successful sign-ins (then hours are not judged: a
window is too short to say when the tenant sleeps). A country or network is *usual* when at least
`USUAL_SHARE` of the tenant's located successes come from it (or it is the most common one);
*rare* when under `RARE_SHARE` (never seen included). Too small a tenant (fewer than
`MIN_SIGN_INS` successes or `MIN_USERS` users) has no tenant baseline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC
from functools import cached_property
from operator import attrgetter

import msgspec

from shared.baseline import HOURS_OF_WEEK, BaselineProfile, hour_of_week
from shared.detect.hosting import hosting_provider
from shared.model import SignIn

USUAL_SHARE = 0.05
RARE_SHARE = 0.01
NIGHT_SHARE = 0.01  # an hour of the day (with its neighbours) holding less of the tenant's work
MIN_SIGN_INS = 20
MIN_USERS = 5
_CAP = 2000  # networks kept, the most common first
_USER_ID = attrgetter("user_id")
_LOCATION = attrgetter("location")
_ASN = attrgetter("autonomous_system_number")
_TZ = attrgetter("tzinfo")
_HOUR = attrgetter("hour")


class TenantBaseline(msgspec.Struct, rename="camel", kw_only=True, dict=True):
    """Successful sign-ins of the tenant's users by country and network (ASN), and interactive
    ones by hour of the day (UTC).

    Built once, then only read: the totals below are summed at their first use (a tenant keeps
    up to 2,000 networks, and every sign-in of a user without a history asks about one), and
    are not part of the stored form (`dict=True` keeps them out of it)."""

    countries: dict[str, int] = msgspec.field(default_factory=dict)
    networks: dict[int, int] = msgspec.field(default_factory=dict)
    hours: list[int] = msgspec.field(default_factory=lambda: [0] * 24)
    sign_ins: int = 0
    users: int = 0
    from_window: bool = False  # learned from the window itself: no user had a history

    @cached_property
    def _country_total(self) -> int:
        return sum(self.countries.values())

    @cached_property
    def _network_total(self) -> int:
        return sum(self.networks.values())

    @cached_property
    def _hour_total(self) -> int:
        return sum(self.hours)

    def usual_country(self, country: str) -> bool:
        return _usual(self.countries, country)

    def rare_country(self, country: str, own: int = 0, own_total: int = 0) -> bool:
        """Under `RARE_SHARE` of the tenant's located successes come from the country, leaving
        out the user's own (`own` there, `own_total` anywhere) when learned from the window."""
        total = self._country_total - own_total
        return total <= 0 or (self.countries.get(country, 0) - own) / total < RARE_SHARE

    def rare_network(self, sign_in: SignIn) -> bool:
        """The sign-in's ASN is one the tenant rarely or never signs in from; False without an
        ASN (v1.0 sign-ins carry none): a /24 or /48 cannot stand in, since every user's home
        network is rare for the tenant as a whole."""
        asn = sign_in.autonomous_system_number
        if not asn or not self.networks:
            return False
        total = self._network_total
        return (self.networks.get(asn, 0) / total if total else 0.0) < RARE_SHARE

    def unusual_hosting(self, sign_in: SignIn, own: int = 0) -> str | None:
        """The provider when the sign-in comes from a hosting network (`shared.detect.hosting`)
        the tenant's users do not use routinely (under `USUAL_SHARE` of their successes, leaving
        out the user's own `own` there when learned from the window), else None."""
        asn = sign_in.autonomous_system_number
        provider = hosting_provider(asn)
        if provider is None or asn is None:
            return None
        total = self._network_total - own
        usual = total > 0 and (self.networks.get(asn, 0) - own) / total >= USUAL_SHARE
        return None if usual else provider

    def night(self, hour: int) -> bool:
        """An hour of the day (UTC) the tenant's users rarely work at (with the hours beside it);
        never said of a baseline learned from the window alone."""
        total = self._hour_total
        if self.from_window or not total:
            return False
        near = sum(self.hours[(hour + step) % 24] for step in (-1, 0, 1))
        return near < NIGHT_SHARE * total


def _share(counts: dict[object, int] | dict[str, int] | dict[int, int], key: object) -> float:
    total = sum(counts.values())
    return counts.get(key, 0) / total if total else 0.0  # type: ignore[call-overload]


def _usual(counts: dict[str, int], key: str) -> bool:
    if not counts:
        return False
    return _share(counts, key) >= USUAL_SHARE or key == max(counts, key=lambda k: counts[k])


def from_profiles(profiles: Iterable[BaselineProfile]) -> TenantBaseline | None:
    """The tenant baseline from its users' baselines, or None when too few to speak for it."""
    tenant = TenantBaseline()
    countries: Counter[str] = Counter()
    networks: Counter[int] = Counter()
    for profile in profiles:
        if not profile.sign_ins:
            continue
        tenant.users += 1
        tenant.sign_ins += profile.sign_ins
        countries.update(profile.countries)
        networks.update(profile.networks)
        for slot, seen in enumerate(profile.hours[:HOURS_OF_WEEK]):
            tenant.hours[slot % 24] += seen
    return _finished(tenant, countries, networks)


def from_sign_ins(sign_ins: Iterable[SignIn], *, from_window: bool) -> TenantBaseline | None:
    """The tenant baseline from sign-ins (only successes count), or None when too few."""
    counter = TenantCounter()
    counter.add_all(sign_ins)
    return counter.result(from_window=from_window)


class TenantCounter:
    """Counts successful sign-ins into a tenant baseline as they stream by (any order)."""

    def __init__(self) -> None:
        self.countries: Counter[str] = Counter()
        self.networks: Counter[int] = Counter()
        self.hours = [0] * 24
        self.users: set[str] = set()
        self.sign_ins = 0

    def add_all(self, sign_ins: Iterable[SignIn]) -> None:
        """Hot on every row of a review: counted by C-level `Counter(map(...))` over the
        successes, as `shared.baseline` does (places are shared records once decoded, so
        countries are counted through them)."""
        successes = [s for s in sign_ins if (status := s.status) is None or not status.error_code]
        if not successes:
            return
        self.sign_ins += len(successes)
        users = set(map(_USER_ID, successes))
        if None in users or "" in users:  # no object id: the UPN keys the user (user_key)
            users -= {None, ""}
            users.update(s.user_key for s in successes if not s.user_id)
        self.users.update(users)
        countries = self.countries
        for location, seen in Counter(map(_LOCATION, successes)).items():
            if location is not None and location.country_or_region:
                countries[location.country_or_region] += seen
        self.networks.update(filter(None, map(_ASN, successes)))
        times = [s.created_date_time for s in successes if s.is_interactive is not False]
        if set(map(_TZ, times)) <= {UTC}:  # decoded Graph times: the hour is the UTC hour
            by_hour = Counter(map(_HOUR, times))
        else:
            by_hour = Counter(hour_of_week(moment) % 24 for moment in times)
        for hour, seen in by_hour.items():
            self.hours[hour] += seen

    def add_profile(self, user: str, profile: BaselineProfile) -> None:
        """Count a user's history through the profile already built from it, before its caps
        (`shared.baseline.uncapped_profile`): the same figures as `add_all` over those rows
        (successes by country, network and UTC hour of interactive ones), without a second pass
        over them."""
        if not profile.sign_ins:
            return
        self.sign_ins += profile.sign_ins
        self.users.add(user)
        self.countries.update(profile.countries)
        self.networks.update(profile.networks)
        hours = self.hours
        for slot, seen in enumerate(profile.hours):
            if seen:
                hours[slot % 24] += seen

    def result(self, *, from_window: bool) -> TenantBaseline | None:
        tenant = TenantBaseline(from_window=from_window, hours=list(self.hours),
                                sign_ins=self.sign_ins, users=len(self.users))
        return _finished(tenant, self.countries, self.networks)


def _finished(tenant: TenantBaseline, countries: Counter[str],
              networks: Counter[int]) -> TenantBaseline | None:
    if tenant.sign_ins < MIN_SIGN_INS or tenant.users < MIN_USERS:
        return None
    tenant.countries = dict(countries)
    tenant.networks = dict(networks.most_common(_CAP))
    return tenant
