"""generate(): a whole sample tenant, deterministic for a given size and seed."""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter

from local.tenant import attacks, benign, campaigns, followed, newcomers
from local.tenant.people import Person, graph_user, make_people
from local.tenant.places import OFFICES, VPN_EGRESS
from local.tenant.quarter import ROLE_GROUP, ROLE_GROUP_ID, QuarterExpectation, add_quarter
from local.tenant.records import SignInLog
from local.tenant.scene import Away, Scene
from local.tenant.timeline import Timeline, weekend_window
from local.tenant.truth import ATTACKS, BENIGN_ADMIN, SPRAY_TARGET, Expectation, cast, expectation
from shared.bulk import paused_gc as collector_paused
from shared.model import Window

MIN_USERS = 40
Scenario = Callable[[Scene, Person], Away]
SCENARIOS: dict[str, Scenario] = {
    "impossible_travel": attacks.impossible_travel,
    "new_country_success": attacks.new_country_success,
    "brute_force": attacks.brute_force,
    "mfa_fatigue": attacks.mfa_fatigue,
    "privileged_thin_anomaly": attacks.privileged_thin_anomaly,
    "disabled_account": attacks.disabled_account,
    "risky_sign_in": attacks.risky_sign_in,
    "slow_brute_force": campaigns.slow_brute_force,
    "travel_across_window_start": campaigns.travel_across_window_start,
    "privileged_odd_hour_device": campaigns.privileged_odd_hour_device,
    "carrier_ip_churn": benign.carrier_ip_churn,
    "flight_abroad": benign.flight_abroad,
    "consent_storm": benign.consent_storm,
    "mfa_interrupts": benign.mfa_interrupts,
    "typo_then_success": benign.typo_then_success,
    "weekend_worker": benign.weekend_worker,
    "empty_location": benign.empty_location,
    "ipv6_home": benign.ipv6_home,
    "risk_remediated_last_month": benign.risk_remediated_last_month,
    "vpn_egress": benign.vpn_egress,
    "ordinary_weekend": benign.ordinary_weekend,
    "new_hire_taken_over": newcomers.new_hire_taken_over,
    "legacy_protocol_success": newcomers.legacy_protocol_success,
    "device_code_phishing": newcomers.device_code_phishing,
    "new_hire_first_day": newcomers.new_hire_first_day,
    "guest_first_visit": newcomers.guest_first_visit,
    "conference_room_device_code": newcomers.conference_room_device_code,
}


@dataclass
class Tenant:
    """A generated tenant: Graph-shaped records plus what a correct review concludes.

    `sign_ins` are newest first, as Graph returns them. Nested objects inside sign-ins
    (location, deviceDetail, status) are shared between records: treat them as read-only.
    """

    window: Window
    users: list[dict[str, object]]
    sign_ins: list[dict[str, object]]
    risky_users: list[dict[str, object]]
    risk_detections: list[dict[str, object]]
    role_assignments: list[dict[str, object]]
    ground_truth: dict[str, Expectation]
    named_locations: list[dict[str, object]] = field(default_factory=list)
    # what followed some sign-ins (local/tenant/followed.py), as the emulator loads it
    directory_audits: list[dict[str, object]] = field(default_factory=list)
    authentication_methods: list[dict[str, object]] = field(default_factory=list)
    message_rules: list[dict[str, object]] = field(default_factory=list)
    permission_grants: list[dict[str, object]] = field(default_factory=list)
    # PIM eligibility schedules (GET .../roleEligibilitySchedules)
    role_eligibilities: list[dict[str, object]] = field(default_factory=list)
    # the quarter of privileged history (`privileged_quarter`), and what its review must conclude
    privileged_quarter: Window | None = None
    quarter_truth: dict[str, QuarterExpectation] = field(default_factory=dict)
    # role-assignable groups (GET /groups/{id}/members), `_members` their members' object ids
    groups: list[dict[str, object]] = field(default_factory=list)

    def emulator_data(self) -> dict[str, list[dict[str, object]]]:
        """Everything the Graph emulator's load() takes."""
        return {"sign_ins": self.sign_ins, "users": self.users,
                "risky_users": self.risky_users, "risk_detections": self.risk_detections,
                "role_assignments": self.role_assignments,
                "role_eligibilities": self.role_eligibilities,
                "named_locations": self.named_locations,
                "directory_audits": self.directory_audits,
                "authentication_methods": self.authentication_methods,
                "message_rules": self.message_rules, "permission_grants": self.permission_grants,
                "groups": self.groups}


def generate(users: int = 50, seed: int = 7, window_end: datetime | None = None,
             history_days: int = 21, sign_ins_per_user: int = 60,
             privileged_quarter: bool = False) -> Tenant:
    """Build a tenant of `users` people, about `sign_ins_per_user` sign-ins each.

    The window is the weekend (Friday 18:00 to Monday 06:00 UTC) ending at or before
    `window_end` (default: a fixed weekend, March 2025); `history_days` of routine precede it.
    `privileged_quarter` adds the quarter before the weekend's for the administrators, and four
    more of them (local/tenant/quarter.py).
    """
    if users < MIN_USERS:
        raise ValueError(f"the sample tenant needs at least {MIN_USERS} users, got {users}")
    with collector_paused():
        return _generate(users, seed, weekend_window(window_end), history_days,
                         sign_ins_per_user, privileged_quarter)


def _generate(users: int, seed: int, window: Window, history_days: int,
              sign_ins_per_user: int, privileged_quarter: bool = False) -> Tenant:
    clock = Timeline(window, history_days)
    rng = random.Random(seed)
    people = make_people(users, rng)
    roles = cast(people, rng)
    scene = Scene(SignInLog(random.Random(rng.getrandbits(64))), clock, rng)
    per_workday = _per_workday(sign_ins_per_user, history_days)
    attacks.password_spray(scene, roles.spray_victim, roles.spray_targets)
    campaigns.slow_spray(scene, roles.slow_spray_victim, roles.spray_targets)
    campaigns.distributed_spray(scene, roles.spray_targets)
    for person, scenario in roles.roles:
        play = SCENARIOS.get(scenario)
        away = play(scene, person) if play else []
        if scenario in newcomers.NO_HISTORY:
            continue  # accounts without a history: only what the scenario adds
        until = clock.start if scenario in ATTACKS else None
        benign.routine(scene, person, per_workday, until=until, away=away)
    quarter = add_quarter(scene.log, roles.admins, {p.upn for p in people}, clock.window,
                          random.Random(rng.getrandbits(64))) if privileged_quarter else None
    rows = scene.log.rows
    rows.sort(key=itemgetter("createdDateTime", "id"), reverse=True)
    tenant = Tenant(
        window=clock.window,
        users=[graph_user(p, enabled=s != "disabled_account") for p, s in roles.roles],
        sign_ins=rows,
        risky_users=scene.risky_users,
        risk_detections=scene.risk_detections,
        role_assignments=[_role_assignment(p, role, rng) for p, role in roles.admins],
        ground_truth={p.id: expectation(s, p) for p, s in roles.roles},
        named_locations=named_locations(),
        directory_audits=sorted(scene.audits, key=itemgetter("activityDateTime"), reverse=True),
        authentication_methods=followed.own_methods(scene, [p for p, _ in roles.roles]),
        message_rules=scene.rules,
        permission_grants=scene.grants,
    )
    if quarter is not None:
        tenant.privileged_quarter, tenant.quarter_truth = quarter.period, quarter.truth
        for person, _, role, eligible in quarter.people:
            tenant.users.append(graph_user(person))
            entry = _role_assignment(person, role, rng)
            (tenant.role_eligibilities if eligible else tenant.role_assignments).append(entry)
        for person, role in quarter.group_members:
            tenant.users.append(graph_user(person))
            entry = _role_assignment(person, role, rng)
            entry["principalId"] = ROLE_GROUP_ID
            entry["principal"] = {"@odata.type": "#microsoft.graph.group", "id": ROLE_GROUP_ID,
                                  "displayName": ROLE_GROUP}
            tenant.role_assignments.append(entry)
        if quarter.group_members:
            tenant.groups.append(role_group([p for p, _ in quarter.group_members]))
    return tenant


def role_group(members: list[Person]) -> dict[str, object]:
    """A role-assignable group as GET /groups/{id} describes one (isAssignableToRole, security
    enabled, not mail enabled: https://learn.microsoft.com/en-us/entra/identity/
    role-based-access-control/groups-create-eligible), with its members' ids in `_members`."""
    return {"id": ROLE_GROUP_ID, "displayName": ROLE_GROUP, "isAssignableToRole": True,
            "securityEnabled": True, "mailEnabled": False, "groupTypes": [],
            "_members": [p.id for p in members]}


def named_locations() -> list[dict[str, object]]:
    """The tenant's Conditional Access named locations, as GET .../namedLocations lists them:
    each office's egress and the corporate VPN's as trusted IP ranges, and a country list used to
    block sign-ins (country locations carry no trust flag in Graph)."""
    ranges = [(f"{office.city.name} office", [f"{ip}/32" for ip in office.egress_ips])
              for office in OFFICES.values()]
    ranges.append(("Corporate VPN egress", [f"{VPN_EGRESS[1].ipv4_prefix}0/24"]))
    found: list[dict[str, object]] = [{
        "@odata.type": "#microsoft.graph.ipNamedLocation",
        "id": f"0d1c2b3a-0000-4000-8000-{n:012d}", "displayName": name, "isTrusted": True,
        "createdDateTime": "2024-11-04T09:12:00Z", "modifiedDateTime": "2024-11-04T09:12:00Z",
        "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": cidr}
                     for cidr in cidrs],
    } for n, (name, cidrs) in enumerate(ranges, start=1)]
    found.append({
        "@odata.type": "#microsoft.graph.countryNamedLocation",
        "id": "0d1c2b3a-0000-4000-8000-000000000099", "displayName": "Blocked countries",
        "createdDateTime": "2024-11-04T09:12:00Z", "modifiedDateTime": "2024-11-04T09:12:00Z",
        "countriesAndRegions": ["KP", "IR"], "includeUnknownCountriesAndRegions": False,
        "countryLookupMethod": "clientIpAddress",
    })
    return found


def _per_workday(sign_ins_per_user: int, history_days: int) -> float:
    """Workday sign-ins that, with daily phone refreshes, give about the asked total."""
    days = history_days + 2.5
    phone = benign.PHONE_REFRESHES_PER_DAY * days
    workdays = history_days * 5 / 7
    return max(1.5, (sign_ins_per_user - phone) / workdays)


def _role_assignment(person: Person, role: str, rng: random.Random) -> dict[str, object]:
    """One entry of GET /roleManagement/directory/roleAssignments?$expand=principal."""
    token = base64.urlsafe_b64encode(rng.getrandbits(256).to_bytes(32, "big")).decode()
    return {
        "id": token.rstrip("=") + "-1",
        "roleDefinitionId": role,
        "principalId": person.id,
        "directoryScopeId": "/",
        "principal": {
            "@odata.type": "#microsoft.graph.user",
            "id": person.id,
            "userPrincipalName": person.upn,
            "displayName": person.display_name,
        },
    }


__all__ = ["BENIGN_ADMIN", "MIN_USERS", "SCENARIOS", "SPRAY_TARGET", "Tenant", "generate"]
