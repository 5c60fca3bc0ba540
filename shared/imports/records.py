"""Building `SignIn` records from Graph-named fields, whichever export they came from.

Every importer maps its columns to Graph's signIn field names (camelCase) and calls
`sign_in_from_fields`, which accepts what exports do to values (numbers and booleans written as
text, empty cells) and then `settle`s the record: times without a zone are UTC, country names
become ISO codes, coordinates out of range are dropped, and a location with a city but no
coordinates is placed with the gazetteer (city precision only: a country-level guess would make
distances look exact when they are not).
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from datetime import UTC
from functools import lru_cache
from typing import Any

import msgspec

from shared.geo import country_code, resolve_place
from shared.imports.dates import UnreadableTime
from shared.model import GeoCoordinates, Location, SignIn

# What a detection cannot do without: a row whose time or result cannot be read is rejected.
# (The user is checked after decoding: a row without one is a service principal, not an error.)
REQUIRED_FIELDS = frozenset({"id", "createdDateTime", "status"})
USER_FIELDS = ("userId", "userPrincipalName")
_AT_PATH = re.compile(r" - at `\$\.?([^`]*)`$")
_MISSING = re.compile(r"missing required field `([^`]+)`")
_MAX_SET_ASIDE = 64  # bounds the retries of one hostile row


def sign_in_from_fields(fields: dict[str, Any], aside: Counter[str] | None = None) -> SignIn:
    """Graph-named fields -> SignIn. An optional field that cannot be read (text where a number
    or a boolean belongs, an object that is not one) is set aside alone and counted in `aside`
    by its path; raises RowError when the time, the result or every user field is unreadable."""
    if isinstance(fields.get("createdDateTime"), int | float):  # lax mode would read epochs
        raise RowError("createdDateTime is a number, not a date and time",
                       reason="unreadable createdDateTime")
    cleaned = without_empty(fields)
    _read_old_risk_types(cleaned)
    _set_aside_bad_address(cleaned, aside)
    try:
        sign_in = msgspec.convert(cleaned, SignIn, strict=False)
    except msgspec.ValidationError as exc:
        sign_in = _convert_setting_aside(cleaned, exc, aside)
    return settle(sign_in)


def _read_old_risk_types(fields: dict[str, Any]) -> None:
    """Older exports (Sentinel and Azure Monitor before the _v2 column, Graph's deprecated
    field) carry the risk event types as `riskEventTypes` only: read them where `_v2` is absent
    (signIn resource: "riskEventTypes ... use riskEventTypes_v2 instead",
    https://learn.microsoft.com/en-us/graph/api/resources/signin)."""
    if "riskEventTypes_v2" not in fields and "riskEventTypes" in fields:
        fields["riskEventTypes_v2"] = fields["riskEventTypes"]


def _set_aside_bad_address(fields: dict[str, Any], aside: Counter[str] | None) -> None:
    """An ipAddress that is text but not an IPv4 or IPv6 address is an unreadable field: set
    aside (counted by field) like any other, its sign-in kept. (A non-text value is left to the
    conversion, which sets it aside the same way.)"""
    address = fields.get("ipAddress")
    if isinstance(address, str) and not is_ip_address(address):
        del fields["ipAddress"]
        if aside is not None:
            aside["ipAddress"] += 1


@lru_cache(maxsize=65536)
def is_ip_address(text: str) -> bool:
    """Whether `text` is an IPv4 or IPv6 address (cached: a tenant's addresses repeat)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def has_bad_address(sign_ins: list[SignIn]) -> bool:
    """Whether a sign-in decoded by the strict path holds an ipAddress that is not one (the
    reader then goes record by record, so it is set aside and counted)."""
    addresses = {s.ip_address for s in sign_ins}  # a tenant's addresses repeat: each once
    return any(address is not None and not is_ip_address(address) for address in addresses)


def _convert_setting_aside(fields: dict[str, Any], error: msgspec.ValidationError,
                           aside: Counter[str] | None) -> SignIn:
    """The lenient path, only for rows the strict conversion refused: drop the field msgspec
    names, retry, until the record converts or a field a detection needs is the one at fault."""
    set_aside: list[str] = []
    while True:
        path = field_path(error)
        missing = _MISSING.search(str(error))
        if missing is not None:
            name = "sign-in time" if missing[1] == "createdDateTime" else missing[1]
            raise RowError(f"no {missing[1]}", reason=f"no {name}") from None
        if path is None or path.split(".", 1)[0] in REQUIRED_FIELDS or \
                len(set_aside) >= _MAX_SET_ASIDE:
            where = path or "the record"
            raise RowError(f"{where} cannot be read ({_what(error)})",
                           reason=f"unreadable {where}") from None
        _drop(fields, path)
        set_aside.append(path)
        try:
            sign_in = msgspec.convert(fields, SignIn, strict=False)
            break
        except msgspec.ValidationError as exc:
            error = exc
    if not (sign_in.user_id or sign_in.user_principal_name) and \
            any(p in USER_FIELDS for p in set_aside):
        raise RowError("no readable user (userId, userPrincipalName)", reason="unreadable user")
    if aside is not None:
        aside.update(set_aside)
    return sign_in


def field_path(error: msgspec.ValidationError) -> str | None:
    """The dotted field path a msgspec error names (list indexes cut: the list goes whole)."""
    match = _AT_PATH.search(str(error))
    if match is None or not match[1]:
        return None
    return match[1].split("[", 1)[0]


def _what(error: msgspec.ValidationError) -> str:
    return _AT_PATH.sub("", str(error))


def _drop(fields: dict[str, Any], path: str) -> None:
    *parents, name = path.split(".")
    node: Any = fields
    for parent in parents:
        node = node.get(parent) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(name, None)


def without_empty(value: Any) -> Any:
    """Drop empty cells (None, "") from nested mappings: an export's blank is Graph's absence."""
    if isinstance(value, dict):
        return {k: without_empty(v) for k, v in value.items() if v is not None and v != ""}
    return value


def settle(sign_in: SignIn) -> SignIn:
    """Repair what exports get wrong in an otherwise valid record; cheap when nothing is wrong.
    Times are kept in UTC (an offset such as -05:00 would otherwise leak into every output)."""
    created = sign_in.created_date_time
    location = sign_in.location
    if created.tzinfo is UTC and (location is None or _location_is_sound(location)):
        return sign_in
    changes: dict[str, Any] = {}
    if created.tzinfo is None:
        changes["created_date_time"] = created.replace(tzinfo=UTC)
    elif created.tzinfo is not UTC:
        changes["created_date_time"] = created.astimezone(UTC)
    if location is not None and not _location_is_sound(location):
        changes["location"] = settle_location(location)
    return msgspec.structs.replace(sign_in, **changes)


def _location_is_sound(location: Location) -> bool:
    country = location.country_or_region
    if country and (len(country) != 2 or not country.isupper()):
        return False
    geo = location.geo_coordinates
    if geo is None:
        return not location.city
    latitude, longitude = geo.latitude, geo.longitude
    if latitude is None or longitude is None:
        return not location.city
    return -90 <= latitude <= 90 and -180 <= longitude <= 180


def settle_location(location: Location) -> Location:
    """Country as an ISO code; coordinates kept when plausible, else placed by city name."""
    country = location.country_or_region
    code = country_code(country) if country else None
    geo = location.geo_coordinates
    if geo is not None and not _coordinates_plausible(geo):
        geo = None
    if geo is None and location.city:
        place = resolve_place(location.city, location.state, code)
        if place is not None and place.precision == "city":
            geo = GeoCoordinates(latitude=place.latitude, longitude=place.longitude)
    return Location(city=location.city, state=location.state, country_or_region=code,
                    geo_coordinates=geo)


def _coordinates_plausible(geo: GeoCoordinates) -> bool:
    lat, lon = geo.latitude, geo.longitude
    return lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180


class RowError(ValueError):
    """One row or record cannot be read; the importer reports it with its line and skips it.
    `reason` is the kind of failure rows are counted by (the message adds the particulars)."""

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


def reason_of(error: BaseException) -> str:
    """The kind of failure a row error is counted under."""
    if isinstance(error, RowError):
        return error.reason
    if isinstance(error, msgspec.DecodeError):
        return "malformed JSON"
    if isinstance(error, msgspec.ValidationError):
        path = field_path(error)
        return f"unreadable {path}" if path else "not a sign-in record"
    if isinstance(error, RecursionError):
        return "nested too deeply"
    if isinstance(error, UnreadableTime):
        return "unreadable sign-in time"
    return "unreadable value"


# What reading one hostile row may raise; each becomes a problem for that row, never a traceback.
ROW_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,  # RowError, msgspec.DecodeError / ValidationError, bad dates
    TypeError,
    KeyError,
    OverflowError,
    RecursionError,  # absurdly deep nesting in a cell
)


def nested_value(value: Any, column: str) -> Any:
    """A cell that may hold JSON (Log Analytics writes objects as JSON text), decoded."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text or text[0] not in "[{":
        return value
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        raise RowError(f"{column} holds malformed JSON",
                       reason=f"malformed JSON in {column}") from None


# Result words some pipelines write in place of the code (resultType "Success" / "Failure").
def error_code_of(result: Any, column: str) -> int | None:
    """The sign-in error code in a result column: a number, numeric text, or "Success"."""
    if result is None or result == "":
        return None
    if isinstance(result, bool):
        raise RowError(f"{column} is not an error code: {result!r}",
                       reason=f"unreadable {column}")
    if isinstance(result, int):
        return result
    text = str(result).strip()
    if text.lstrip("-").isdigit() and len(text) < 12:
        return int(text)
    if text.lower() in ("success", "succeeded"):
        return 0
    raise RowError(f"{column} {text[:40]!r} gives no error code", reason=f"unreadable {column}")


SIGN_IN_EVENT_TYPES = {  # log category (Azure Monitor / Log Analytics table) -> Graph event type
    "signinlogs": "interactiveUser",
    "noninteractiveusersigninlogs": "nonInteractiveUser",
    "aadnoninteractiveusersigninlogs": "nonInteractiveUser",
    "serviceprincipalsigninlogs": "servicePrincipal",
    "aadserviceprincipalsigninlogs": "servicePrincipal",
    "managedidentitysigninlogs": "managedIdentity",
    "aadmanagedidentitysigninlogs": "managedIdentity",
}
