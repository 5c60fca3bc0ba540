"""A realistic review, built by hand, for the report tests (and the browser test).

A weekend window: a privileged admin whose session is taken over from abroad after an MFA
fatigue run, a user brute-forced from a hosting network, a user sprayed without success, an
off-hours worker, and quiet users whose carrier IPs churn inside one country.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from shared.model import (
    DataSource,
    DeviceDetail,
    Finding,
    GeoCoordinates,
    Location,
    ReviewResult,
    RiskDetection,
    SignIn,
    SprayingSource,
    Status,
    TenantSummary,
    UserStats,
    UserVerdict,
    Window,
)
from shared.risk_inventory import RiskySignIns

START = datetime(2025, 3, 7, 18, 0, tzinfo=UTC)
END = datetime(2025, 3, 10, 6, 0, tzinfo=UTC)

PLACES = {
    "seattle": ("Seattle", "Washington", "US", 47.61, -122.33),
    "redmond": ("Redmond", "Washington", "US", 47.67, -122.12),
    "portland": ("Portland", "Oregon", "US", 45.52, -122.68),
    "lagos": ("Lagos", "Lagos", "NG", 6.45, 3.39),
    "amsterdam": ("Amsterdam", "North Holland", "NL", 52.37, 4.90),
    "chicago": ("Chicago", "Illinois", "US", 41.88, -87.63),
    "nowhere": (None, None, None, None, None),
}

_counter = iter(range(1, 100_000))


def sign_in(user: str, at: datetime, place: str, ip: str, *, code: int = 0, asn: int = 8075,
            app: str = "Office 365 Exchange Online", detail: str | None = None,
            reason: str | None = None, device: str | None = "ALICE-LAPTOP",
            os: str = "Windows 10", browser: str = "Edge 122.0.0",
            agent: str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edg/122.0",
            risk: str = "none", display: str | None = None, risk_state: str = "none",
            risk_types: tuple[str, ...] = ()) -> SignIn:
    city, state, country, lat, lon = PLACES[place]
    geo = GeoCoordinates(latitude=lat, longitude=lon) if lat is not None else None
    return SignIn(
        id=f"si-{next(_counter):05d}", created_date_time=at, user_id=f"id-{user}",
        user_principal_name=f"{user}@contoso.com", user_display_name=display or user.title(),
        app_display_name=app, ip_address=ip, client_app_used="Browser", is_interactive=True,
        status=Status(error_code=code, failure_reason=reason, additional_details=detail),
        device_detail=DeviceDetail(display_name=device, operating_system=os, browser=browser),
        location=Location(city=city, state=state, country_or_region=country, geo_coordinates=geo),
        autonomous_system_number=asn, user_agent=agent, risk_level_during_sign_in=risk,
        risk_state=risk_state, risk_event_types_v2=list(risk_types),
    )


def _alice() -> list[SignIn]:
    t = START + timedelta(hours=2)
    rows = [sign_in("alice", t + timedelta(hours=h), "seattle", "198.51.100.7", asn=7922)
            for h in (0, 1, 14, 15)]
    fatigue = START + timedelta(hours=30)
    rows += [sign_in("alice", fatigue + timedelta(minutes=m), "lagos", "102.89.3.14",
                     code=500121, asn=29465, device=None, os="Linux", browser="Chrome 121",
                     agent="python-requests/2.31", reason="Authentication failed during strong "
                     "authentication request.", detail="MFA denied; user did not respond")
             for m in range(0, 16, 2)]
    rows.append(sign_in("alice", fatigue + timedelta(minutes=17), "lagos", "102.89.3.14",
                        asn=29465, device=None, os="Linux", browser="Chrome 121",
                        agent="python-requests/2.31", risk="high", risk_state="atRisk",
                        risk_types=("unfamiliarFeatures",)))
    rows.append(sign_in("alice", fatigue + timedelta(hours=3), "seattle", "198.51.100.7",
                        asn=7922, code=50140, reason="Keep me signed in interrupt"))
    return rows


def _bob() -> list[SignIn]:
    t = START + timedelta(hours=20)
    rows = [sign_in("bob", t - timedelta(hours=6), "chicago", "192.0.2.33", asn=7018,
                    device="BOB-PC", app="Microsoft Teams")]
    rows += [sign_in("bob", t + timedelta(minutes=m), "amsterdam", "185.220.101.4", code=50126,
                     asn=60729, device=None, os="Linux", browser="Firefox 115",
                     reason="Invalid username or password or Invalid on-premise username or "
                     "password.", app="Azure Portal") for m in range(0, 14)]
    rows.append(sign_in("bob", t + timedelta(minutes=15), "amsterdam", "185.220.101.4",
                        code=50053, asn=60729, device=None, app="Azure Portal",
                        reason="Account is locked because user tried to sign in too many times."))
    return rows


def _carol() -> list[SignIn]:
    t = START + timedelta(hours=40)
    return [sign_in("carol", t + timedelta(minutes=m), "nowhere", "203.0.113.50", code=50126,
                    asn=9009, device=None, app="Office 365 Exchange Online",
                    reason="Invalid username or password.") for m in (0, 7, 13)] + [
        sign_in("carol", t + timedelta(hours=10), "portland", "192.0.2.90", device="CAROL-MAC",
                os="MacOs", browser="Safari 17")]


def _dave() -> list[SignIn]:
    t = START + timedelta(hours=33)  # a Sunday, 03:00 UTC
    return [sign_in("dave", t + timedelta(minutes=m), "redmond", "198.51.100.23", asn=7922,
                    device="DAVE-WS", app="Azure DevOps") for m in (0, 20, 45)]


def _quiet(user: str) -> Iterator[SignIn]:
    """A phone on a carrier network; erin's Saturday refresh was rated low risk, then dismissed,
    and frank's tenant licence hides risk levels on one sign-in."""
    for hour in range(0, 60, 9):
        place = ("seattle", "portland", "redmond")[hour % 3]
        risk = {("erin", 18): ("low", "dismissed", ("unfamiliarFeatures",)),
                ("frank", 27): ("hidden", "none", ())}.get((user, hour), ("none", "none", ()))
        yield sign_in(user, START + timedelta(hours=hour, minutes=13), place,
                      f"172.56.{hour}.{len(user)}", asn=21928, device=f"{user.upper()}-PHONE",
                      os="iOS 17", browser="Mobile Safari", app="Outlook Mobile",
                      risk=risk[0], risk_state=risk[1], risk_types=risk[2])


def sample_timelines() -> dict[str, list[SignIn]]:
    people = {"alice": _alice(), "bob": _bob(), "carol": _carol(), "dave": _dave()}
    people.update({name: list(_quiet(name)) for name in ("erin", "frank", "grace")})
    return {f"id-{name}": sorted(rows, key=lambda s: s.created_date_time)
            for name, rows in people.items()}


def _stats(rows: list[SignIn]) -> UserStats:
    return UserStats(sign_ins=len(rows), failures=sum(s.error_code not in (0, 50140) for s in rows),
                     countries=sorted({s.country for s in rows if s.country}),
                     ips=len({s.ip_address for s in rows}),
                     devices=len({s.device_detail.display_name for s in rows if s.device_detail}))


def _ids(rows: list[SignIn], code: int | None = None, ip: str | None = None) -> list[str]:
    return [s.id for s in rows if (code is None or s.error_code == code)
            and (ip is None or s.ip_address == ip)]


def sample_verdicts(timelines: dict[str, list[SignIn]]) -> list[UserVerdict]:
    a, b, c, d = (timelines[f"id-{n}"] for n in ("alice", "bob", "carol", "dave"))
    lagos = _ids(a, ip="102.89.3.14")
    return [
        UserVerdict("id-alice", "alice@contoso.com", "high", True, [
            Finding("mfa_fatigue", "high", "8 MFA prompts denied or unanswered in 15 minutes "
                    "from Lagos, NG, followed by a successful sign-in.", lagos, got_in=True),
            Finding("impossible_travel", "high", "Seattle, US to Lagos, NG (12,000 km) in 13 hours "
                    "needs about 920 km/h.", [_ids(a)[3], lagos[0]], got_in=True),
            Finding("risky_sign_in", "high", "Identity Protection rated a sign-in high risk.",
                    [lagos[-1]], got_in=True),
        ], ["Someone in Lagos, NG signed in as this Global Administrator after 8 unanswered MFA "
            "prompts (sign-ins F1).", "The move from Seattle needs an implausible speed (F2)."],
            _stats(a), got_in=True,
            proposed_actions=["revokeSessions", "resetPassword", "confirmCompromised"]),
        UserVerdict("id-bob", "bob@contoso.com", "medium", False, [
            Finding("repeated_failures", "medium", "15 credential failures in 15 minutes from "
                    "185.220.101.4 (AS60729), ending in a Smart Lockout.",
                    _ids(b, ip="185.220.101.4")),
            Finding("unfamiliar_location", "low", "Country NL never seen for this user.",
                    _ids(b, ip="185.220.101.4")[:1]),
        ], ["A brute-force attempt is in progress from a hosting network; no attempt "
            "succeeded."], _stats(b), proposed_actions=["investigate"]),
        UserVerdict("id-carol", "carol@contoso.com", "low", False, [
            Finding("password_spray", "low", "One of 14 accounts failed from 203.0.113.50 in "
                    "20 minutes.", _ids(c, ip="203.0.113.50")),
        ], ["Targeted by a password spray that never worked."], _stats(c), thin_baseline=True),
        UserVerdict("id-dave", "dave@contoso.com", "low", False, [
            Finding("off_hours", "low", "Successful sign-ins at 03:00 UTC on a Sunday, an hour "
                    "this user is not usually active.", _ids(d)),
        ], ["Off-hours activity on a known device and network."], _stats(d)),
    ] + [UserVerdict(f"id-{n}", f"{n}@contoso.com", "none", False, [], [],
                     _stats(timelines[f"id-{n}"])) for n in ("erin", "frank", "grace")]


def sample_detections(timelines: dict[str, list[SignIn]]) -> list[RiskDetection]:
    """Alice's risky sign-in as a detection, and leaked credentials for someone who did not sign
    in during the window (found offline, a day late)."""
    risky_alice = next(s for s in timelines["id-alice"] if s.risk_level_during_sign_in == "high")
    leak = START + timedelta(hours=26)
    return [
        RiskDetection("det-1", "unfamiliarFeatures", "high", "atRisk",
                      detection_timing_type="realtime",
                      activity_date_time=risky_alice.created_date_time,
                      detected_date_time=risky_alice.created_date_time,
                      ip_address=risky_alice.ip_address, location=risky_alice.location,
                      request_id=risky_alice.id, user_id="id-alice",
                      user_principal_name="alice@contoso.com"),
        RiskDetection("det-2", "leakedCredentials", "high", "atRisk",
                      detection_timing_type="offline", activity_date_time=leak,
                      detected_date_time=leak + timedelta(hours=24), user_id="id-hal",
                      user_principal_name="hal@contoso.com"),
    ]


def sample_review() -> tuple[ReviewResult, dict[str, list[SignIn]]]:
    timelines = sample_timelines()
    risky = RiskySignIns()
    for rows in timelines.values():
        risky.add_all(rows)
    result = ReviewResult(
        window=Window(START, END),
        tenant=TenantSummary(sign_ins=sum(map(len, timelines.values())) + 40, users=9,
                             spraying_sources=[SprayingSource("203.0.113.50", 14, 14, 0, 9009)]),
        users=sample_verdicts(timelines),
        sources=[
            DataSource("sign-ins (beta, interactive and non-interactive)", True),
            DataSource("Identity Protection risk detections", False,
                       "403 Forbidden: the tenant has no Entra ID P2 licence"),
            DataSource("privileged role assignments", True),
        ],
        risk_inventory=risky.inventory(sample_detections(timelines), Window(START, END)),
    )
    return result, timelines


def test_sample_review_is_consistent() -> None:
    result, timelines = sample_review()
    assert {u.user_id for u in result.users} == set(timelines)
    cited = {i for u in result.users for f in u.findings for i in f.sign_in_ids}
    known = {s.id for rows in timelines.values() for s in rows}
    assert cited <= known
