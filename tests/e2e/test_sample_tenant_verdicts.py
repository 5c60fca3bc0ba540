"""The generated sample tenant: every planted attack is found at its level, no benign user is
raised above its ceiling, and at most one benign user in ten is left at `low`. Detections are
not told scenario names or ids: only the sign-ins, roles, Conditional Access named locations and
Identity Protection records a real tenant would give."""

from __future__ import annotations

import msgspec
import pytest

from local.tenant import ATTACKS, generate
from shared.analysis import review
from shared.detect.trusted import from_named_locations
from shared.model import ReviewResult, RiskDetection, RiskyUser, SignIn, level_rank
from shared.persistence.records import AuditEvent


def _review(users: int, seed: int) -> tuple[ReviewResult, dict]:
    tenant = generate(users=users, seed=seed)
    privileged: dict[str, list[str]] = {}
    for assignment in tenant.role_assignments:
        privileged.setdefault(str(assignment["principalId"]), []).append(
            str(assignment["roleDefinitionId"])
        )
    result = review(
        msgspec.convert(tenant.sign_ins, list[SignIn]),
        window=tenant.window,
        privileged=privileged,
        risk_detections=msgspec.convert(tenant.risk_detections, list[RiskDetection]),
        risky_users=msgspec.convert(tenant.risky_users, list[RiskyUser]),
        trusted=from_named_locations(tenant.named_locations),
        audit_events=msgspec.convert(tenant.directory_audits, list[AuditEvent]),
    )
    return result, tenant.ground_truth


@pytest.fixture(scope="module", params=[(50, 7), (120, 3)], ids=["50-users", "120-users"])
def reviewed(request):
    return _review(*request.param)


def _problems(result: ReviewResult, truth: dict, attacks: bool) -> list[str]:
    by_user = {user.user_id: user for user in result.users}
    problems = []
    for user_id, expected in truth.items():
        if (expected.scenario in ATTACKS or expected.scenario == "password_spray_target") \
                is not attacks:
            continue
        user = by_user.get(user_id)
        if user is None:
            if level_rank(expected.min_verdict) > 0:
                problems.append(f"{expected.scenario}: {user_id} missing from the review")
            continue
        types = {finding.type for finding in user.findings}
        rank = level_rank(user.verdict)
        if not level_rank(expected.min_verdict) <= rank <= level_rank(expected.max_verdict):
            problems.append(
                f"{expected.scenario}: {user.user_principal_name} is {user.verdict}, expected "
                f"{expected.min_verdict}..{expected.max_verdict}: {user.reasons}"
            )
        missing = set(expected.finding_types) - types
        if missing:
            problems.append(f"{expected.scenario}: {user.user_principal_name} lacks {missing}")
    return problems


def test_every_planted_attack_found_at_its_level(reviewed):
    result, truth = reviewed
    assert _problems(result, truth, attacks=True) == []


def test_no_benign_user_above_its_ceiling(reviewed):
    result, truth = reviewed
    assert _problems(result, truth, attacks=False) == []


def test_attack_reasons_say_whether_the_attacker_got_in(reviewed):
    result, truth = reviewed
    for user in result.users:
        expected = truth.get(user.user_id)
        if expected is None or expected.scenario not in ("brute_force", "password_spray"):
            continue
        said = " ".join(user.reasons)
        if expected.scenario == "brute_force":
            assert "did not get in" in said and not user.got_in
        else:
            assert "got in" in said and user.got_in
            assert user.proposed_actions[:2] == ["revokeSessions", "forcePasswordReset"]


def test_flagged_users_come_first(reviewed):
    result, _ = reviewed
    ranks = [level_rank(user.verdict) for user in result.users]
    assert ranks == sorted(ranks, reverse=True)


def test_benign_users_stay_quiet(reviewed):
    """Weekend work on a known laptop, network and country is context, not a verdict: at most one
    benign user in ten at `low` (the review's promise that `low` is worth reading)."""
    result, truth = reviewed
    levels = {user.user_id: user.verdict for user in result.users}
    benign = [user_id for user_id, expected in truth.items()
              if expected.scenario not in ATTACKS and expected.scenario != "password_spray_target"]
    low = [user_id for user_id in benign if levels.get(user_id) == "low"]
    assert len(low) <= len(benign) // 10, low
    weekend = [user.user_id for user in result.users
               if truth[user.user_id].scenario == "ordinary_weekend"]
    assert weekend and all(levels[u] == "none" for u in weekend)
    assert all(any(f.context for f in user.findings) for user in result.users
               if user.user_id in weekend)


def test_slow_and_distributed_sprays_are_campaigns_over_the_window(reviewed):
    """The slow network spray and the proxy-pool spray are each one campaign, with every account
    they tried (the slow one got in once), though no 20-minute bucket holds them."""
    result, truth = reviewed
    kinds = {campaign.kind: campaign for campaign in result.campaigns}
    assert {"network", "cluster", "ip"} <= set(kinds)
    slow, spread = kinds["network"], kinds["cluster"]
    victim = next(u for u, e in truth.items() if e.scenario == "slow_spray")
    assert slow.succeeded_users == [victim] and slow.accounts_tried >= 10
    assert spread.accounts_succeeded == 0 and spread.accounts_tried >= 10
    assert len(spread.addresses) >= 10
    targeted = set(slow.tried_users) | set(spread.tried_users)
    flagged = {user.user_id for user in result.users
               if any(f.type == "password_spray" for f in user.findings)}
    assert targeted <= flagged


def test_newcomers_legacy_protocols_and_device_code(reviewed):
    """The sample tenant's accounts without a history are judged against the tenant (the new hire
    taken over says so; the new hire and the guest at home are nothing); the IMAP guess that got
    in says no MFA was asked; the device-code sign-in whose tokens went to Sao Paulo is a
    `device_code` finding (the records carry Graph beta's fields), the meeting room's is not."""
    result, truth = reviewed
    by_scenario = {truth[u.user_id].scenario: u for u in result.users if u.user_id in truth}
    if "new_hire_taken_over" not in by_scenario:
        assert len(truth) < 70  # a tenant too small for these parts
        return
    taken = by_scenario["new_hire_taken_over"]
    assert taken.verdict == "high"
    assert any("judged against the tenant's" in f.summary for f in taken.findings)
    for benign in ("new_hire_first_day", "guest_first_visit", "conference_room_device_code"):
        assert by_scenario[benign].verdict == "none", by_scenario[benign].reasons
    legacy = by_scenario["legacy_protocol_success"]
    assert {"legacy_protocol", "repeated_failures"} <= {f.type for f in legacy.findings}
    assert any("no MFA was asked" in f.summary for f in legacy.findings)
    phished = by_scenario["device_code_phishing"]
    assert phished.verdict == "high" and "device_code" in {f.type for f in phished.findings}
    assert "device_code" not in {f.type for f in by_scenario[
        "conference_room_device_code"].findings}
