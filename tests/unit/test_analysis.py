"""The review engine: grouping, history vs window, tenant signals, ordering, the JSON shape."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import msgspec

from shared.analysis import review, review_with_timelines, score_user
from shared.baseline import build_profile
from shared.detect.context import (
    DetectionContext,
    TenantSignalsBuilder,
    tenant_signals,
)
from shared.model import RiskDetection, Window
from tests.unit.detect_sequences import expand

WINDOW = Window(start=datetime(2025, 3, 7, 18, tzinfo=UTC),
                end=datetime(2025, 3, 10, 6, tzinfo=UTC))


def _home(user: str, place: str, ip: str) -> list[dict]:
    return [
        {"user": user, "at": "2025-02-10T09:00", "place": place, "ip": ip, "device": f"{user}-pc",
         "os": "Windows 10", "browser": "Edge", "repeat": 20, "every_minutes": 1440,
         "weekdays": True},
        {"user": user, "at": "2025-03-08T10:00", "place": place, "ip": ip, "device": f"{user}-pc",
         "os": "Windows 10", "browser": "Edge"},
    ]


def _tenant() -> list:
    rows = [*_home("alice", "London", "81.2.69.160"), *_home("bob", "Madrid", "83.32.1.1"),
            *_home("carol", "London", "81.2.69.170")]
    rows.append({"user": "bob", "at": "2025-03-09T02:00", "place": "Lagos", "ip": "102.89.1.1",
                 "os": "Linux", "browser": "Firefox"})
    rows.append({"user": "dave", "at": "2025-03-01T09:00", "place": "London", "ip": "81.2.69.1"})
    rows.append({"user": "carol", "at": "2025-03-11T09:00", "place": "Lagos", "ip": "102.89.1.1",
                 "os": "Linux", "browser": "Firefox"})  # after the window: not reviewed
    for n, user in enumerate(["alice", "bob", "carol", "erin", "frank", "gina"]):
        rows.append({"user": user, "at": f"2025-03-08T03:0{n}", "place": "Moscow",
                     "ip": "198.51.100.7", "code": 50126})
    sign_ins = expand(rows, "x")
    random.Random(1).shuffle(sign_ins)  # input order must not matter
    return sign_ins


def test_every_window_user_reviewed_flagged_first_history_builds_baselines():
    result, timelines = review_with_timelines(_tenant(), window=WINDOW)
    order = [(user.user_id, user.verdict) for user in result.users]
    assert order[0] == ("bob", "high")
    assert {user for user, _ in order} == {"alice", "bob", "carol", "erin", "frank", "gina"}
    assert [verdict for _, verdict in order[1:]] == ["low"] * 5  # spray targets, never got in
    bob = result.users[0]
    # 02:00 on a Sunday from Lagos, on a device and network never seen: off-hours too.
    assert {f.type for f in bob.findings} == {"unfamiliar_location", "password_spray",
                                              "off_hours"}
    assert not bob.thin_baseline and bob.got_in
    assert all(s.created_date_time <= WINDOW.end for s in timelines["carol"])
    assert [s.created_date_time for s in timelines["alice"]] == sorted(
        s.created_date_time for s in timelines["alice"])
    assert result.tenant.sign_ins == sum(len(rows) for rows in timelines.values())
    assert result.tenant.users == 6
    [source] = result.tenant.spraying_sources
    assert (source.ip, source.users) == ("198.51.100.7", 6)


def test_json_has_the_documented_shape():
    encoded = msgspec.json.decode(msgspec.json.encode(review(_tenant(), window=WINDOW)))
    assert set(encoded) >= {"window", "tenant", "users"}
    assert set(encoded["window"]) == {"start", "end"}
    assert set(encoded["tenant"]) >= {"signIns", "users", "sprayingSources"}
    assert set(encoded["tenant"]["sprayingSources"][0]) >= {"ip", "users"}
    user = encoded["users"][0]
    assert set(user) >= {"userId", "userPrincipalName", "verdict", "privileged", "findings",
                         "reasons", "stats"}
    assert set(user["findings"][0]) >= {"type", "severity", "summary", "signInIds"}
    assert set(user["stats"]) >= {"signIns", "failures", "countries", "ips", "devices"}


def test_default_window_is_all_input_and_without_history_baselines_are_thin():
    result = review(_tenant())
    assert result.window.start == datetime(2025, 2, 10, 9, tzinfo=UTC)
    assert all(user.thin_baseline for user in result.users)
    assert "dave" in {user.user_id for user in result.users}


def test_privileged_by_upn_or_id_escalates():
    by_upn = review(_tenant(), window=WINDOW, privileged={"ALICE@contoso.com"})
    by_id = review(_tenant(), window=WINDOW, privileged={"alice": ["Global Administrator"]})
    for result in (by_upn, by_id):
        alice = next(user for user in result.users if user.user_id == "alice")
        assert alice.privileged and alice.verdict == "high"
    alice = next(user for user in by_id.users if user.user_id == "alice")
    assert any("Global Administrator" in reason for reason in alice.reasons)


def test_given_baselines_replace_history():
    bob_history = [s for s in _tenant() if s.user_id == "bob" and s.country == "NG"]
    result = review(_tenant(), window=WINDOW, baselines={"bob": build_profile(bob_history)})
    bob = next(user for user in result.users if user.user_id == "bob")
    places = [f.summary for f in bob.findings if f.type == "unfamiliar_location"]
    assert len(places) == 1 and "from ES" in places[0]  # Lagos is known, Madrid is not


def test_risk_detections_are_matched_to_users_in_the_window():
    detections = [
        RiskDetection(id="r1", risk_event_type="leakedCredentials", risk_level="high",
                      risk_state="atRisk", user_id="carol",
                      activity_date_time=datetime(2025, 3, 8, 12, tzinfo=UTC)),
        RiskDetection(id="r2", risk_event_type="unfamiliarFeatures", risk_level="high",
                      risk_state="atRisk", user_id="alice",
                      activity_date_time=datetime(2025, 1, 8, 12, tzinfo=UTC)),  # before
    ]
    result = review(_tenant(), window=WINDOW, risk_detections=detections)
    verdicts = {user.user_id: user for user in result.users}
    assert verdicts["carol"].verdict == "high"
    assert "risky_sign_in" not in {f.type for f in verdicts["alice"].findings}
    assert "confirmCompromised" in verdicts["carol"].proposed_actions


def test_score_user_alone_matches_the_review():
    sign_ins = _tenant()
    result = review(sign_ins, window=WINDOW)
    bob_rows = sorted((s for s in sign_ins if s.user_id == "bob"),
                      key=lambda s: s.created_date_time)
    history = [s for s in bob_rows if s.created_date_time < WINDOW.start]
    window_rows = [s for s in bob_rows if WINDOW.start <= s.created_date_time <= WINDOW.end]
    context = DetectionContext(
        window=WINDOW, baseline=build_profile(history), user_id="bob",
        tenant=tenant_signals(s for s in sign_ins
                              if WINDOW.start <= s.created_date_time <= WINDOW.end),
    )
    assert score_user(window_rows, context) == result.users[0]


def test_tenant_signals_streamed_in_shards_equal_one_pass():
    sign_ins = [s for s in _tenant() if WINDOW.start <= s.created_date_time <= WINDOW.end]
    whole = tenant_signals(sign_ins)
    for seed in range(5):
        shuffled = list(sign_ins)
        random.Random(seed).shuffle(shuffled)
        builder = TenantSignalsBuilder()
        for shard in (shuffled[:7], shuffled[7:20], shuffled[20:]):
            builder.add_all(shard)
        assert builder.build() == whole
    encoded = msgspec.json.encode(whole)
    assert msgspec.json.decode(encoded, type=type(whole)) == whole


def test_user_by_user_keeps_timelines_only_when_asked():
    """Past its memory budget `analyze` reviews user by user; the flagged users' window sign-ins
    are kept for the HTML report only: the same verdicts either way."""
    from shared.analysis import group_by_user, review_user_by_user

    grouped = group_by_user(_tenant())

    def users():
        return iter(grouped.items())

    kept, timelines = review_user_by_user(users, window=WINDOW)
    lean, none = review_user_by_user(users, window=WINDOW, keep_timelines=False)
    assert msgspec.json.encode(kept) == msgspec.json.encode(lean)
    assert set(timelines) == {u.user_id for u in kept.users if u.verdict != "none"} != set()
    assert none == {}
    whole, _ = review_with_timelines(_tenant(), window=WINDOW)
    assert [(u.user_id, u.verdict) for u in whole.users] == \
        [(u.user_id, u.verdict) for u in lean.users]
