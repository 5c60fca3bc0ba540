"""The tenant baseline: users without a history are judged against where the tenant's users sign
in from, not against their own window (where any user's only sign-in is "new")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from shared.analysis import review
from shared.baseline import build_profile
from shared.detect.codes import is_prompt
from shared.detect.tenant_baseline import from_profiles, from_sign_ins
from shared.imports import read_paths
from shared.model import Location, SignIn, Status

PUBLIC = Path(__file__).resolve().parents[1] / "data" / "public"
MSTICNB = PUBLIC / "msticnb" / "aad_signin_random.jsonl"


def test_msticnb_nobody_is_flagged_for_interrupts_from_the_tenants_usual_country():
    """Nobody in this export has a history; 4 users' only sign-in is an MFA or device prompt
    (50155, 50097, 50074) from the country of 138 of the 300 rows. Judged against the tenant
    (learned from the window), they are not new anywhere; every readable row is still kept."""
    imported = read_paths([MSTICNB])
    assert len(imported.sign_ins) == 300 and imported.summary.rows_rejected == {}
    result = review(imported.sign_ins)
    by_user: dict[str, list[SignIn]] = {}
    for sign_in in imported.sign_ins:
        by_user.setdefault(sign_in.user_key, []).append(sign_in)
    usual = max({s.country for s in imported.sign_ins if s.country},
                key=lambda c: sum(s.country == c for s in imported.sign_ins))
    assert usual == "BM"
    interrupted = {user for user, rows in by_user.items()
                   if all(is_prompt(s.error_code) and s.country == usual for s in rows)}
    assert len(interrupted) == 4
    flagged = {u.user_id for u in result.users if u.verdict != "none"}
    assert not flagged & interrupted
    assert not flagged  # benign data; its few rare countries come without failures
    for verdict in result.users:  # whatever is flagged says it was judged against the tenant
        for finding in verdict.findings:
            if finding.type == "unfamiliar_location":
                assert "judged against the tenant's" in finding.summary


def _sign_in(n: int, user: str, country: str, hour: int, asn: int = 2856,
             code: int = 0) -> SignIn:
    return SignIn(id=f"s{n}", created_date_time=datetime(2025, 3, 3, hour, tzinfo=UTC)
                  + timedelta(days=n % 5), user_id=user, ip_address=f"81.2.{n % 250}.1",
                  status=Status(error_code=code), location=Location(country_or_region=country),
                  autonomous_system_number=asn, is_interactive=True)


def test_learned_from_profiles_or_sign_ins_alike():
    rows = [_sign_in(n, f"u{n % 6}", "GB" if n % 10 else "FR", 8 + n % 9) for n in range(60)]
    rows.append(_sign_in(99, "u1", "NG", 3, code=50126))  # a failure teaches nothing
    direct = from_sign_ins(rows, from_window=False)
    profiles = {}
    for user in {r.user_key for r in rows}:
        profiles[user] = build_profile([r for r in rows if r.user_key == user])
    aggregated = from_profiles(profiles.values())
    assert direct is not None and aggregated is not None
    assert direct.countries == aggregated.countries == {"GB": 54, "FR": 6}
    assert direct.hours == aggregated.hours and direct.users == aggregated.users == 6
    assert direct.usual_country("GB") and direct.usual_country("FR")
    assert direct.rare_country("NG") and not direct.rare_country("FR")
    assert direct.night(3) and not direct.night(12)


def test_too_small_a_tenant_has_no_baseline():
    rows = [_sign_in(n, f"u{n % 3}", "GB", 9) for n in range(40)]
    assert from_sign_ins(rows, from_window=True) is None  # three users do not speak for a tenant


def test_a_window_baseline_never_calls_an_hour_night():
    rows = [_sign_in(n, f"u{n % 6}", "GB", 9) for n in range(40)]
    tenant = from_sign_ins(rows, from_window=True)
    assert tenant is not None and not tenant.night(3)


def test_counted_through_uncapped_profiles_as_row_by_row():
    """The review counts a reviewed user's history into the tenant baseline through the profile
    it builds anyway (`TenantCounter.add_profile`): the same figures as counting the rows, with
    a user past every cap (45 countries, 70 networks), failures, non-interactive sign-ins, no
    location, and times written with an offset (hours are UTC either way)."""
    from datetime import timezone

    from shared.baseline import CAPS, uncapped_profile
    from shared.detect.tenant_baseline import TenantCounter

    countries = [f"C{n}" for n in range(45)]
    rows = [_sign_in(n, f"u{n % 7}", countries[n % 45], n % 24, asn=64500 + n % 70,
                     code=50126 if n % 11 == 0 else 0) for n in range(700)]
    rows += [SignIn(id="nl", created_date_time=datetime(2025, 3, 4, 9, tzinfo=UTC),
                    user_id="u1", status=Status())]
    rows += [msgspec.structs.replace(r, id=f"{r.id}-o", is_interactive=n % 2 == 0,
                                     created_date_time=r.created_date_time.astimezone(
                                         timezone(timedelta(hours=5, minutes=30))))
             for n, r in enumerate(rows[:90])]
    by_row, by_profile = TenantCounter(), TenantCounter()
    by_row.add_all(rows)
    for user in sorted({r.user_key for r in rows}):
        mine = [r for r in rows if r.user_key == user]
        profile = uncapped_profile(mine)
        assert len(profile.countries) > CAPS["countries"] or user != "u0"
        by_profile.add_profile(user, profile)
    by_profile.add_profile("nobody", uncapped_profile([rows[0]]))  # a failure only: no user
    assert by_profile.result(from_window=False) == by_row.result(from_window=False)
    assert sum(by_row.hours) and by_row.users == {f"u{n}" for n in range(7)}
