"""The generated sample tenant: every planted attack is found at its level, no benign user is
raised above its ceiling. Detections are not told scenario names or ids: only the sign-ins,
roles and Identity Protection records a real tenant would give."""

from __future__ import annotations

import msgspec
import pytest

from local.tenant import ATTACKS, generate
from shared.analysis import review
from shared.model import ReviewResult, RiskDetection, RiskyUser, SignIn, level_rank


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
