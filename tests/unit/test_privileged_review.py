"""The quarterly review of privileged accounts (shared.privileged), benign and hostile side by side.

A quarter (July to September 2026) with June as history: an ordinary admin (weekday mornings,
London, managed device, MFA), a traveller whose second country is already in the history
(benign), a dormant admin (signed in only in May), one who signs in single-factor, one on IMAP,
and one with a mid-quarter sign-in from a new country on a new network (hostile: high).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import msgspec
import pytest

from shared.cli import main
from shared.errors import InputError
from shared.model import (
    DeviceDetail,
    GeoCoordinates,
    Location,
    PrivilegedAccount,
    RoleHolding,
    SignIn,
    Status,
    Window,
)
from shared.privileged import review_privileged
from shared.privileged.holdings import parse_holdings
from shared.privileged.weeks import weeks_of

PERIOD = Window(start=datetime(2026, 7, 1, tzinfo=UTC),
                end=datetime(2026, 9, 30, 23, 59, 59, tzinfo=UTC))
PLACES = {"London": ("GB", 51.5074, -0.1278, "81.2.69.160", 5089),
          "Amsterdam": ("NL", 52.3676, 4.9041, "145.131.1.10", 1136),
          "Lagos": ("NG", 6.5244, 3.3792, "102.89.1.20", 29465)}
Accounts = dict[str | None, PrivilegedAccount]
HOLDINGS = {
    "ordinary@contoso.com": [RoleHolding("Exchange Administrator")],
    "traveller@contoso.com": [RoleHolding("Security Administrator")],
    "dormant@contoso.com": [RoleHolding("Global Administrator", "eligible")],
    "single@contoso.com": [RoleHolding("User Administrator")],
    "imap@contoso.com": [RoleHolding("Exchange Administrator", "group", "Tier-0 admins")],
    "anomaly@contoso.com": [RoleHolding("Global Administrator")],
    "never@contoso.com": [RoleHolding("Billing Administrator")],
}


def sign_in(upn: str, at: datetime, place: str = "London", *, code: int = 0,
            client: str = "Browser", mfa: bool = True, managed: bool | None = True) -> SignIn:
    country, lat, lon, ip, asn = PLACES[place]
    return SignIn(
        id=f"{upn}-{at.isoformat()}-{client}", created_date_time=at, user_id=f"id-{upn}",
        user_principal_name=upn, app_display_name="Azure Portal", ip_address=ip,
        client_app_used=client, is_interactive=True, status=Status(error_code=code),
        device_detail=DeviceDetail(device_id=f"dev-{upn}", display_name=f"PC-{upn[:4]}",
                                   operating_system="Windows10", browser="Edge",
                                   is_compliant=managed, is_managed=managed),
        location=Location(city=place, country_or_region=country,
                          geo_coordinates=GeoCoordinates(latitude=lat, longitude=lon)),
        autonomous_system_number=asn,
        authentication_requirement="multiFactorAuthentication" if mfa
        else "singleFactorAuthentication",
    )


def weekdays(start: datetime, end: datetime) -> Iterator[datetime]:
    day = start
    while day < end:
        if day.weekday() < 5:
            yield day.replace(hour=9)
        day += timedelta(days=1)


def quarter() -> list[SignIn]:
    rows: list[SignIn] = []
    june, october = datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)
    for day in weekdays(june, october):
        rows.append(sign_in("ordinary@contoso.com", day))
        rows.append(sign_in("traveller@contoso.com", day,
                            "Amsterdam" if day.day % 5 == 0 else "London"))
        rows.append(sign_in("single@contoso.com", day, mfa=day < PERIOD.start))
        rows.append(sign_in("imap@contoso.com", day))
        if day.weekday() == 2:
            rows.append(sign_in("imap@contoso.com", day + timedelta(hours=2), client="IMAP4"))
        rows.append(sign_in("anomaly@contoso.com", day))
    rows.append(sign_in("dormant@contoso.com", datetime(2026, 5, 4, 9, tzinfo=UTC)))
    rows.append(sign_in("dormant@contoso.com", datetime(2026, 8, 3, 9, tzinfo=UTC), code=50126))
    rows.append(sign_in("anomaly@contoso.com", datetime(2026, 8, 12, 2, tzinfo=UTC), "Lagos",
                        managed=False))
    rows.append(sign_in("someone@contoso.com", datetime(2026, 8, 12, 2, tzinfo=UTC), "Lagos"))
    return rows


@pytest.fixture(scope="module")
def accounts() -> Accounts:
    review = review_privileged(quarter(), PERIOD, HOLDINGS)
    return {a.user_principal_name: a for a in review.accounts}


def test_every_holder_is_listed_and_others_are_not(accounts: Accounts) -> None:
    assert set(accounts) == set(HOLDINGS)


def test_hostile_mid_quarter_anomaly_is_high_and_first() -> None:
    review = review_privileged(quarter(), PERIOD, HOLDINGS)
    first = review.accounts[0]
    assert first.user_principal_name == "anomaly@contoso.com"
    assert first.verdict == "high"
    assert first.anomalous_weeks == ["2026-08-12"]
    assert {f.type for f in first.findings} & {"unfamiliar_location", "impossible_travel"}
    assert first.unmanaged_device_sign_ins == 1
    assert first.countries == ["GB", "NG"]


def test_benign_ordinary_and_traveller_need_no_decision(accounts: Accounts) -> None:
    for upn in ("ordinary@contoso.com", "traveller@contoso.com"):
        account = accounts[upn]
        assert account.verdict == "none", account.reasons
        assert account.attention == [] and account.proposal == ["keep"]
        assert not account.dormant


def test_counts_by_month_and_last_success(accounts: Accounts) -> None:
    ordinary = accounts["ordinary@contoso.com"]
    months = {m.month: (m.sign_ins, m.successful_sign_ins)
              for m in ordinary.by_month}
    assert months == {"2026-07": (23, 23), "2026-08": (21, 21), "2026-09": (22, 22)}
    assert ordinary.sign_ins == 66
    assert ordinary.last_successful_sign_in == datetime(2026, 9, 30, 9, tzinfo=UTC)
    assert ordinary.networks == ["AS5089"] and ordinary.devices == ["PC-ordi"]


def test_dormant_admins_get_a_removal_proposal(accounts: Accounts) -> None:
    dormant = accounts["dormant@contoso.com"]
    assert dormant.dormant and dormant.successful_sign_ins == 0
    assert dormant.failures == 1 and dormant.last_successful_sign_in is None
    assert dormant.proposal == ["remove the eligibility for Global Administrator"]
    never = accounts["never@contoso.com"]
    assert never.dormant and never.sign_ins == 0
    assert never.attention == ["dormant: no sign-in at all in the period"]
    assert [m.sign_ins for m in never.by_month] == [0, 0, 0]


def test_single_factor_and_legacy_protocol_exposures(accounts: Accounts) -> None:
    single = accounts["single@contoso.com"]
    assert single.single_factor_sign_ins == 66
    assert "require multifactor authentication for this account" in single.proposal
    imap = accounts["imap@contoso.com"]
    assert imap.legacy_protocol_sign_ins == 14
    assert imap.legacy_protocols == {"IMAP4": 14}
    assert imap.roles == [RoleHolding("Exchange Administrator", "group", "Tier-0 admins")]
    assert accounts["ordinary@contoso.com"].single_factor_sign_ins == 0


def test_order_puts_decisions_first() -> None:
    review = review_privileged(quarter(), PERIOD, HOLDINGS)
    order = [a.user_principal_name for a in review.accounts]
    assert order[:3] == ["anomaly@contoso.com", "dormant@contoso.com", "never@contoso.com"]
    assert set(order[3:5]) == {"imap@contoso.com", "single@contoso.com"}
    assert review.unreviewed == order


def test_weeks_cover_the_period_without_overlap() -> None:
    weeks = list(weeks_of(PERIOD))
    assert len(weeks) == 14 and weeks[0].start == PERIOD.start and weeks[-1].end == PERIOD.end
    assert all(a.end < b.start for a, b in pairwise(weeks))


def test_holdings_file_lines_and_refusals() -> None:
    found = parse_holdings("# admins\nA@x.com\na@x.com, Global Administrator, eligible\n"
                           "b@x.com, Exchange Administrator, group, Tier 0, EU\n")
    assert found == {"a@x.com": [RoleHolding("privileged role"),
                                 RoleHolding("Global Administrator", "eligible")],
                     "b@x.com": [RoleHolding("Exchange Administrator", "group", "Tier 0, EU")]}
    with pytest.raises(InputError, match=r"admins\.txt:2: 'permanent' is not one of"):
        parse_holdings("a@x.com\nb@x.com, Global Administrator, permanent\n", "admins.txt")


def test_analyze_privileged_review_writes_the_documented_json(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "signins.json"
    export.write_bytes(msgspec.json.encode({"value": quarter()}))
    admins = tmp_path / "admins.txt"
    admins.write_text("".join(f"{upn}, {h[0].role}, {h[0].assignment}"
                              f"{', ' + h[0].via if h[0].via else ''}\n"
                              for upn, h in HOLDINGS.items()))
    out = tmp_path / "review.json"
    code = main(["analyze", str(export), "--privileged-review", "--privileged", str(admins),
                 "--window-start", "2026-07-01", "--window-end", "2026-09-30T23:59:59Z",
                 "--quiet", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    document = json.loads(out.read_text())
    accounts = document["privilegedReview"]["accounts"]
    assert len(accounts) == len(HOLDINGS)
    for field in ("userPrincipalName", "signIns", "successfulSignIns", "lastSuccessfulSignIn",
                  "dormant", "singleFactorSignIns", "legacyProtocolSignIns",
                  "unmanagedDeviceSignIns", "countries", "findings", "verdict"):
        assert all(field in a for a in accounts), field
    assert accounts[0]["userPrincipalName"] == "anomaly@contoso.com"
    assert [u["userPrincipalName"] for u in document["users"]] == ["anomaly@contoso.com"]
    assert "someone@contoso.com" not in out.read_text()
    for output in ("html", "csv"):
        assert main(["analyze", str(export), "--privileged-review", "--privileged", str(admins),
                     "--window-start", "2026-07-01", "--window-end", "2026-09-30T23:59:59Z",
                     "--quiet", "--output", output, "--out", str(tmp_path / output)]) == 0
        assert "dormant@contoso.com" in (tmp_path / output).read_text()


def test_analyze_privileged_review_needs_the_accounts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "signins.json"
    export.write_bytes(msgspec.json.encode({"value": quarter()[:3]}))
    assert main(["analyze", str(export), "--privileged-review", "--quiet"]) == 2
    assert "--privileged-review needs --privileged FILE" in capsys.readouterr().err


def test_roles_held_through_a_group_read_back_and_proposed_for_removal() -> None:
    """The directory read names a role held through a role-assignable group "via group <name>"
    (eligible or not); the review shows it so and proposes removing the membership."""
    from shared.graph.directory import via_group
    from shared.privileged.pipeline import holding

    active = holding(via_group("Global Administrator", "Tier-0 admins"))
    eligible = holding(via_group("Security Administrator", "Tier-0 (EU)", eligible=True))
    assert active == RoleHolding("Global Administrator", "group", via="Tier-0 admins")
    assert eligible == RoleHolding("Security Administrator", "eligible", via="Tier-0 (EU)")
    assert holding("Exchange Administrator (eligible)") == RoleHolding(
        "Exchange Administrator", "eligible")
    assert holding("Exchange Administrator") == RoleHolding("Exchange Administrator")
    review = review_privileged([], PERIOD, {"idle@contoso.com": [active, eligible]})
    named = review_privileged([], PERIOD, {"5c0ffee0-0000-4000-8000-000000000001": [active]},
                              names={"5c0ffee0-0000-4000-8000-000000000001": "idle@contoso.com"})
    assert named.accounts[0].user_principal_name == "idle@contoso.com"  # no sign-in names it
    assert review.accounts[0].proposal == [
        "remove the membership of group Tier-0 admins granting Global Administrator",
        "remove the membership of group Tier-0 (EU) granting eligibility for "
        "Security Administrator"]


def test_sample_tenant_quarter_matches_its_ground_truth() -> None:
    """The demo's quarter (local/tenant/quarter.py) reviewed from its rows alone, as the run does
    from the evidence bundles: the planted accounts come out as planted, the ordinary ones with
    nothing to decide."""
    from local.demo_privileged import ground_truth_problems
    from local.tenant import generate

    tenant = generate(users=60, seed=7, privileged_quarter=True)
    quarter = tenant.privileged_quarter
    assert quarter is not None and (quarter.start.month, quarter.end.month) == (10, 12)
    rows = [msgspec.convert(r, SignIn) for r in tenant.sign_ins
            if r["userId"] in tenant.quarter_truth]
    holdings = {user: [RoleHolding("role", "group", via=truth.via_group) if truth.via_group
                       else RoleHolding("role")] for user, truth in tenant.quarter_truth.items()}
    review = review_privileged([s for s in rows if s.created_date_time <= quarter.end], quarter,
                               holdings)
    assert ground_truth_problems(review, tenant) == []
    grouped = [a for a in review.accounts if a.user_id in tenant.groups[0]["_members"]]
    assert len(grouped) == 1 and not grouped[0].dormant and grouped[0].proposal == ["keep"]
    assert tenant.groups[0]["isAssignableToRole"] is True
    ordinary = [a for a in review.accounts
                if tenant.quarter_truth[a.user_id].scenario == "ordinary_admin"]
    assert len(ordinary) == 4 and all(a.proposal == ["keep"] for a in ordinary)
    assert len(tenant.role_eligibilities) == 1 and len(tenant.users) == 65
