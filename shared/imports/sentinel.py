"""Log Analytics `SigninLogs` rows (what Microsoft Sentinel exports), as CSV or JSON.

CSV exports start with a BOM, name time columns `TimeGenerated [UTC]`, split dynamic columns
into `X_dynamic` / `X_string` twins (the CSV reader merges them), write nested objects as JSON
text and dates US-style ("4/28/2021, 2:08:45.221 PM"). JSON exports carry nested objects either
as objects or as JSON text. `ResultType` is the error code as text.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from shared.imports.dates import DateOrder, parse_sign_in_time
from shared.imports.records import (
    SIGN_IN_EVENT_TYPES,
    RowError,
    error_code_of,
    nested_value,
    sign_in_from_fields,
)
from shared.model import SignIn

# Log Analytics dates are written by the en-US formatter unless a file proves otherwise.
DEFAULT_DATE_ORDER: DateOrder = "month-first"
TIME_COLUMNS = ("CreatedDateTime", "TimeGenerated")

_PLAIN = {  # SigninLogs column -> Graph signIn field
    "Id": "id",
    "UserId": "userId",
    "UserPrincipalName": "userPrincipalName",
    "UserDisplayName": "userDisplayName",
    "AppId": "appId",
    "AppDisplayName": "appDisplayName",
    "IPAddress": "ipAddress",
    "ClientAppUsed": "clientAppUsed",
    "IsInteractive": "isInteractive",
    "ConditionalAccessStatus": "conditionalAccessStatus",
    "RiskLevelDuringSignIn": "riskLevelDuringSignIn",
    "RiskLevelAggregated": "riskLevelAggregated",
    "RiskState": "riskState",
    "CorrelationId": "correlationId",
    "AutonomousSystemNumber": "autonomousSystemNumber",
    "UserAgent": "userAgent",
    "AuthenticationRequirement": "authenticationRequirement",
    "AuthenticationProtocol": "authenticationProtocol",
    "OriginalTransferMethod": "originalTransferMethod",
}
_NESTED = {
    "Status": "status",
    "DeviceDetail": "deviceDetail",
    "LocationDetails": "location",
    "RiskEventTypes_V2": "riskEventTypes_v2",
    "RiskEventTypes": "riskEventTypes",  # older tables; read where _V2 is absent (records.py)
}


def sign_in_from_row(row: dict[str, Any], fallback_id: str, order: DateOrder | None,
                     aside: Counter[str] | None = None) -> SignIn:
    """One SigninLogs row (keyed by column name, CSV twins merged) -> SignIn."""
    fields: dict[str, Any] = {
        field: row[column] for column, field in _PLAIN.items() if row.get(column) not in (None, "")
    }
    for column, field in _NESTED.items():
        value = nested_value(row.get(column), column)
        if value not in (None, "", {}, []):
            fields[field] = value
    fields.setdefault("id", row.get("OriginalRequestId") or fallback_id)
    fields["createdDateTime"] = _sign_in_time(row, order)
    fields["status"] = _status(row, fields.get("status"))
    event_type = SIGN_IN_EVENT_TYPES.get(str(row.get("Category") or row.get("Type") or "").lower())
    if event_type:
        fields["signInEventTypes"] = [event_type]
    return sign_in_from_fields(fields, aside)


def _sign_in_time(row: dict[str, Any], order: DateOrder | None) -> Any:
    for column in TIME_COLUMNS:
        value = row.get(column)
        if value:
            return parse_sign_in_time(value, order) if isinstance(value, str) else value
    # Some exports drop the time columns; the first authentication step still carries one.
    steps = nested_value(row.get("AuthenticationDetails"), "AuthenticationDetails")
    if isinstance(steps, list) and steps and isinstance(steps[0], dict):
        step_time = steps[0].get("authenticationStepDateTime")
        if isinstance(step_time, str) and step_time:
            return parse_sign_in_time(step_time, order)
    raise RowError("no sign-in time (CreatedDateTime, TimeGenerated or AuthenticationDetails)",
                   reason="no sign-in time")


def _status(row: dict[str, Any], status: Any) -> dict[str, Any]:
    if status is not None and not isinstance(status, dict):
        raise RowError("Status is not an object")
    fixed: dict[str, Any] = dict(status or {})
    if fixed.get("errorCode") in (None, ""):
        code = error_code_of(row.get("ResultType"), "ResultType")
        if code is None:
            raise RowError("no error code (Status.errorCode or ResultType)",
                           reason="no result code")
        fixed["errorCode"] = code
    if not fixed.get("failureReason") and row.get("ResultDescription"):
        fixed["failureReason"] = row["ResultDescription"]
    return fixed
