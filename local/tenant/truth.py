"""Who plays which part, and what a correct review must conclude about them (ground truth).

Every user gets exactly one scenario. An `Expectation` is the contract detections are tested
against: the verdict must lie between `min_verdict` and `max_verdict`, and the findings must
include every type in `finding_types` (more findings are allowed when the verdict stays in
range; an attacker's session often trips several detections at once).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable

import msgspec

from local.tenant.people import Person
from shared.model import Level

GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
SECURITY_ADMINISTRATOR = "194ae4cb-b126-40b2-bd5b-6091b380977d"

ATTACKS = ("impossible_travel", "new_country_success", "password_spray", "brute_force",
           "mfa_fatigue", "privileged_thin_anomaly", "disabled_account", "risky_sign_in")
NOISE = ("carrier_ip_churn", "flight_abroad", "consent_storm", "mfa_interrupts",
         "typo_then_success", "weekend_worker", "empty_location", "ipv6_home",
         "risk_remediated_last_month")
SPRAY_TARGET = "password_spray_target"
BENIGN_ADMIN = "benign_admin"
ROUTINE = "routine"
SPRAY_TARGETS_SMALL = 21  # with the victim, 22 distinct accounts failed from one address


class Expectation(msgspec.Struct, rename="camel", frozen=True):
    scenario: str
    min_verdict: Level
    max_verdict: Level
    finding_types: list[str] = msgspec.field(default_factory=list)
    user_principal_name: str = ""


EXPECTED: dict[str, tuple[Level, Level, tuple[str, ...]]] = {
    "impossible_travel": ("high", "high", ("impossible_travel", "unfamiliar_location")),
    "new_country_success": ("high", "high", ("unfamiliar_location",)),
    "password_spray": ("high", "high", ("password_spray",)),
    SPRAY_TARGET: ("low", "low", ("password_spray",)),
    "brute_force": ("medium", "medium", ("repeated_failures",)),
    "mfa_fatigue": ("high", "high", ("mfa_fatigue",)),
    "privileged_thin_anomaly": ("high", "high", ("unfamiliar_location",)),
    "disabled_account": ("low", "medium", ("disabled_account",)),
    "risky_sign_in": ("high", "high", ("risky_sign_in",)),
    # Global and Security Administrators whose weekend is their phone refreshing mail.
    BENIGN_ADMIN: ("none", "low", ()),
}
# Everyone else (routine users and the benign noise scenarios): at most `low`, no findings owed.


def expectation(scenario: str, person: Person) -> Expectation:
    low, high, findings = EXPECTED.get(scenario, ("none", "low", ()))
    return Expectation(scenario, low, high, list(findings), person.upn)


@dataclasses.dataclass
class Cast:
    """People in generation order with their scenario; spray targets and admins named."""

    roles: list[tuple[Person, str]]
    spray_victim: Person
    spray_targets: list[Person]
    admins: list[tuple[Person, str]]  # (person, role template id)


def cast(people: list[Person], rng: random.Random) -> Cast:
    """Give every person a scenario; attack accounts work in Europe (quiet weekends)."""
    pool = list(people)
    rng.shuffle(pool)
    chosen: dict[int, str] = {}
    replaced: dict[int, Person] = {}

    def take(scenario: str, fits: Callable[[Person], bool] = lambda p: True) -> Person:
        for person in pool:
            if person.index not in chosen and fits(person):
                chosen[person.index] = scenario
                return person
        raise ValueError(f"too few users for scenario {scenario!r}; use at least 40 users")

    def european(person: Person) -> bool:
        return person.time_zone.startswith("Europe/") and not person.works_weekends

    for scenario in ATTACKS:
        take(scenario, european)
    admins = [(take(BENIGN_ADMIN, european), GLOBAL_ADMINISTRATOR),
              (take(BENIGN_ADMIN, european), SECURITY_ADMINISTRATOR)]
    per_noise = max(1, len(people) // 100)
    fits: dict[str, Callable[[Person], bool]] = {
        "carrier_ip_churn": lambda p: p.country in ("GB", "DE"),
        "flight_abroad": lambda p: p.country == "GB" and not p.works_weekends,
        "ipv6_home": lambda p: bool(p.home_ipv6),
    }
    for scenario in NOISE:
        for _ in range(per_noise):
            person = take(scenario, fits.get(scenario, lambda p: True))
            if scenario == "weekend_worker" and not person.works_weekends:
                replaced[person.index] = dataclasses.replace(person, works_weekends=True)
    n_targets = SPRAY_TARGETS_SMALL if len(people) < 400 else len(people) // 20
    targets = [take(SPRAY_TARGET) for _ in range(n_targets)]
    roles = [(replaced.get(p.index, p), chosen.get(p.index, ROUTINE)) for p in people]
    victim = next(p for p, scenario in roles if scenario == "password_spray")
    privileged = next(p for p, scenario in roles if scenario == "privileged_thin_anomaly")
    return Cast(roles, victim, targets, [(privileged, GLOBAL_ADMINISTRATOR), *admins])
