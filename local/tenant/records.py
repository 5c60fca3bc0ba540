"""Graph signIn records, built fast: one dict per sign-in, nested parts shared where they repeat.

A million sign-ins must build in seconds, so a record is one dict literal; the nested `location`,
`deviceDetail` and `status` objects come from small caches and are shared between records (read
them, never mutate them). Times are epoch seconds until they are written as Graph's
`createdDateTime` ("2025-03-15T10:04:31Z").
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from local.tenant.people import Device, Person
from local.tenant.places import App, City

FAILURE_REASONS: dict[int, str] = {
    0: "Other.",
    50126: "Error validating credentials due to invalid username or password.",
    50053: "The account is locked, you've tried to sign in too many times with an incorrect user"
           " ID or password.",
    50057: "The user account is disabled.",
    50074: "Strong Authentication is required.",
    50076: "Due to a configuration change made by your administrator, or because you moved to a"
           " new location, you must use multi-factor authentication to access the resource.",
    50140: "This error occurred due to 'Keep me signed in' interrupt when the user was signing"
           " in.",
    500121: "Authentication failed during strong authentication request.",
    65001: "The user or administrator has not consented to use the application with ID '{app}'."
           " Send an interactive authorization request for this user and resource.",
}
ADDITIONAL_DETAILS: dict[int, str] = {
    0: "MFA requirement satisfied by claim in the token",
    50074: "MFA required in Azure AD",
    50140: "Keep me signed in interrupt",
}

EMPTY_LOCATION: dict[str, object] = {}
NULL_LOCATION: dict[str, object] = {
    "city": None, "state": None, "countryOrRegion": None,
    "geoCoordinates": {"altitude": None, "latitude": None, "longitude": None},
}


class SignInLog:
    """Collects one tenant's sign-in dicts; every id comes from the seeded RNG."""

    def __init__(self, rng: random.Random) -> None:
        self.rows: list[dict[str, object]] = []
        self._bits = rng.getrandbits
        self._days: dict[int, str] = {}
        self._locations: dict[str, dict[str, object]] = {}
        self._statuses: dict[tuple[int, str | None, str], dict[str, object]] = {}

    def guid(self) -> str:
        h = f"{self._bits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"

    def iso(self, at: int) -> str:
        """Epoch seconds as Graph writes createdDateTime."""
        day, secs = divmod(at, 86400)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%dT")
            self._days[day] = prefix
        hours, rest = divmod(secs, 3600)
        return f"{prefix}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}Z"

    def location(self, city: City) -> dict[str, object]:
        loc = self._locations.get(city.name)
        if loc is None:
            loc = {"city": city.name, "state": city.state, "countryOrRegion": city.country,
                   "geoCoordinates": {"altitude": None, "latitude": city.latitude,
                                      "longitude": city.longitude}}
            self._locations[city.name] = loc
        return loc

    def status(self, code: int, details: str | None, app: App) -> dict[str, object]:
        key = (code, details, app.app_id)
        status = self._statuses.get(key)
        if status is None:
            reason = FAILURE_REASONS.get(code, "Other.").replace("{app}", app.app_id)
            if details is None:
                details = ADDITIONAL_DETAILS.get(code)
            status = {"errorCode": code, "failureReason": reason, "additionalDetails": details}
            self._statuses[key] = status
        return status

    def add(
        self, person: Person, at: int, *, app: App, ip: str, asn: int,
        location: dict[str, object], device: Device | None, interactive: bool = True,
        code: int = 0, details: str | None = None, mfa: bool = False,
        correlation: str | None = None, risk: tuple[str, str, str, list[str]] | None = None,
        user_agent: str | None = None,
    ) -> dict[str, object]:
        """Append one sign-in and return it (callers may keep its id)."""
        detail = device.detail if device is not None else _NO_DEVICE
        agent = user_agent or (device.user_agent if device is not None else "")
        during, aggregated, state, events = risk or ("none", "none", "none", [])
        row: dict[str, object] = {
            "id": self.guid(),
            "createdDateTime": self.iso(at),
            "userDisplayName": person.display_name,
            "userPrincipalName": person.upn,
            "userId": person.id,
            "appId": app.app_id,
            "appDisplayName": app.name,
            "ipAddress": ip,
            "clientAppUsed": app.client_app,
            "correlationId": correlation or self.guid(),
            "conditionalAccessStatus": "success" if mfa and code == 0 else "notApplied",
            "isInteractive": interactive,
            "riskDetail": "none",
            "riskLevelAggregated": aggregated,
            "riskLevelDuringSignIn": during,
            "riskState": state,
            "riskEventTypes_v2": list(events),
            "resourceDisplayName": app.name,
            "status": self.status(code, details, app),
            "deviceDetail": detail,
            "location": location,
            "autonomousSystemNumber": asn,
            "userAgent": agent,
            "signInEventTypes": ["interactiveUser" if interactive else "nonInteractiveUser"],
            "authenticationRequirement": ("multiFactorAuthentication" if mfa
                                          else "singleFactorAuthentication"),
            "userType": "member",
        }
        self.rows.append(row)
        return row


_NO_DEVICE: dict[str, object] = {
    "deviceId": "", "displayName": "", "operatingSystem": "Windows10", "browser": "Chrome 122.0.0",
    "isCompliant": False, "isManaged": False, "trustType": "",
}


def attacker_device(operating_system: str, browser: str, user_agent: str | None = None) -> Device:
    """An unregistered device: no device id, not managed, as attackers' browsers show."""
    detail = {"deviceId": "", "displayName": "", "operatingSystem": operating_system,
              "browser": browser, "isCompliant": False, "isManaged": False, "trustType": ""}
    agents = {
        "Linux": "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
        "Windows10": ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like"
                      " Gecko) Chrome/121.0.0.0 Safari/537.36"),
    }
    return Device(detail, user_agent or agents.get(operating_system, "python-requests/2.31.0"))


_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}  # RFC 4122 variant
