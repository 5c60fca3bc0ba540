"""The Entra portal's sign-in download (Sign-in logs > Download > CSV).

About 56 columns named for people (`Date (UTC)`, `Request ID`, `Username`, `IP address`,
`Location` as "City, State, Country", `Status` as Success / Failure / Interrupted, `Sign-in error
code`, ...); headers are matched after trimming and collapsing spaces, case-insensitively
(`Application ID ` has a trailing space, `Autonomous system  number` two inner ones). Older
downloads have `CreatedDateTime`, `City`, `State`, `Country` columns and locale dates. There are no
coordinates: the gazetteer places the city (see shared.geo). The portal's JSON download is Graph's
signIn objects and is read by the Graph reader.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from shared.imports.dates import DateOrder, parse_sign_in_time
from shared.imports.records import RowError, error_code_of, sign_in_from_fields
from shared.model import SignIn

TIME_COLUMNS = ("date (utc)", "createddatetime", "date")

_PLAIN = {  # lower-cased portal column -> Graph signIn field
    "request id": "id",
    "user id": "userId",
    "username": "userPrincipalName",
    "user": "userDisplayName",
    "application id": "appId",
    "application": "appDisplayName",
    "ip address": "ipAddress",
    "client app": "clientAppUsed",
    "correlation id": "correlationId",
    "user agent": "userAgent",
    "autonomous system number": "autonomousSystemNumber",
}
_DEVICE = {
    "device id": "deviceId",
    "browser": "browser",
    "operating system": "operatingSystem",
    "compliant": "isCompliant",
    "managed": "isManaged",
    "join type": "trustType",
}
_WORDS = {  # the portal's display words -> Graph's enum values
    "conditional access": {"success": "success", "failure": "failure", "not applied": "notApplied"},
    "authentication requirement": {
        "single-factor authentication": "singleFactorAuthentication",
        "multifactor authentication": "multiFactorAuthentication",
        "multi-factor authentication": "multiFactorAuthentication",
    },
}
_FIELD_OF_WORDS = {
    "conditional access": "conditionalAccessStatus",
    "authentication requirement": "authenticationRequirement",
}
_EVENT_TYPE_OF_FILE = {  # download file name prefix -> (event type, interactive)
    "interactivesignins": ("interactiveUser", True),
    "noninteractivesignins": ("nonInteractiveUser", False),
}


def sign_in_from_row(
    row: dict[str, str], fallback_id: str, order: DateOrder | None, file_name: str = "",
    aside: Counter[str] | None = None,
) -> SignIn:
    """One portal CSV row (keys: lower-cased canonical headers) -> SignIn."""
    fields: dict[str, Any] = {field: row[col] for col, field in _PLAIN.items() if row.get(col)}
    fields.setdefault("id", fallback_id)
    fields["createdDateTime"] = _sign_in_time(row, order)
    fields["status"] = _status(row)
    device = {field: _yes_no(row[col]) for col, field in _DEVICE.items() if row.get(col)}
    if device:
        fields["deviceDetail"] = device
    location = _location(row)
    if location:
        fields["location"] = location
    for column, words in _WORDS.items():
        text = (row.get(column) or "").strip().lower()
        if text:
            fields[_FIELD_OF_WORDS[column]] = words.get(text, text)
    prefix = file_name.rsplit("/", 1)[-1].split("_", 1)[0].lower()
    if prefix in _EVENT_TYPE_OF_FILE:
        event_type, interactive = _EVENT_TYPE_OF_FILE[prefix]
        fields["signInEventTypes"] = [event_type]
        fields.setdefault("isInteractive", interactive)
    return sign_in_from_fields(fields, aside)


def _sign_in_time(row: dict[str, str], order: DateOrder | None) -> Any:
    for column in TIME_COLUMNS:
        if row.get(column):
            return parse_sign_in_time(row[column], order)
    raise RowError("no sign-in time (Date (UTC))", reason="no sign-in time")


def _status(row: dict[str, str]) -> dict[str, Any]:
    outcome = (row.get("status") or "").strip().lower()
    code = error_code_of(row.get("sign-in error code"), "Sign-in error code")
    if code is None:
        if outcome != "success":
            raise RowError(f"status {outcome or 'missing'!r} without a sign-in error code",
                           reason="no result code")
        code = 0
    status: dict[str, Any] = {"errorCode": code}
    if row.get("failure reason"):
        status["failureReason"] = row["failure reason"]
    if row.get("additional details"):
        status["additionalDetails"] = row["additional details"]
    return status


def _location(row: dict[str, str]) -> dict[str, str]:
    if row.get("location"):
        parts = [part.strip() for part in row["location"].split(",")]
        city, state, country = split_location(parts)
    else:
        city, state = row.get("city", ""), row.get("state", "")
        country = row.get("country") or row.get("country/region") or ""
    found = {"city": city, "state": state, "countryOrRegion": country}
    return {key: value.strip() for key, value in found.items() if value and value.strip()}


def split_location(parts: list[str]) -> tuple[str, str, str]:
    """ "City, State, Country" -> its three parts; fewer parts keep the country last."""
    parts = [part for part in parts if part]
    if not parts:
        return "", "", ""
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return parts[0], "", parts[1]
    return ", ".join(parts[:-2]), parts[-2], parts[-1]


def _yes_no(text: str) -> str:
    lowered = text.strip().lower()
    return {"yes": "true", "no": "false"}.get(lowered, text.strip())
