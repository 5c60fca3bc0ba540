"""Spray campaigns: a source judged over the whole window, not per time bucket.

Why it matters: spray tools go slowly on purpose (a few attempts per address per hour for a
whole weekend, rotating addresses in one network, or spreading over many networks with one
tool), so the 20-minute bucket rule (`TenantSignals` spray sources) sees at most the busiest
slice and leaves most targets without a finding. Once a source is known to be spraying, every
account it tried in the window is among its targets, and the finding states the campaign's
extent: first and last attempt, accounts tried, accounts where it succeeded.

A source is one of:
- `ip`: one address. A campaign when it was a 20-minute spray source, or when over the window it
  failed >= `campaign_min_users` distinct accounts.
- `network`: one ASN, failing from >= 2 addresses; a spray source, or
  >= `campaign_network_min_users` accounts over the window. Its addresses' own `ip` campaigns
  fold into it.
- `cluster`: addresses outside any ip/network campaign that share one user agent and whose
  failures follow each other with no gap over `campaign_max_gap_hours` (a distributed spray through
  proxies in many networks): >= `campaign_cluster_min_users` accounts from >= 3 addresses. In
  v1.0 rows (no user agent, no ASN, no device), by the accounts and failure pattern alone: twice
  as many accounts, at most two attempts each, from >= `campaign_cluster_min_networks` /24s.

Familiar sources (a fleet on one browser build sends one user agent, and carrier-grade NAT puts
many users behind one address): a failure from the user's own registered device, or from a
network (/24, /48) the user signed in from before it (in the history, or earlier in the window),
is the user's own mistake and no campaign's; a campaign got in on an account only when the
account's success came from a network it had not signed in from before the campaign began.

Protections kept from the bucket rule: only credential failures count (65001 consent storms, MFA
prompts and other interrupts are not failures, `codes.FAILURE_CODES`); the accounts a source
failed must outnumber the accounts that signed in (or had the password validated) from it, so an
office NAT or a carrier network where a few people mistype is never a campaign; addresses in the
tenant's trusted named locations are never a source; and a source must try most accounts only a
few times (mean <= `campaign_max_attempts_per_account`): hammering few accounts is brute force.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, NamedTuple, Protocol

import msgspec

from shared.baseline import network_prefix
from shared.model import CampaignSummary

if TYPE_CHECKING:
    from shared.detect.context import DetectionSettings

Kind = Literal["ip", "network", "cluster"]


class Failure(NamedTuple):
    moment: float  # epoch seconds
    user: str
    ip: str
    asn: int
    agent: str
    device: str = ""  # Entra device id, when the device is registered or joined


class Familiar(Protocol):
    """Whether `user` signed in from the address's network before `moment` (epoch seconds):
    the user's own source, not one a campaign brought (`TenantSignalsBuilder.familiar`)."""

    def __call__(self, user: str, ip: str, moment: float) -> bool: ...


def _never(user: str, ip: str, moment: float) -> bool:
    return False


class Campaign(msgspec.Struct, rename="camel", frozen=True, kw_only=True):
    """A source that sprayed over the window: every account it tried, and where it got in."""

    kind: Kind
    label: str  # "203.0.113.7", "AS64500", or "cluster of 12 addresses (python-requests/2.31)"
    ips: list[str]  # the addresses it failed from
    network: int | None = None
    user_agent: str | None = None
    first: datetime  # first attempt
    last: datetime  # last attempt
    failures: int
    tried_users: list[str]  # accounts it failed
    succeeded_users: list[str]  # accounts that signed in or had the password validated from it

    @property
    def accounts(self) -> int:
        return len(set(self.tried_users) | set(self.succeeded_users))

    def summary(self) -> CampaignSummary:
        """The campaign as the review's JSON `campaigns` section shows it."""
        return CampaignSummary(
            kind=self.kind, source=self.label, addresses=self.ips, network=self.network,
            user_agent=self.user_agent, first_attempt=self.first, last_attempt=self.last,
            failures=self.failures, accounts_tried=self.accounts,
            accounts_succeeded=len(self.succeeded_users), tried_users=self.tried_users,
            succeeded_users=self.succeeded_users,
        )


Wins = Mapping[str, Mapping[str, datetime]]  # ip -> user -> latest password-known sign-in


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class _Group(NamedTuple):
    kind: Kind
    failures: list[Failure]
    network: int | None = None
    agent: str | None = None
    prefix: str | None = None  # the network's /24 or /48 when no ASN is known


def build_campaigns(
    failures: list[Failure], wins: Wins, network_wins: Mapping[int, int],
    settings: DetectionSettings, *, spray_ips: set[str], spray_networks: set[int],
    familiar: Familiar = _never,
) -> list[Campaign]:
    """Campaigns from every credential failure of the window (any order).

    `wins` holds, per address, the accounts that signed in or had the password validated from
    it; `network_wins` the number of such accounts per ASN; `spray_*` the 20-minute spray sources.
    `failures` must leave out the users' own mistakes (from their own devices and networks);
    `familiar` says whose wins came from their own network already before a campaign began:
    those are the user at home, not the campaign getting in.
    """
    s = settings
    by_ip: defaultdict[str, list[Failure]] = defaultdict(list)
    by_net: defaultdict[int | str, list[Failure]] = defaultdict(list)
    for failure in failures:
        by_ip[failure.ip].append(failure)
        # Without an ASN (v1.0 sign-ins carry none) the /24 or /48 stands in for the network.
        key = failure.asn or network_prefix(failure.ip)
        if key:
            by_net[key].append(failure)
    campaigns: list[Campaign] = []
    covered: set[str] = set()
    for key, events in by_net.items():
        ips = {f.ip for f in events}
        if len(ips) < 2:
            continue
        asn = key if isinstance(key, int) else None
        group = _Group("network", events, network=asn, prefix=str(key) if asn is None else None)
        succeeded = network_wins.get(asn, 0) if asn is not None else len(
            {user for ip in ips for user in wins.get(ip, {})})
        found = _judge(group, wins, succeeded, s.campaign_network_min_users,
                       s, burst=asn in spray_networks, familiar=familiar)
        if found is not None:
            campaigns.append(found)
            covered |= ips
    for ip, events in by_ip.items():
        if ip in covered:
            continue
        succeeded = len(wins.get(ip, ()))
        found = _judge(_Group("ip", events), wins, succeeded, s.campaign_min_users, s,
                       burst=ip in spray_ips, familiar=familiar)
        if found is not None:
            campaigns.append(found)
            covered.add(ip)
    campaigns.extend(_clusters([f for f in failures if f.ip not in covered], wins, s, familiar))
    campaigns.sort(key=lambda c: (-c.accounts, c.first, c.label))
    return campaigns


def _clusters(failures: list[Failure], wins: Wins, s: DetectionSettings,
              familiar: Familiar) -> Iterable[Campaign]:
    """Distributed sprays: one user agent over many addresses, failures without long gaps; and,
    in v1.0 rows (no user agent, no ASN), one password per account from many networks."""
    by_agent: defaultdict[str, list[Failure]] = defaultdict(list)
    for failure in failures:
        if failure.agent:
            by_agent[failure.agent].append(failure)
        elif not failure.asn and not failure.device:
            by_agent[""].append(failure)  # v1.0: nothing but accounts, addresses and times
    gap = s.campaign_max_gap_hours * 3600
    for agent, events in by_agent.items():
        if len({f.user for f in events}) < s.campaign_cluster_min_users:
            continue
        events.sort()
        session = [events[0]]
        for failure in events[1:]:
            if failure.moment - session[-1].moment > gap:
                yield from _cluster(session, agent, wins, s, familiar)
                session = []
            session.append(failure)
        yield from _cluster(session, agent, wins, s, familiar)


def _cluster(session: list[Failure], agent: str, wins: Wins, s: DetectionSettings,
             familiar: Familiar) -> Iterable[Campaign]:
    ips = {f.ip for f in session}
    if len(ips) < 3:
        return
    min_users = s.campaign_cluster_min_users
    if not agent and not _one_password_each(session, s, ips):
        return
    if not agent:
        min_users *= 2  # no user agent to tie them: twice the accounts
    succeeded = len({user for ip in ips for user in wins.get(ip, {})})
    found = _judge(_Group("cluster", session, agent=agent or None), wins, succeeded,
                   min_users, s, burst=False, familiar=familiar)
    if found is not None:
        yield found


def _one_password_each(session: list[Failure], s: DetectionSettings, ips: set[str]) -> bool:
    """The failure pattern of a spray in rows that name no agent or network: at most two
    attempts per account (one or two passwords each), from addresses in at least
    `campaign_cluster_min_networks` /24s or /48s."""
    tried = {f.user for f in session}
    networks = {network_prefix(ip) for ip in ips} - {None}
    return len(session) <= 2 * len(tried) and len(networks) >= s.campaign_cluster_min_networks


def _judge(group: _Group, wins: Wins, succeeded_anywhere: int, min_users: int,
           s: DetectionSettings, *, burst: bool, familiar: Familiar) -> Campaign | None:
    events = group.failures
    tried = {f.user for f in events}
    if not burst and (
        len(tried) < min_users or len(events) > len(tried) * s.campaign_max_attempts_per_account
    ):
        return None
    if len(tried) <= succeeded_anywhere:
        return None  # more accounts sign in from it than it fails: an office, not a sprayer
    first = min(f.moment for f in events)
    last = max(f.moment for f in events)
    ips = sorted({f.ip for f in events})
    victims = sorted({
        user for ip in ips for user, moment in wins.get(ip, {}).items()
        if _epoch(moment) >= first and not familiar(user, ip, first)
    })
    return Campaign(
        kind=group.kind, label=_label(group, ips), ips=ips, network=group.network
        or (events[0].asn if group.kind == "ip" and events[0].asn else None),
        user_agent=group.agent or _agent(events), first=datetime.fromtimestamp(first, UTC),
        last=datetime.fromtimestamp(last, UTC), failures=len(events),
        tried_users=sorted(tried), succeeded_users=victims,
    )


def _agent(events: list[Failure]) -> str | None:
    agents = {f.agent for f in events}
    return agents.pop() if len(agents) == 1 and "" not in agents else None


def _label(group: _Group, ips: list[str]) -> str:
    if group.kind == "ip":
        return ips[0]
    if group.kind == "network":
        return f"AS{group.network}" if group.network else str(group.prefix)
    if not group.agent:
        networks = len({network_prefix(ip) for ip in ips} - {None})
        return f"{len(ips)} addresses in {networks} networks, one password per account"
    agent = group.agent[:40]
    return f"{len(ips)} addresses sharing the user agent {agent!r}"


def targets(campaigns: list[Campaign]) -> dict[str, list[int]]:
    """User -> indexes of the campaigns that tried the user or got in as the user."""
    found: dict[str, list[int]] = {}
    for index, campaign in enumerate(campaigns):
        for user in sorted(set(campaign.tried_users) | set(campaign.succeeded_users)):
            found.setdefault(user, []).append(index)
    return found
