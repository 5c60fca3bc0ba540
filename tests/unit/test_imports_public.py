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


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("Azure-Sentinel/sign-in_adelete.csv", "sentinel"),
        ("Azure-Sentinel/disable_accounts.csv", "sentinel"),
        ("msticpy/aad_logons.jsonl", "sentinel"),
        ("microsoft-graph-docs-contrib/signin-list.md.beta.example1.json", "graph"),
        ("microsoft-graph-docs-contrib/signin-list.md.beta.example2.json", "graph"),
        ("azure-docs/reference-azure-monitor-sign-ins-log-schema.md.example.json", "azure-monitor"),
        *[(f"panther-analysis/{p.name}", "azure-monitor") for p in PANTHER],
    ],
)
def test_each_sample_is_detected(name: str, fmt: str) -> None:
    result = read_paths([PUBLIC / name])
    assert result.formats == {str(PUBLIC / name): fmt}
    assert not [p for p in result.problems if p.line is not None]  # no bad rows in these


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
    assert {s.authentication_requirement for s in sign_ins} == {"singleFactorAuthentication"}
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
    assert by_user["jane.doe@example.com"].sign_in_event_types == ["nonInteractiveUser"]
    for sign_in in result.sign_ins:
        assert sign_in.created_date_time.tzinfo is not None
    # Service-principal sign-ins have no user to review: counted in a note, not imported.
    notes = [p for p in result.problems if "without a user" in p.message]
    assert sum(int(p.message.split()[0]) for p in notes) == 9


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
    paths = [p for p in PUBLIC.rglob("*") if p.suffix in (".csv", ".json", ".jsonl")]
    importable = [p for p in paths if p.name not in ("signinLogs.csv", "labels.json")]
    result = read_paths(importable)
    assert len(result.formats) == len(importable)
    assert len(result.sign_ins) == 4 + 56 + 45 + 2 + 1 + 17
