"""Baseline profiles: what they learn, what they ignore, how small they stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.baseline import (
    CAPS,
    BaselineProfile,
    build_profile,
    hour_of_week,
    is_thin,
    network_prefix,
    update_profile,
)
from shared.model import DeviceDetail, Location, SignIn, Status
from tests.unit.detect_sequences import expand

HISTORY = [
    {"at": "2025-02-03T09:00", "place": "London", "ip": "81.2.69.160", "asn": 5089,
     "device": "d1", "os": "Windows 10", "browser": "Edge 120.0.1", "repeat": 30,
     "every_minutes": 1440},
    {"at": "2025-02-03T10:00", "place": "Moscow", "ip": "95.165.1.1", "code": 50126,
     "repeat": 10},
]


def test_learns_only_from_successful_sign_ins():
    profile = build_profile(expand(HISTORY, "h"))
    assert profile.sign_ins == 30
    assert profile.countries == {"GB": 30}
    assert profile.cities == {"London, GB": 30}
    assert profile.networks == {5089: 30}
    assert profile.prefixes == {"81.2.69.0/24": 30}
    assert profile.devices == {"d1": 30}
    assert profile.platforms == {"Windows 10|Edge": 30}
    assert sum(profile.hours) == profile.interactive == 30
    assert profile.first_seen == datetime(2025, 2, 3, 9, tzinfo=UTC)
    assert profile.last_seen == datetime(2025, 3, 4, 9, tzinfo=UTC)
    assert not is_thin(profile)


def test_prefixes_and_hours():
    assert network_prefix("81.2.69.160") == "81.2.69.0/24"
    assert network_prefix("2001:db8:abcd:12::1") == "2001:0db8:abcd::/48"
    assert network_prefix("not an ip") is None and network_prefix(None) is None
    assert hour_of_week(datetime(2025, 3, 10, 0, 30, tzinfo=UTC)) == 0  # Monday
    assert hour_of_week(datetime(2025, 3, 9, 23, 59, tzinfo=UTC)) == 167  # Sunday


def test_update_adds_without_touching_the_input():
    before = build_profile(expand(HISTORY, "h"))
    snapshot = msgspec.json.encode(before)
    later = expand([{"at": "2025-03-10T09:00", "place": "Madrid", "ip": "83.32.1.1",
                     "device": "d1", "repeat": 3}], "n")
    now = datetime(2025, 3, 11, tzinfo=UTC)
    after = update_profile(before, later, now)
    assert msgspec.json.encode(before) == snapshot
    assert after.countries == {"GB": 30, "ES": 3}
    assert after.devices == {"d1": 33}
    assert after.sign_ins == 33 and after.updated_at == now
    assert update_profile(None, later, now).sign_ins == 3


def test_thin_profiles():
    assert is_thin(None)
    assert is_thin(build_profile(expand(HISTORY[:1], "h")[:5]))
    assert is_thin(BaselineProfile(sign_ins=100))  # no dates
    short = expand([{"at": "2025-03-03T09:00", "place": "London", "repeat": 40,
                     "every_minutes": 60}], "h")
    assert is_thin(build_profile(short))  # many sign-ins, two days


def _noisy(count: int) -> list[SignIn]:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    return [
        SignIn(
            id=str(n), created_date_time=start + timedelta(minutes=37 * n), user_id="u",
            ip_address=f"{n % 251}.{n % 241}.{n % 239}.{n % 7}",
            autonomous_system_number=64000 + n,
            status=Status(error_code=0),
            location=Location(city=f"Town number {n}", country_or_region=f"C{n % 500}"),
            device_detail=DeviceDetail(device_id=f"{n:08d}-0000-0000-0000-000000000000",
                                       operating_system=f"OS {n}", browser=f"Browser{n} 1.0"),
        )
        for n in range(count)
    ]


def test_capped_well_under_a_table_property():
    profile = build_profile(_noisy(20_000))
    encoded = msgspec.json.encode(profile)
    assert len(encoded) < 16 * 1024  # a Table property holds 32 KB (64 KB as UTF-16 bytes)
    for name, cap in CAPS.items():
        assert len(getattr(profile, name)) <= cap
    assert msgspec.json.decode(encoded, type=BaselineProfile) == profile


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=3000), st.integers(min_value=0, max_value=3000))
def test_update_never_grows_past_the_caps(first, second):
    rows = _noisy(first + second)
    profile = update_profile(build_profile(rows[:first]), rows[first:], datetime.now(UTC))
    assert profile.sign_ins == first + second
    assert len(msgspec.json.encode(profile)) < 16 * 1024
