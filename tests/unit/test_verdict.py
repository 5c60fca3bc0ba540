"""Verdict levels, reasons, remediation proposals and the privileged escalation."""

from __future__ import annotations

import msgspec
import pytest

from shared.detect import run_all
from shared.model import Finding
from shared.verdict import decide, user_stats
from tests.unit.detect_sequences import build, cases

LONDON_HISTORY = [{"at": "2025-02-03T09:00", "place": "London", "ip": "81.2.69.160",
                   "device": "d1", "os": "Windows 10", "browser": "Edge", "repeat": 30,
                   "every_minutes": 1440}]


def _case(detection: str, name: str) -> dict:
    return next(case for case in cases(detection) if case["name"] == name)


def _verdict(case: dict, **changes):
    sign_ins, context = build({**case, **changes})
    for field, value in changes.get("context", {}).items():
        setattr(context, field, value)
    return decide(run_all(sign_ins, context), context, sign_ins)


def test_none_when_nothing_stands_out():
    verdict = _verdict({"history": LONDON_HISTORY, "sign_ins": [
        {"at": "2025-03-10T09:00", "place": "London", "ip": "81.2.69.160", "device": "d1",
         "os": "Windows 10", "browser": "Edge", "repeat": 5, "every_minutes": 1440}]})
    assert verdict.verdict == "none"
    assert verdict.findings == [] and verdict.reasons == [] and verdict.proposed_actions == []
    assert not verdict.got_in and not verdict.thin_baseline


def test_low_for_a_spray_that_never_worked():
    verdict = _verdict(_case("password_spray", "spray_target_never_got_in"))
    assert verdict.verdict == "low"
    assert verdict.proposed_actions == ["investigate"]
    assert any("did not get in" in reason for reason in verdict.reasons)
    assert not verdict.got_in


def test_medium_for_brute_force_without_success():
    verdict = _verdict(_case("repeated_failures", "brute_force_without_success"))
    assert verdict.verdict == "medium"
    assert verdict.proposed_actions == ["investigate"]
    assert verdict.reasons[-1].endswith("the attacker did not get in.")


def test_high_when_someone_else_signed_in():
    verdict = _verdict(_case("unfamiliar_location", "new_country_success_unknown_device"))
    assert verdict.verdict == "high" and verdict.got_in
    assert verdict.proposed_actions == ["revokeSessions", "forcePasswordReset"]
    got_in = [r for r in verdict.reasons if r.startswith("The attacker got in")]
    assert got_in == ["The attacker got in: a cited sign-in succeeded at 2025-03-08T23:10Z "
                      "from Lagos, NG (102.89.1.1)."]


def test_confirm_compromised_proposed_only_with_identity_protection():
    case = _case("mfa_fatigue", "mfa_denials_then_success")
    without = _verdict(case)
    with_ip = _verdict(case, context={"identity_protection": True})
    assert "confirmCompromised" not in without.proposed_actions
    assert with_ip.proposed_actions == ["revokeSessions", "forcePasswordReset",
                                        "confirmCompromised"]


def test_password_known_but_stopped_is_said_plainly():
    verdict = _verdict(_case("unfamiliar_location",
                             "password_validated_blocked_by_conditional_access_in_russia"))
    assert verdict.verdict == "medium" and verdict.got_in
    assert any(r.startswith("The attacker knew the password (validated at 2025-03-08T03:00Z")
               for r in verdict.reasons)


@pytest.mark.parametrize(("detection", "name"), [
    ("password_spray", "spray_target_never_got_in"),
    ("repeated_failures", "brute_force_without_success"),
    ("unfamiliar_location", "new_network_in_familiar_country"),
    ("disabled_account", "disabled_account_attempts_from_pyongyang"),
])
def test_privileged_accounts_escalate_to_high_on_thin_evidence(detection, name):
    case = _case(detection, name)
    plain = _verdict(case)
    privileged = _verdict(case, privileged=["Global Administrator"])
    assert plain.verdict in ("low", "medium")
    assert privileged.verdict == "high" and privileged.privileged
    assert any("Global Administrator" in reason for reason in privileged.reasons)
    assert "disableAccount" not in privileged.proposed_actions  # nobody holds a session


def test_disable_proposed_for_privileged_account_with_a_session_held_by_someone_else():
    case = _case("impossible_travel", "interleaved_attacker_session_lagos")
    assert "disableAccount" not in _verdict(case).proposed_actions
    verdict = _verdict(case, privileged=["Global Administrator"])
    assert verdict.proposed_actions == ["revokeSessions", "forcePasswordReset", "disableAccount"]


def test_off_hours_on_known_device_is_not_escalated_for_admins():
    verdict = _verdict(_case("off_hours", "weekday_worker_sunday_on_own_laptop_is_context"),
                       privileged=["Security Administrator"])
    assert verdict.verdict == "low"
    assert verdict.reasons[-1].endswith("activity at unusual hours on it is worth a glance.")


def test_off_hours_alone_on_known_everything_is_context_not_a_verdict():
    verdict = _verdict(_case("off_hours", "weekday_worker_sunday_on_own_laptop_is_context"))
    assert verdict.verdict == "none" and verdict.proposed_actions == []
    assert [f.type for f in verdict.findings] == ["off_hours"] and verdict.findings[0].context
    assert "context, not a verdict" in verdict.reasons[0]


def test_admin_at_an_odd_hour_from_a_new_network_is_at_least_medium():
    case = _case("off_hours", "saturday_morning_on_own_laptop")
    sign_ins = [{**spec, "asn": 64999} for spec in case["sign_ins"]]  # a network never seen
    verdict = _verdict(case, sign_ins=sign_ins, privileged=["Security Administrator"])
    assert verdict.verdict in ("medium", "high")
    without_asn = _verdict(case, privileged=["Security Administrator"])
    assert without_asn.verdict == "low"  # no ASN (v1.0): a familiar country is all we can judge


def test_two_kinds_of_medium_evidence_with_access_make_high():
    sign_ins, context = build(_case("mfa_fatigue", "mfa_prompts_unanswered_no_success"))
    fatigue = Finding("mfa_fatigue", "medium", "Prompts pushed.", [sign_ins[0].id], got_in=True)
    place = Finding("unfamiliar_location", "medium", "New country.", [sign_ins[1].id],
                    got_in=True)
    assert decide([fatigue], context, sign_ins).verdict == "medium"
    assert decide([fatigue, place], context, sign_ins).verdict == "high"
    no_access = Finding("repeated_failures", "medium", "Failures.", [sign_ins[2].id])
    assert decide([no_access, msgspec.structs.replace(place, got_in=False)], context,
                  sign_ins).verdict == "medium"


def test_thin_baseline_is_said():
    verdict = _verdict(_case("unfamiliar_location", "no_baseline_single_foreign_success"))
    assert verdict.thin_baseline
    assert any(r.startswith("No baseline exists") for r in verdict.reasons)


def test_stats_count_failures_by_class_and_leave_interrupts_out():
    sign_ins, _ = build({"sign_ins": [
        {"at": "2025-03-10T09:00", "place": "London", "ip": "81.2.69.160", "code": 65001,
         "repeat": 5},
        {"at": "2025-03-10T09:10", "place": "London", "ip": "81.2.69.160", "code": 50140},
        {"at": "2025-03-10T09:11", "place": "Moscow", "ip": "95.165.1.1", "code": 50126,
         "repeat": 2},
        {"at": "2025-03-10T09:12", "place": "Moscow", "ip": "95.165.1.1", "code": 50053},
        {"at": "2025-03-10T09:13", "no_location": True, "ip": "20.190.128.1", "device": "d1"},
    ]})
    stats = user_stats(sign_ins)
    assert stats.sign_ins == 10
    assert stats.failures == 3
    assert stats.failures_by_class == {"credential_failure": 2, "lockout": 1}
    assert stats.countries == ["GB", "RU"]
    assert (stats.ips, stats.devices) == (3, 1)


def test_user_stats_count_every_row_whatever_is_missing():
    """The breakdown counts distinct statuses, places and devices; rows without a status, an
    address, a device id or a country are counted as they always were, failures by class in
    the order their first row came."""
    from datetime import UTC, datetime

    from shared.model import DeviceDetail, Location, SignIn, Status

    at = datetime(2025, 3, 17, 1, tzinfo=UTC)
    rows = [
        SignIn(id="1", created_date_time=at, status=Status(error_code=50053),
               ip_address="203.0.113.7", location=Location(country_or_region="NG")),
        SignIn(id="2", created_date_time=at, status=None, ip_address=None,
               device_detail=DeviceDetail(device_id="")),
        SignIn(id="3", created_date_time=at, status=Status(error_code=50126), ip_address="",
               location=Location(country_or_region=""), device_detail=DeviceDetail(device_id="d1")),
        SignIn(id="4", created_date_time=at, status=Status(error_code=50126,
               failure_reason="Invalid username or password."), ip_address="203.0.113.7",
               device_detail=DeviceDetail(device_id="d1", operating_system="Windows 10")),
        SignIn(id="5", created_date_time=at, status=Status(error_code=0),
               ip_address="198.51.100.2", location=Location(country_or_region="GB")),
    ]
    stats = user_stats(rows)
    assert stats.sign_ins == 5 and stats.ips == 2 and stats.devices == 1
    assert stats.countries == ["GB", "NG"]
    assert list(stats.failures_by_class.items()) == [("lockout", 1), ("credential_failure", 2)]
    assert stats.failures == 3
