"""The public sign-in samples (tests/data/public, see SOURCES.md there) import, and hold what
their publishers say they hold."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.errors import InputError
from shared.geo import haversine_km
from shared.imports import read_paths

PUBLIC = Path(__file__).resolve().parents[1] / "data" / "public"
PANTHER = sorted((PUBLIC / "panther-analysis").glob("*.jsonl"))


# Every file with user sign-ins: (format, sign-ins kept). Every record is either kept, a
# service principal's, or a repeat: nothing readable is lost.
IMPORTABLE = {
    "Azure-Sentinel/sign-in_adelete.csv": ("sentinel", 56),
    "Azure-Sentinel/disable_accounts.csv": ("sentinel", 4),
    "msticpy/aad_logons.jsonl": ("sentinel", 45),
    "msticnb/aad_signin_random.jsonl": ("sentinel", 300),
    "microsoft-graph-docs-contrib/signin-list.md.beta.example1.json": ("graph", 1),
    "microsoft-graph-docs-contrib/signin-list.md.beta.example2.json": ("graph", 1),
    "azure-docs/reference-azure-monitor-sign-ins-log-schema.md.example.json": ("azure-monitor", 1),
    "elastic-integrations/sample_event.json": ("elastic", 1),
    "elastic-integrations/test-created-datetime-timestamp.log": ("azure-monitor", 2),
    "elastic-integrations/test-non-interactive-user-signin.log": ("azure-monitor", 1),
    "elastic-integrations/test-signinlogs-raw.log": ("azure-monitor", 1),  # 5 categories, one id
    "elastic-beats/signin_log.json": ("azure-monitor", 1),
    "elastic-beats/signinlogs_ipv6.log": ("azure-monitor", 1),
    "panther-analysis/azure_device_code_broker_client.jsonl": ("azure-monitor", 2),
    "panther-analysis/azure_excessive_account_lockouts.jsonl": ("azure-monitor", 3),
    "panther-analysis/azure_graph_session_multiple_ips.jsonl": ("azure-monitor", 3),
    "panther-analysis/azure_high_risk_signin.jsonl": ("azure-monitor", 2),
    "panther-analysis/azure_legacyauth.jsonl": ("azure-monitor", 1),
    "panther-analysis/azure_multiple_protection_alerts.jsonl": ("azure-monitor", 2),
    "panther-analysis/azure_ropc_login_no_mfa.jsonl": ("azure-monitor", 2),
    "panther-analysis/azure_vscode_oauth_phishing.jsonl": ("azure-monitor", 2),
}
# Files without user sign-ins, each refused with one line saying why.
REFUSED = {
    "Azure-Sentinel/signinLogs.csv": "not a sign-in export: its columns",  # a rule's output
    "panther-analysis/labels.json": "not a sign-in export",
    "elastic-integrations/test-invalid-time.log": "not a sign-in export",  # fragment
    "elastic-integrations/test-time-formats-corner-cases.log": "not a sign-in export",
    "elastic-integrations/test-alternative-time-and-duration-as-string.log":
        "holds no user sign-ins: its 1 azure-monitor records are service principal",
    "Microsoft-Extractor-Suite/20250502132320-servicePrincipal-SignInLogs.json":
        "holds no user sign-ins: its 494 graph records are service principal",
    "Microsoft-Extractor-Suite/20250502132321-managedIdentity-SignInLogs.json":
        "holds no user sign-ins: its 28 graph records",
    "panther-analysis/azure_failed_signins.jsonl": "holds no user sign-ins",
    "panther-analysis/azure_risklevel_passthrough.jsonl": "holds no user sign-ins",
    "panther-analysis/sign_in_from_rogue_state.jsonl": "holds no user sign-ins",
}


def test_every_public_file_is_listed() -> None:
    files = {str(p.relative_to(PUBLIC)) for p in PUBLIC.rglob("*") if p.is_file()}
    assert files - {"SOURCES.md"} == set(IMPORTABLE) | set(REFUSED)


@pytest.mark.parametrize(("name", "expected"), sorted(IMPORTABLE.items()))
def test_each_sample_imports_every_readable_sign_in(name: str, expected: tuple[str, int]) -> None:
    fmt, kept = expected
    result = read_paths([PUBLIC / name])
    summary = result.summary
    assert result.formats == {str(PUBLIC / name): fmt}
    assert not [p for p in result.problems if p.line is not None]  # no bad rows in these
    assert (len(result.sign_ins), summary.sign_ins_kept, summary.rows_rejected) == (kept, kept, {})
    assert summary.rows_read == kept + summary.without_user + summary.repeated


@pytest.mark.parametrize(("name", "why"), sorted(REFUSED.items()))
def test_files_without_user_sign_ins_are_refused_in_one_line(name: str, why: str) -> None:
    path = PUBLIC / name
    with pytest.raises(InputError, match=why) as raised:
        read_paths([path])
    message = raised.value.message
    assert message.startswith(f"{path}: ") and "\n" not in message


def test_msticnb_unreadable_coordinates_and_flags_are_set_aside_not_rows() -> None:
    result = read_paths([PUBLIC / "msticnb/aad_signin_random.jsonl"])
    assert len(result.sign_ins) == 300
    assert len({s.user_principal_name for s in result.sign_ins}) == 202
    assert Counter(s.error_code for s in result.sign_ins) == {
        0: 290, 50058: 3, 50074: 3, 50155: 2, 50097: 1, 50053: 1}
    aside = result.summary.fields_set_aside
    assert aside["location.geoCoordinates.latitude"] == 296
    assert aside["location.geoCoordinates.longitude"] == 296
    # the randomised export writes "lcbc" for some device flags: not booleans, set aside, counted
    assert aside["deviceDetail.isManaged"] == 26 and aside["deviceDetail.isCompliant"] == 15
    assert all(s.coordinates is None for s in result.sign_ins)
    assert all(s.ip_address and s.created_date_time.tzinfo is UTC for s in result.sign_ins)


def test_disabled_account_attempts_from_175_45_176_99() -> None:
    result = read_paths([PUBLIC / "Azure-Sentinel/disable_accounts.csv"])
    assert len(result.sign_ins) == 4
    assert {s.error_code for s in result.sign_ins} == {50057}
    assert {s.ip_address for s in result.sign_ins} == {"175.45.176.99"}
    assert {s.user_principal_name for s in result.sign_ins} == {"johns@m365x816222.onmicrosoft.com"}
    times = sorted(s.created_date_time for s in result.sign_ins)  # from AuthenticationDetails
    assert times[0] == datetime(2021, 4, 19, 12, 13, 19, 483476, tzinfo=UTC)
    assert times[-1].strftime("%H:%M") == "12:16"
    # Latitude 125 is impossible: the swapped coordinates are replaced from the city name.
    coordinates = result.sign_ins[0].coordinates
    assert result.sign_ins[0].country == "KP" and coordinates is not None
    assert haversine_km(coordinates, (39.03, 125.75)) < 20


def test_adele_vance_sign_ins_from_azor() -> None:
    result = read_paths([PUBLIC / "Azure-Sentinel/sign-in_adelete.csv"])
    sign_ins = result.sign_ins
    assert len(sign_ins) == 56
    assert {s.user_principal_name for s in sign_ins} == {"adelev@m365x816222.onmicrosoft.com"}
    assert {s.ip_address for s in sign_ins} == {"175.45.176.99"}
    assert Counter(s.error_code for s in sign_ins)[0] == 53
    assert {(s.city, s.country) for s in sign_ins} == {("Azor", "IL")}
    assert min(s.created_date_time for s in sign_ins) == datetime(
        2021, 4, 28, 14, 8, 45, 221000, tzinfo=UTC
    )  # "4/28/2021, 2:08:45.221 PM"
    assert max(s.created_date_time for s in sign_ins).strftime("%H:%M") == "15:19"
    assert {s.client_app_used for s in sign_ins} == {"Browser"}
    assert sign_ins[0].device_detail is not None
    assert sign_ins[0].device_detail.browser == "Edge 90.0.818"


def test_rule_output_is_not_sign_in_rows() -> None:
    path = PUBLIC / "Azure-Sentinel/signinLogs.csv"
    with pytest.raises(InputError, match="not a sign-in export") as raised:
        read_paths([path])
    assert str(path) in str(raised.value)


def test_labels_file_is_not_an_export() -> None:
    with pytest.raises(InputError, match="not a sign-in export"):
        read_paths([PUBLIC / "panther-analysis/labels.json"])


def test_msticpy_rows_repeat_per_authentication_step_and_are_kept_once() -> None:
    result = read_paths([PUBLIC / "msticpy/aad_logons.jsonl"])
    assert len(result.sign_ins) == 45
    assert len({s.id for s in result.sign_ins}) == 45
    assert any("41 rows repeat" in p.message for p in result.problems)
    users = Counter(s.user_principal_name for s in result.sign_ins)
    assert "meganb@seccxp.ninja" in users
    assert Counter(s.error_code for s in result.sign_ins)[90072] == 1


def test_meganb_atlanta_then_liege() -> None:
    result = read_paths([PUBLIC / "msticpy/aad_logons.jsonl"])
    megan = sorted(
        (s for s in result.sign_ins if s.user_principal_name == "meganb@seccxp.ninja"),
        key=lambda s: s.created_date_time,
    )
    first, later = megan[0], next(s for s in megan if s.ip_address == "109.88.218.99")
    assert (first.ip_address, first.city, first.country, first.error_code) == (
        "136.55.145.135", "Atlanta", "US", 90072,
    )
    assert first.created_date_time == datetime(2020, 5, 20, 11, 47, 15, tzinfo=UTC)
    assert later.country == "BE" and later.error_code == 0
    assert first.coordinates and later.coordinates
    assert haversine_km(first.coordinates, later.coordinates) > 6500


def test_panther_records_envelope_and_properties() -> None:
    result = read_paths(PANTHER)
    by_user = {s.user_principal_name: s for s in result.sign_ins}
    lockout = by_user["boromir@lotr.com"]
    assert (lockout.error_code, lockout.ip_address, lockout.country) == (50053, "4.4.4.4", "RU")
    assert lockout.autonomous_system_number == 12345  # "12345" in the record
    assert by_user["john@justice.org"].risk_level_during_sign_in == "high"
    assert by_user["aragorn@lotr.com"].country == "CN"  # countryOrRegion "China"
    assert by_user["attacker@company.com"].error_code == 50126
    assert by_user["iotdevice@company.com"].error_code == 0  # resultType "Success"
    assert by_user["jane.doe@example.com"].sign_in_event_types == ("nonInteractiveUser",)
    for sign_in in result.sign_ins:
        assert sign_in.created_date_time.tzinfo is not None
    # Service-principal sign-ins have no user to review: counted in a note, not imported; a
    # file holding nothing else is refused (named, with why) while the others are read.
    assert result.summary.without_user == 1
    assert len(result.summary.files_refused) == 3
    assert all("service principal" in why for why in result.summary.files_refused.values())


def test_graph_docs_examples() -> None:
    result = read_paths(sorted((PUBLIC / "microsoft-graph-docs-contrib").glob("*.json")))
    assert len(result.sign_ins) == 2
    jdoe = next(s for s in result.sign_ins if s.user_principal_name == "jdoe@contoso.com")
    assert jdoe.ip_address == "207.254.19.10" and jdoe.city == "Lithia Springs"
    assert jdoe.error_code == 0  # "status": {}


def test_azure_docs_schema_example() -> None:
    name = "reference-azure-monitor-sign-ins-log-schema.md.example.json"
    result = read_paths([PUBLIC / "azure-docs" / name])
    (sign_in,) = result.sign_ins
    assert sign_in.error_code == 50140
    assert sign_in.autonomous_system_number == 8000
    assert sign_in.id == "0231f922-93fa-4005-bb11-b344eca03c01"


def test_all_public_samples_together() -> None:
    result = read_paths([PUBLIC])  # the whole folder: refused files named, the rest merged
    assert len(result.formats) == len(IMPORTABLE)
    assert set(result.summary.files_refused) == {str(PUBLIC / name) for name in REFUSED}
    # sample_event.json's event.original is one of test-signinlogs-raw.log's records with its
    # address redacted (1.1.1.1 for 81.2.69.144): one id, two addresses, both kept and counted;
    # msticnb has two ids each on two rows of one user 9 and 18 seconds apart (kept, counted).
    assert len(result.sign_ins) == sum(kept for _, kept in IMPORTABLE.values())
    assert result.summary.conflicting_ids == 3
