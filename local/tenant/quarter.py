"""A quarter of history for the sample tenant's privileged accounts, for the quarterly review of
privileged accounts (`make demo ARGS="--privileged-review"`).

The quarter is the calendar quarter before the one the weekend falls in (the weekend of March 2025
gives October to December 2024): what the first business morning of a quarter reviews. The
tenant's administrators work through it as every day (`benign.routine`), and four more are
added, each planted with what the review must find:

- dormant_admin: a Global Administrator eligible through PIM who never signed in that quarter
  (the review proposes removing the eligibility);
- single_factor_admin: a Security Administrator whose interactive sign-ins satisfied a password
  alone (`authenticationRequirement: singleFactorAuthentication`);
- imap_admin: an Exchange Administrator whose mail client still reads over IMAP4 every week, on
  no registered device (legacy authentication);
- anomaly_admin: a Privileged Role Administrator whose session was used once mid-quarter at night
  from a country and network never seen before, on an unregistered device (a high verdict);
- group_admin: a Security Administrator only through the role-assignable group "Tier-0
  operators" (the role is assigned to the group, and the admin is its member): the review must
  find the account and show the role as held via the group.

The original administrators are the ordinary ones: nothing to decide.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec

from local.tenant import benign
from local.tenant.people import Person, make_people
from local.tenant.places import (
    AZURE_PORTAL,
    CITIES,
    EXCHANGE,
    App,
    Network,
)
from local.tenant.records import SignInLog, attacker_device
from local.tenant.scene import Scene
from local.tenant.timeline import DAY, Timeline
from shared.model import Window

GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
SECURITY_ADMINISTRATOR = "194ae4cb-b126-40b2-bd5b-6091b380977d"
EXCHANGE_ADMINISTRATOR = "29232cdf-9323-42fd-ade2-1d097af3e4de"
PRIVILEGED_ROLE_ADMINISTRATOR = "e8611ab8-c189-46e8-94e1-60213ab1f814"
IMAP = App(EXCHANGE.app_id, EXCHANGE.name, "IMAP4")
ANOMALY_PLACE = (CITIES["Lagos"], Network("MTN Nigeria", 29465, "102.89."))
PER_WORKDAY = 3.0
ROLE_GROUP = "Tier-0 operators"
ROLE_GROUP_ID = "7e40c0de-0000-4000-8000-000000000024"


class QuarterExpectation(msgspec.Struct, rename="camel", frozen=True):
    """What the quarterly review must conclude about one privileged account."""

    # ordinary_admin, dormant_admin, single_factor_admin, imap_admin, anomaly_admin, group_admin
    scenario: str
    dormant: bool = False
    single_factor: bool = False
    legacy_protocol: bool = False
    min_verdict: str = "none"
    max_verdict: str = "low"
    via_group: str | None = None  # the role is held through this role-assignable group


@dataclass
class Quarter:
    period: Window
    people: list[tuple[Person, str, str, bool]]  # (person, scenario, role id, eligible)
    truth: dict[str, QuarterExpectation]
    group_members: list[tuple[Person, str]]  # (person, role id held via ROLE_GROUP)


def previous_quarter(moment: datetime) -> Window:
    """The calendar quarter before the one `moment` falls in (UTC)."""
    first_month = (moment.month - 1) // 3 * 3 + 1
    end = datetime(moment.year, first_month, 1, tzinfo=UTC)
    start_month, year = first_month - 3, moment.year
    if start_month < 1:
        start_month, year = start_month + 12, year - 1
    return Window(start=datetime(year, start_month, 1, tzinfo=UTC),
                  end=end - timedelta(microseconds=1))


def add_quarter(log: SignInLog, admins: list[tuple[Person, str]], taken: set[str],
                weekend: Window, rng: random.Random) -> Quarter:
    """Write the quarter's sign-ins into `log`; the new administrators and the review's truth."""
    period = previous_quarter(weekend.start)
    days = (period.end - period.start).days + 1
    clock = Timeline(Window(start=period.end + timedelta(microseconds=1),
                            end=period.end + timedelta(hours=1)), history_days=days)
    scene = Scene(log, clock, rng)
    newcomers = [p for p in make_people(40, random.Random(rng.getrandbits(64)))
                 if p.upn not in taken and p.country in ("GB", "DE")][:5]
    planted = [(newcomers[0], "dormant_admin", GLOBAL_ADMINISTRATOR, True),
               (newcomers[1], "single_factor_admin", SECURITY_ADMINISTRATOR, False),
               (newcomers[2], "imap_admin", EXCHANGE_ADMINISTRATOR, False),
               (newcomers[3], "anomaly_admin", PRIVILEGED_ROLE_ADMINISTRATOR, False)]
    ordinary = [(p, "ordinary_admin", role, False) for p, role in admins]
    through_group = (newcomers[4], "group_admin", SECURITY_ADMINISTRATOR, False)
    until = int(period.end.timestamp()) + 1
    for person, scenario, _, _ in ordinary + planted + [through_group]:
        if scenario == "dormant_admin":
            continue
        first = len(log.rows)
        benign.routine(scene, person, PER_WORKDAY, until=until)
        if scenario == "single_factor_admin":
            for row in log.rows[first:]:
                if row["isInteractive"]:
                    row["authenticationRequirement"] = "singleFactorAuthentication"
                    row["conditionalAccessStatus"] = "notApplied"
        elif scenario == "imap_admin":
            _imap_every_week(scene, person, period)
        elif scenario == "anomaly_admin":
            _mid_quarter_session(scene, person, period)
    truth = {p.id: QuarterExpectation(scenario=s) for p, s, _, _ in ordinary}
    truth |= {
        planted[0][0].id: QuarterExpectation(scenario="dormant_admin", dormant=True),
        planted[1][0].id: QuarterExpectation(scenario="single_factor_admin", single_factor=True),
        planted[2][0].id: QuarterExpectation(scenario="imap_admin", legacy_protocol=True),
        planted[3][0].id: QuarterExpectation(scenario="anomaly_admin", min_verdict="high",
                                             max_verdict="high"),
        through_group[0].id: QuarterExpectation(scenario="group_admin", via_group=ROLE_GROUP),
    }
    return Quarter(period=period, people=planted, truth=truth,
                   group_members=[(through_group[0], through_group[2])])


def _imap_every_week(scene: Scene, person: Person, period: Window) -> None:
    """A mail client polling over IMAP4 from home every Wednesday evening (no device detail)."""
    clock = scene.clock
    for day in clock.days:
        at = clock.local(person.time_zone, day, 19.0) + scene.jitter()
        if day.weekday() == 2 and period.start.timestamp() <= at <= period.end.timestamp():
            scene.log.add(person, at, app=IMAP, device=None, **scene.home(person, ipv6=False))


def _mid_quarter_session(scene: Scene, person: Person, period: Window) -> None:
    """At 02:30 local time halfway through the quarter, the admin's session is used from Lagos on
    an unregistered device: a new country and network at night on a tenant-wide role."""
    clock = scene.clock
    middle = period.start + (period.end - period.start) / 2
    day = middle.date()
    at = clock.local(person.time_zone, day, 2.5) + scene.jitter()
    assert clock.history_start <= at < clock.start - DAY
    device = attacker_device(str(person.laptop.detail["operatingSystem"]),
                             str(person.laptop.detail["browser"]), person.laptop.user_agent)
    city, network = ANOMALY_PLACE
    scene.log.add(person, at, app=AZURE_PORTAL, device=device, mfa=True,
                  **scene.elsewhere(network, city))
