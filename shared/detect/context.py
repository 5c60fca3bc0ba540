"""What a detection sees besides the user's own sign-ins: baseline, tenant signals, settings.

`TenantSignals` is the tenant-wide pass that password spray needs: which IPs and networks (ASN)
failed many distinct users in a short time. It is built in one streaming pass
(`TenantSignalsBuilder.add` per sign-in, shard by shard, in any order); memory grows with the
failures it keeps (time and user of each), plus, per source, the distinct users who signed in
successfully from it, capped at `spray_success_cap`. The result is small and serialisable: only
sources that sprayed are kept.

Thresholds are named fields of `DetectionSettings`; the defaults start from established rule
sets (the design notes' Detections section) and each detection module cites its own.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Literal

import msgspec

from shared.baseline import BaselineProfile, network_prefix
from shared.detect.campaigns import Campaign, Failure, build_campaigns
from shared.detect.campaigns import targets as campaign_targets
from shared.detect.codes import FAILURE_CODES, PASSWORD_KNOWN_CODES
from shared.detect.tenant_baseline import TenantBaseline
from shared.detect.trusted import TrustedNetworks
from shared.model import RiskDetection, RiskyUser, SignIn, SprayingSource, Window
from shared.persistence.records import Followed


class DetectionSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Every threshold a detection uses. Defaults: see each detection's docstring."""

    # impossible_travel
    travel_max_speed_kmh: float = 900.0
    travel_noise_km: float = 50.0  # hops shorter than this are geolocation noise
    travel_noise_minutes: float = 10.0  # speeds are never computed over less time than this
    travel_same_country_is_routing: bool = True  # city hops within one country: routing
    travel_coarse_min_radius_km: float = 150.0  # uncertainty of a country-only location, at least
    # password_spray (tenant-wide)
    spray_min_users: int = 5
    spray_window_minutes: float = 20.0
    spray_network_min_users: int = 10  # an ASN spreads over many IPs: needs more users
    spray_success_cap: int = 1000  # distinct succeeded users remembered per source, at most
    # campaigns (tenant-wide, over the whole window: shared.detect.campaigns)
    campaign_min_users: int = 6  # accounts one address failed over the window
    campaign_network_min_users: int = 10
    campaign_cluster_min_users: int = 10
    campaign_cluster_min_networks: int = 5  # v1.0 rows (no agent): addresses in this many /24s
    campaign_max_gap_hours: float = 6.0  # a cluster's failures follow each other closer than this
    campaign_max_attempts_per_account: float = 4.0  # mean failures per account, at most
    # repeated_failures (brute force)
    brute_force_min_failures: int = 10
    brute_force_window_minutes: float = 20.0
    brute_force_lockout_weight: int = 2  # a Smart Lockout (50053) counts as this many failures
    brute_force_success_minutes: float = 60.0  # a success this soon after a burst ends it
    slow_failures_min: int = 6  # failures over the window, from rotating sources, never a success
    slow_failures_min_hours: float = 3.0
    slow_failures_many_hours: float = 12.0  # sustained this long: medium
    slow_failures_many_sources: int = 4  # or from this many networks or countries: medium
    # mfa_fatigue
    mfa_fatigue_min_prompts: int = 7
    mfa_fatigue_window_minutes: float = 10.0
    mfa_fatigue_success_minutes: float = 60.0
    mfa_repeated_min_prompts: int = 3  # fewer, slower denials: worth a glance
    mfa_repeated_window_minutes: float = 60.0
    # off_hours
    off_hours_tolerance_hours: int = 1  # neighbouring hours of the week count as usual
    off_hours_min_history: int = 15  # interactive sign-ins the baseline needs to judge hours
    off_hours_weekend_min: int = 4  # weekend sign-ins in the baseline that make weekends a habit
    holidays: frozenset[date] = frozenset()  # days judged like a weekend day
    # unfamiliar_location
    unfamiliar_fallback_min_days: int = 2  # without a baseline: countries seen on this many days
    # disabled_account
    disabled_account_medium_attempts: int = 10
    # persistence (what followed a suspicious sign-in)
    persistence_tie_minutes: float = 60.0  # a change this soon after it, from elsewhere: tied
    # baseline
    thin_min_sign_ins: int = 20
    thin_min_days: int = 7


class SpraySource(msgspec.Struct, rename="camel", frozen=True, kw_only=True):
    """An IP or network (ASN) that failed many distinct users within a short time."""

    kind: Literal["ip", "network"]
    ip: str | None = None
    network: int | None = None
    failed_users: list[str]
    succeeded_users: int  # distinct users who signed in successfully from it (capped)
    failures: int  # failures within its spray bursts
    first: datetime
    last: datetime

    @property
    def label(self) -> str:
        return self.ip if self.kind == "ip" and self.ip else f"AS{self.network}"

    def as_spraying_source(self) -> SprayingSource:
        return SprayingSource(
            ip=self.label,
            users=len(self.failed_users),
            failed_users=len(self.failed_users),
            succeeded_users=self.succeeded_users,
            network=self.network,
        )


class TenantSignals(msgspec.Struct, rename="camel", kw_only=True):
    """Tenant-wide facts for scoring one user: spray sources and whom each failed."""

    sources: list[SpraySource] = msgspec.field(default_factory=list)
    targets: dict[str, list[int]] = msgspec.field(default_factory=dict)  # user -> source indexes
    sign_ins: int = 0
    users: int = 0
    campaigns: list[Campaign] = msgspec.field(default_factory=list)
    campaign_targets: dict[str, list[int]] = msgspec.field(default_factory=dict)

    def sources_for(self, user_id: str) -> list[SpraySource]:
        return [self.sources[i] for i in self.targets.get(user_id, ())]

    def campaigns_for(self, user_id: str) -> list[Campaign]:
        return [self.campaigns[i] for i in self.campaign_targets.get(user_id, ())]


class DetectionContext(msgspec.Struct, kw_only=True):
    """Everything a detection may know about one user besides the user's sign-ins."""

    window: Window
    baseline: BaselineProfile | None = None
    privileged_roles: list[str] = msgspec.field(default_factory=list)  # empty: not privileged
    tenant: TenantSignals = msgspec.field(default_factory=TenantSignals)
    risk_detections: list[RiskDetection] = msgspec.field(default_factory=list)
    risky_user: RiskyUser | None = None
    settings: DetectionSettings = msgspec.field(default_factory=DetectionSettings)
    identity_protection: bool = False  # Identity Protection data was available for the tenant
    user_id: str = ""
    trusted: TrustedNetworks = msgspec.field(default_factory=TrustedNetworks)
    followed: Followed | None = None  # what followed the sign-ins: audit rows, methods, rules
    # where the tenant's users sign in from: the yardstick for a user without a baseline
    tenant_baseline: TenantBaseline | None = None


class TenantSignalsBuilder:
    """Streams sign-ins (any order, shard by shard) into `TenantSignals`."""

    def __init__(self, settings: DetectionSettings | None = None,
                 trusted: TrustedNetworks | None = None) -> None:
        self.settings = settings or DetectionSettings()
        self.trusted = trusted or TrustedNetworks()
        self._ip_failures: defaultdict[str, list[tuple[float, str]]] = defaultdict(list)
        self._net_failures: defaultdict[int, list[tuple[float, str, str]]] = defaultdict(list)
        self._failures: list[Failure] = []
        self._ip_successes: defaultdict[str, dict[str, datetime]] = defaultdict(dict)
        self._net_successes: defaultdict[int, set[str]] = defaultdict(set)
        self._users: set[str] = set()
        self._sign_ins = 0
        # the users' own sources: (user, network prefix) -> first success from it (epoch
        # seconds; history counts as -inf), and (user, device id) of their successes
        self._own_networks: dict[tuple[str, str], float] = {}
        self._own_devices: set[tuple[str, str]] = set()
        # histories by user, learned from only when a user's own sources are asked for
        self._deferred: Mapping[str, Iterable[SignIn]] = {}
        self._learned: set[str] = set()

    def add(self, sign_in: SignIn) -> None:
        self.add_all((sign_in,))

    def add_all(self, sign_ins: Iterable[SignIn]) -> TenantSignalsBuilder:
        """Every sign-in of the window passes here: one loop, with what it touches held in
        locals and `SignIn.user_key`, `SignIn.device_id` and `_learn_own_source` written out."""
        users_add = self._users.add
        ip_failures, net_failures = self._ip_failures, self._net_failures
        failures_append = self._failures.append
        ip_successes, net_successes = self._ip_successes, self._net_successes
        own_networks, own_devices_add = self._own_networks, self._own_devices.add
        cap = self.settings.spray_success_cap
        never = float("inf")
        count = 0
        for sign_in in sign_ins:
            count += 1
            user = sign_in.user_id or (sign_in.user_principal_name or "").lower()
            users_add(user)
            status = sign_in.status
            code = status.error_code if status is not None else 0
            if code not in FAILURE_CODES and code not in PASSWORD_KNOWN_CODES:
                continue
            ip, asn = sign_in.ip_address or "", sign_in.autonomous_system_number
            at = sign_in.created_date_time
            moment = (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).timestamp()
            device = sign_in.device_detail
            device_id = device.device_id if device is not None else None
            if code in FAILURE_CODES:
                if ip:
                    ip_failures[ip].append((moment, user))
                    failures_append(Failure(moment, user, ip, asn or 0, sign_in.user_agent or "",
                                            device_id or ""))
                if asn:
                    net_failures[asn].append((moment, user, ip))
                continue
            prefix = network_prefix(ip)
            if prefix:
                key = (user, prefix)
                if moment < own_networks.get(key, never):
                    own_networks[key] = moment
            if device_id:
                own_devices_add((user, device_id))
            if ip:
                seen = ip_successes[ip]
                before = seen.get(user)
                if before is None:
                    if len(seen) < cap:
                        seen[user] = at
                elif at > before:
                    seen[user] = at
            if asn:
                seen_net = net_successes[asn]
                if len(seen_net) < cap:
                    seen_net.add(user)
        self._sign_ins += count
        return self

    def add_history(self, sign_ins: Iterable[SignIn]) -> TenantSignalsBuilder:
        """Sign-ins before the window: only the users' own sources are learned from them (the
        networks each user signed in from, the registered devices each user used), nothing is
        counted."""
        for sign_in in sign_ins:
            status = sign_in.status
            if (status.error_code if status is not None else 0) in PASSWORD_KNOWN_CODES:
                self._learn_own_source(sign_in, sign_in.user_key, float("-inf"))
            elif sign_in.device_id:  # a device id is the registered device's, never claimed
                self._own_devices.add((sign_in.user_key, sign_in.device_id))
        return self

    def defer_history(self, histories: Mapping[str, Iterable[SignIn]]) -> TenantSignalsBuilder:
        """The users' histories (keyed by `SignIn.user_key`), learned from as `add_history` does
        but only for the users whose own sources a failure or a campaign asks about: most users
        have neither, and this pass over every history row cost as much as the user baselines."""
        self._deferred = histories
        self._learned = set()
        return self

    def _learn_history(self, user: str) -> None:
        if user not in self._learned:
            self._learned.add(user)
            rows = self._deferred.get(user)
            if rows:
                self.add_history(rows)

    def _learn_own_source(self, sign_in: SignIn, user: str, moment: float) -> None:
        prefix = network_prefix(sign_in.ip_address)
        if prefix:
            key = (user, prefix)
            if moment < self._own_networks.get(key, float("inf")):
                self._own_networks[key] = moment
        device = sign_in.device_detail
        device_id = device.device_id if device is not None else None
        if device_id:
            self._own_devices.add((user, device_id))

    def familiar(self, user: str, ip: str, moment: float) -> bool:
        """Whether `user` signed in from the network of `ip` before `moment` (or in the
        history)."""
        self._learn_history(user)
        prefix = network_prefix(ip)
        return prefix is not None and self._own_networks.get((user, prefix), float("inf")) < moment

    def _own_mistake(self, failure: Failure) -> bool:
        """A failure from the user's own registered device (Entra device ids are not the
        attacker's to send), or from a network the user signed in from before it."""
        self._learn_history(failure.user)
        if failure.device and (failure.user, failure.device) in self._own_devices:
            return True
        return self.familiar(failure.user, failure.ip, failure.moment)

    def build(self) -> TenantSignals:
        s = self.settings
        sources: list[SpraySource] = []
        for ip, events in self._ip_failures.items():
            found = _spray(events, s.spray_min_users, s.spray_window_minutes * 60)
            if found is not None:
                users, count, first, last = found
                succeeded = len(self._ip_successes.get(ip, ()))
                if len(users) > succeeded:  # failed users must outnumber successful ones
                    sources.append(_source("ip", users, succeeded, count, first, last, ip=ip))
        for asn, net_events in self._net_failures.items():
            if len({ip for _, _, ip in net_events}) < 2:
                continue  # one address: already judged as an IP
            pairs = [(moment, user) for moment, user, _ in net_events]
            found = _spray(pairs, s.spray_network_min_users, s.spray_window_minutes * 60)
            if found is not None:
                users, count, first, last = found
                succeeded = len(self._net_successes.get(asn, ()))
                if len(users) > succeeded:
                    sources.append(
                        _source("network", users, succeeded, count, first, last, network=asn)
                    )
        sources.sort(key=lambda source: (-len(source.failed_users), source.label))
        targets: dict[str, list[int]] = {}
        for index, source in enumerate(sources):
            for user in source.failed_users:
                targets.setdefault(user, []).append(index)
        strangers = [f for f in self._untrusted(self._failures) if not self._own_mistake(f)]
        campaigns = build_campaigns(
            strangers, self._ip_successes,
            {asn: len(users) for asn, users in self._net_successes.items()}, s,
            spray_ips={x.ip for x in sources if x.kind == "ip" and x.ip},
            spray_networks={x.network for x in sources if x.kind == "network" and x.network},
            familiar=self.familiar,
        )
        return TenantSignals(
            sources=sources, targets=targets, sign_ins=self._sign_ins, users=len(self._users),
            campaigns=campaigns, campaign_targets=campaign_targets(campaigns),
        )

    def _untrusted(self, failures: list[Failure]) -> list[Failure]:
        """Failures from outside the tenant's trusted ranges (an office is never a sprayer)."""
        if not self.trusted.ranges:
            return failures
        trusted = {ip for ip in {f.ip for f in failures} if self.trusted.range_of(ip)}
        return [f for f in failures if f.ip not in trusted] if trusted else failures


def _source(
    kind: Literal["ip", "network"], users: set[str], succeeded: int, failures: int,
    first: float, last: float, *, ip: str | None = None, network: int | None = None,
) -> SpraySource:
    return SpraySource(
        kind=kind, ip=ip, network=network, failed_users=sorted(users),
        succeeded_users=succeeded, failures=failures,
        first=datetime.fromtimestamp(first, UTC), last=datetime.fromtimestamp(last, UTC),
    )


def _spray(
    events: list[tuple[float, str]], min_users: int, window_s: float
) -> tuple[set[str], int, float, float] | None:
    """Users failed inside any `window_s` span holding >= `min_users` distinct users.

    Returns (users, failures, first, last) over every qualifying span, or None.
    """
    if len(events) < min_users or len({user for _, user in events}) < min_users:
        return None
    events.sort()
    in_window: Counter[str] = Counter()
    users: set[str] = set()
    failures, first, last = 0, 0.0, 0.0
    counted_until = -1  # events already counted into `failures`
    start = 0
    for end, (moment, user) in enumerate(events):
        in_window[user] += 1
        while moment - events[start][0] > window_s:
            old = events[start][1]
            in_window[old] -= 1
            if not in_window[old]:
                del in_window[old]
            start += 1
        if len(in_window) >= min_users:
            if not users:
                first = events[start][0]
            users.update(in_window)
            failures += end - max(start, counted_until + 1) + 1
            counted_until = end
            last = moment
    return (users, failures, first, last) if users else None


def tenant_signals(
    sign_ins: Iterable[SignIn], settings: DetectionSettings | None = None,
    trusted: TrustedNetworks | None = None, history: Iterable[SignIn] = (),
) -> TenantSignals:
    """Tenant-wide spray signals and campaigns from the window's sign-ins in one streaming pass
    (`history`: sign-ins before the window, which teach the users' own sources)."""
    return TenantSignalsBuilder(settings, trusted).add_history(history).add_all(sign_ins).build()
