"""Named sign-in sequences for detection tests, read from tests/data/detect/<detection>.json.

A file holds {"cases": [...]}; a case has a name, a description, the user's `history` (before the
window: builds the baseline), `sign_ins` (the window), optional `tenant` (other users' window
sign-ins, for spray), `tenant_history` (other users' sign-ins before the window: with the user's
history, what the tenant-wide pass learns the users' own sources from), `tenant_baseline`
("history" or "window": what the tenant baseline is learned from; none without), `privileged`,
`risk_detections`, `risky_user`, `trusted` (Graph namedLocation objects), `holidays` (ISO dates),
`window_start` (else the first window sign-in), and `expect`: the findings (type and severity)
the detection must return, empty for benign sequences.

A sign-in is written short: {"at": "2025-03-08T10:00", "place": "London", "ip": "81.2.69.160",
"code": 50126, "agent": "python-requests/2.31", ...} ("client": clientAppUsed, "protocol":
authenticationProtocol, "transfer": originalTransferMethod, "app": the application); "repeat": N
with "every_minutes" makes N of them.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from shared.baseline import build_profile
from shared.detect.context import DetectionContext, DetectionSettings, tenant_signals
from shared.detect.tenant_baseline import TenantBaseline
from shared.detect.tenant_baseline import from_sign_ins as tenant_from_sign_ins
from shared.detect.trusted import from_named_locations
from shared.model import (
    DeviceDetail,
    GeoCoordinates,
    Location,
    RiskDetection,
    RiskyUser,
    SignIn,
    Status,
    Window,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "detect"
USER = "u1"

# name -> (country, latitude, longitude)
PLACES: dict[str, tuple[str, float, float]] = {
    "London": ("GB", 51.5074, -0.1278),
    "Reading": ("GB", 51.4543, -0.9781),
    "Manchester": ("GB", 53.4808, -2.2426),
    "Leeds": ("GB", 53.8008, -1.5491),
    "Glasgow": ("GB", 55.8642, -4.2518),
    "Bristol": ("GB", 51.4545, -2.5879),
    "Birmingham": ("GB", 52.4862, -1.8904),
    "Amsterdam": ("NL", 52.3676, 4.9041),
    "Madrid": ("ES", 40.4168, -3.7038),
    "Strasbourg": ("FR", 48.5734, 7.7521),
    "Kehl": ("DE", 48.5723, 7.8155),
    "New York": ("US", 40.7128, -74.0060),
    "Chicago": ("US", 41.8781, -87.6298),
    "Dallas": ("US", 32.7767, -96.7970),
    "Los Angeles": ("US", 34.0522, -118.2437),
    "Las Vegas": ("US", 36.1699, -115.1398),
    "Tel Aviv": ("IL", 32.0853, 34.7818),
    "Lagos": ("NG", 6.5244, 3.3792),
    "Moscow": ("RU", 55.7558, 37.6173),
    "Sydney": ("AU", -33.8688, 151.2093),
    "Sao Paulo": ("BR", -23.5505, -46.6333),
    "Pyongyang": ("KP", 39.0392, 125.7625),
    "Frankfurt": ("DE", 50.1109, 8.6821),
    "Singapore": ("SG", 1.3521, 103.8198),
    "Hanoi": ("VN", 21.0278, 105.8342),
    "Bucharest": ("RO", 44.4268, 26.1025),
    "Sao Paulo BR": ("BR", -23.5505, -46.6333),
}


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _location(spec: dict[str, Any]) -> Location | None:
    if spec.get("no_location"):
        return Location()
    name = spec.get("place")
    if name is None and "country" not in spec:
        return None
    country, lat, lon = PLACES[name] if name else (spec["country"], None, None)
    coordinates = None if spec.get("coarse") or lat is None else GeoCoordinates(lat, lon)
    city = None if spec.get("coarse") else name
    return Location(city=city, country_or_region=spec.get("country", country),
                    geo_coordinates=coordinates)


def make_sign_in(spec: dict[str, Any], sign_in_id: str, at: datetime) -> SignIn:
    user = spec.get("user", USER)
    device = None
    if any(key in spec for key in ("device", "os", "browser")):
        device = DeviceDetail(device_id=spec.get("device"), operating_system=spec.get("os"),
                              browser=spec.get("browser"))
    return SignIn(
        id=sign_in_id,
        created_date_time=at,
        user_id=user,
        user_principal_name=f"{user}@contoso.com",
        ip_address=spec.get("ip"),
        is_interactive=spec.get("interactive", True),
        status=Status(error_code=spec.get("code", 0), additional_details=spec.get("details")),
        device_detail=device,
        location=_location(spec),
        autonomous_system_number=spec.get("asn"),
        user_agent=spec.get("agent"),
        risk_level_during_sign_in=spec.get("risk"),
        risk_state=spec.get("risk_state"),
        risk_event_types_v2=spec.get("risk_types"),
        client_app_used=spec.get("client"),
        authentication_protocol=spec.get("protocol"),
        original_transfer_method=spec.get("transfer"),
        app_id=spec.get("app"),
        app_display_name=spec.get("app"),
    )


def expand(specs: list[dict[str, Any]], prefix: str) -> list[SignIn]:
    """Sign-ins from short specs; "repeat" copies a spec every "every_minutes" (weekdays only
    with "weekdays": true)."""
    made: list[SignIn] = []
    for spec in specs:
        at = _time(spec["at"])
        step = timedelta(minutes=spec.get("every_minutes", 1))
        remaining = spec.get("repeat", 1)
        while remaining:
            if not (spec.get("weekdays") and at.weekday() >= 5):
                made.append(make_sign_in(spec, f"{prefix}{len(made)}", at))
                remaining -= 1
            at += step
    made.sort(key=lambda s: s.created_date_time)
    return made


def cases(detection: str) -> list[dict[str, Any]]:
    document = json.loads((DATA / f"{detection}.json").read_text())
    found: list[dict[str, Any]] = document["cases"]
    return found


def build(case: dict[str, Any], settings: DetectionSettings | None = None
          ) -> tuple[list[SignIn], DetectionContext]:
    """The user's window sign-ins and the context a detection sees for a case."""
    settings = settings or DetectionSettings()
    history = expand(case.get("history", []), "h")
    sign_ins = expand(case["sign_ins"], "s")
    others = expand(case.get("tenant", []), "t")
    others_history = expand(case.get("tenant_history", []), "th")
    if "holidays" in case:
        holidays = frozenset(date.fromisoformat(day) for day in case["holidays"])
        settings = msgspec.structs.replace(settings, holidays=holidays)
    trusted = from_named_locations(case.get("trusted", []))
    start = _time(case["window_start"]) if "window_start" in case \
        else sign_ins[0].created_date_time
    window = Window(start=start, end=sign_ins[-1].created_date_time)
    return sign_ins, DetectionContext(
        window=window,
        baseline=build_profile(history) if history else None,
        privileged_roles=case.get("privileged", []),
        trusted=trusted,
        tenant=tenant_signals([*sign_ins, *others], settings, trusted,
                              history=[*history, *others_history]),
        tenant_baseline=_tenant_baseline(case, [*history, *others_history], [*sign_ins, *others]),
        risk_detections=msgspec.convert(case.get("risk_detections", []), list[RiskDetection]),
        risky_user=msgspec.convert(case["risky_user"], RiskyUser) if "risky_user" in case
        else None,
        settings=settings,
        user_id=USER,
    )


def _tenant_baseline(case: dict[str, Any], history: list[SignIn],
                     window: list[SignIn]) -> TenantBaseline | None:
    """The case's `tenant_baseline`: "history" (learned from the histories), "window" (from the
    window's sign-ins), or absent (none)."""
    if case.get("tenant_baseline") == "history":
        return tenant_from_sign_ins(history, from_window=False)
    if case.get("tenant_baseline") == "window":
        return tenant_from_sign_ins(window, from_window=True)
    return None


def outcome(findings: list[Any]) -> list[dict[str, str]]:
    return sorted(({"type": f.type, "severity": f.severity} for f in findings),
                  key=lambda f: (f["type"], f["severity"]))


def check(case: dict[str, Any], findings: list[Any], sign_ins: list[SignIn],
          context: DetectionContext) -> None:
    """The findings match the case's expectation and cite only sign-ins that exist."""
    assert outcome(findings) == sorted(
        case["expect"], key=lambda f: (f["type"], f["severity"])
    ), case["description"]
    known = {s.id for s in sign_ins} | {d.request_id for d in context.risk_detections}
    if context.baseline is not None and context.baseline.last_place is not None:
        known.add(context.baseline.last_place.id)  # the first leg of a hop into the window
    for finding in findings:
        assert set(finding.sign_in_ids) <= known
        assert finding.summary.endswith(".") and not finding.summary[0].islower()
        if "got_in" in case:
            assert finding.got_in is case["got_in"], finding.summary
        if "summary_contains" in case:
            assert case["summary_contains"] in finding.summary
