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
EXCHANGE_ADMINISTRATOR = "29232cdf-9323-42fd-ade2-1d097af3e4de"

ATTACKS = ("impossible_travel", "new_country_success", "password_spray", "brute_force",
           "mfa_fatigue", "privileged_thin_anomaly", "disabled_account", "risky_sign_in",
           "slow_spray", "slow_brute_force", "travel_across_window_start",
           "privileged_odd_hour_device", "new_hire_taken_over", "legacy_protocol_success",
           "device_code_phishing")
NOISE = ("carrier_ip_churn", "flight_abroad", "consent_storm", "mfa_interrupts",
         "typo_then_success", "weekend_worker", "empty_location", "ipv6_home",
         "risk_remediated_last_month", "vpn_egress", "new_hire_first_day", "guest_first_visit",
         "conference_room_device_code")
# Played by the last people cast (before the spray targets), so adding them moved nobody else;
# only in tenants with room for them besides the spray's targets (70 users and more).
NEWCOMERS = ("new_hire_taken_over", "legacy_protocol_success", "device_code_phishing",
             "new_hire_first_day", "guest_first_visit", "conference_room_device_code")
# Weekday workers who catch up one weekend morning: many, so the share of quiet users at `low`
# is measurable (one in twelve, at least two).
ORDINARY_WEEKEND = "ordinary_weekend"
SPRAY_TARGET = "password_spray_target"
BENIGN_ADMIN = "benign_admin"
ROUTINE = "routine"
SPRAY_TARGETS_SMALL = 21  # with the victim, 22 distinct accounts failed from one address
SPRAY_TARGETS_MIN = 10  # the slow and distributed sprays need this many to be campaigns


class Expectation(msgspec.Struct, rename="camel", frozen=True):
    scenario: str
    min_verdict: Level
    max_verdict: Level
    finding_types: list[str] = msgspec.field(default_factory=list)
    user_principal_name: str = ""


EXPECTED: dict[str, tuple[Level, Level, tuple[str, ...]]] = {
    # The AiTM session registers the attacker's authenticator; the stuffed account consents a
    # mail app (local/tenant/followed.py): both from the attacker's address, in the audit log.
    "impossible_travel": ("high", "high", ("impossible_travel", "unfamiliar_location",
                                           "persistence")),
    "new_country_success": ("high", "high", ("unfamiliar_location", "persistence")),
    "password_spray": ("high", "high", ("password_spray",)),
    SPRAY_TARGET: ("low", "low", ("password_spray",)),
    "brute_force": ("medium", "medium", ("repeated_failures",)),
    "mfa_fatigue": ("high", "high", ("mfa_fatigue",)),
    "privileged_thin_anomaly": ("high", "high", ("unfamiliar_location",)),
    "disabled_account": ("low", "medium", ("disabled_account",)),
    "risky_sign_in": ("high", "high", ("risky_sign_in",)),
    # A slow spray's victim: its second pass, hours after the first, found the password.
    "slow_spray": ("high", "high", ("password_spray",)),
    "slow_brute_force": ("medium", "medium", ("repeated_failures",)),
    "travel_across_window_start": ("high", "high", ("impossible_travel",)),
    "privileged_odd_hour_device": ("medium", "high", ("off_hours",)),
    # No history: judged against the tenant's baseline (local/tenant/newcomers.py).
    "new_hire_taken_over": ("high", "high", ("unfamiliar_location",)),
    # A slow IMAP guess that got in: no MFA asked; a brute force ends in a success.
    "legacy_protocol_success": ("high", "high", ("legacy_protocol", "repeated_failures")),
    # Tokens used from a new country (v1.0 and beta); beta adds `device_code`.
    "device_code_phishing": ("high", "high", ("unfamiliar_location",)),
    "new_hire_first_day": ("none", "none", ()),
    "guest_first_visit": ("none", "none", ()),
    "conference_room_device_code": ("none", "none", ()),
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
    slow_spray_victim: Person


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

    def home_days(person: Person) -> bool:
        """Works from home some weekdays, so the baseline knows the home network."""
        return len(person.office_days) < 5

    for scenario in ATTACKS:
        if scenario in NEWCOMERS:
            continue  # taken last, so every other part keeps its player
        take(scenario, (lambda p: european(p) and home_days(p))
             if scenario == "privileged_odd_hour_device" else european)
    admins = [(take(BENIGN_ADMIN, european), GLOBAL_ADMINISTRATOR),
              (take(BENIGN_ADMIN, european), SECURITY_ADMINISTRATOR)]
    per_noise = max(1, len(people) // 100)
    fits: dict[str, Callable[[Person], bool]] = {
        "carrier_ip_churn": lambda p: p.country in ("GB", "DE"),
        "flight_abroad": lambda p: p.country == "GB" and not p.works_weekends,
        "ipv6_home": lambda p: bool(p.home_ipv6) and home_days(p),
    }
    fits["vpn_egress"] = lambda p: p.country == "GB" and not p.works_weekends and home_days(p)
    for scenario in NOISE:
        if scenario in NEWCOMERS:
            continue
        for _ in range(per_noise):
            person = take(scenario, fits.get(scenario, home_days))
            if scenario == "weekend_worker" and not person.works_weekends:
                replaced[person.index] = dataclasses.replace(person, works_weekends=True)
    for _ in range(max(2, len(people) // 12)):
        take(ORDINARY_WEEKEND, lambda p: not p.works_weekends and home_days(p))
    if len(people) - len(chosen) - len(NEWCOMERS) >= SPRAY_TARGETS_SMALL:  # room for them
        for scenario in NEWCOMERS:  # accounts without a history, legacy protocols, device code
            take(scenario, (lambda p: european(p) and len(p.office_days) >= 3)
                 if scenario == "conference_room_device_code" else european)
    free = len(people) - len(chosen)
    n_targets = min(SPRAY_TARGETS_SMALL, free) if len(people) < 400 else len(people) // 20
    if n_targets < SPRAY_TARGETS_MIN:
        raise ValueError("too few users for the spray scenarios; use at least 40 users")
    targets = [take(SPRAY_TARGET) for _ in range(n_targets)]
    roles = [(replaced.get(p.index, p), chosen.get(p.index, ROUTINE)) for p in people]
    victim = next(p for p, scenario in roles if scenario == "password_spray")
    privileged = next(p for p, scenario in roles if scenario == "privileged_thin_anomaly")
    odd_hour = next(p for p, scenario in roles if scenario == "privileged_odd_hour_device")
    slow_victim = next(p for p, scenario in roles if scenario == "slow_spray")
    return Cast(roles, victim, targets,
                [(privileged, GLOBAL_ADMINISTRATOR), *admins, (odd_hour, EXCHANGE_ADMINISTRATOR)],
                slow_victim)
