"""Azure Monitor diagnostic records of sign-ins (Event Hub or storage account exports).

An envelope (`time`, `resourceId`, `operationName`, `category`, `resultType`, `callerIpAddress`,
...) around Graph-like `properties`; pipelines lower-case the envelope keys, write times like
"2023-07-26 22:58:30.983201900", and sometimes a word ("Success") for `resultType`. Files are
JSON lines, a JSON array, or `{"records": [...]}`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from shared.imports.records import (
    SIGN_IN_EVENT_TYPES,
    RowError,
    error_code_of,
    nested_value,
    sign_in_from_fields,
)
from shared.model import SignIn


def sign_in_from_record(record: dict[str, Any], fallback_id: str,
                        aside: Counter[str] | None = None) -> SignIn:
    """One diagnostic record -> SignIn; the properties win over the envelope where both say."""
    envelope = {key.lower(): value for key, value in record.items()}
    properties = nested_value(envelope.get("properties"), "properties")
    if not isinstance(properties, dict):
        raise RowError("no properties object")
    fields = dict(properties)
    _default(fields, "id", properties.get("originalRequestId") or fallback_id)
    _default(fields, "createdDateTime", envelope.get("time"))
    if not fields.get("createdDateTime"):
        raise RowError("no sign-in time (properties.createdDateTime or time)",
                       reason="no sign-in time")
    _default(fields, "ipAddress", envelope.get("calleripaddress"))
    _default(fields, "correlationId", envelope.get("correlationid"))
    fields["status"] = _status(fields.get("status"), envelope.get("resulttype"))
    event_type = SIGN_IN_EVENT_TYPES.get(str(envelope.get("category") or "").lower())
    if event_type and not fields.get("signInEventTypes"):
        fields["signInEventTypes"] = [event_type]
    return sign_in_from_fields(fields, aside)


def _default(fields: dict[str, Any], name: str, value: Any) -> None:
    if fields.get(name) in (None, "") and value not in (None, ""):
        fields[name] = value


def _status(status: Any, result_type: Any) -> dict[str, Any]:
    if status is not None and not isinstance(status, dict):
        raise RowError("properties.status is not an object")
    fixed: dict[str, Any] = dict(status or {})
    if fixed.get("errorCode") in (None, ""):
        code = error_code_of(result_type, "resultType")
        if code is None:
            raise RowError("no error code (properties.status.errorCode or resultType)",
                           reason="no result code")
        fixed["errorCode"] = code
    return fixed
