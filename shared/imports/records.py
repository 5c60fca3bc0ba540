"""Building `SignIn` records from Graph-named fields, whichever export they came from.

Every importer maps its columns to Graph's signIn field names (camelCase) and calls
`sign_in_from_fields`, which accepts what exports do to values (numbers and booleans written as
text, empty cells) and then `settle`s the record: times without a zone are UTC, country names
become ISO codes, coordinates out of range are dropped, and a location with a city but no
coordinates is placed with the gazetteer (city precision only: a country-level guess would make
distances look exact when they are not).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import msgspec

from shared.geo import country_code, resolve_place
from shared.model import GeoCoordinates, Location, SignIn


def sign_in_from_fields(fields: dict[str, Any]) -> SignIn:
    """Graph-named fields -> SignIn. Raises msgspec.ValidationError naming the bad field."""
    if isinstance(fields.get("createdDateTime"), int | float):  # lax mode would read epochs
        raise RowError("createdDateTime is a number, not a date and time")
    return settle(msgspec.convert(without_empty(fields), SignIn, strict=False))


def without_empty(value: Any) -> Any:
    """Drop empty cells (None, "") from nested mappings: an export's blank is Graph's absence."""
    if isinstance(value, dict):
        return {k: without_empty(v) for k, v in value.items() if v is not None and v != ""}
    return value


def settle(sign_in: SignIn) -> SignIn:
    """Repair what exports get wrong in an otherwise valid record; cheap when nothing is wrong."""
    created = sign_in.created_date_time
    location = sign_in.location
    if created.tzinfo is not None and (location is None or _location_is_sound(location)):
        return sign_in
    changes: dict[str, Any] = {}
    if created.tzinfo is None:
        changes["created_date_time"] = created.replace(tzinfo=UTC)
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
    """One row or record cannot be read; the importer reports it with its line and skips it."""


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
        raise RowError(f"{column} holds malformed JSON") from None


# Result words some pipelines write in place of the code (resultType "Success" / "Failure").
def error_code_of(result: Any, column: str) -> int | None:
    """The sign-in error code in a result column: a number, numeric text, or "Success"."""
    if result is None or result == "":
        return None
    if isinstance(result, bool):
        raise RowError(f"{column} is not an error code: {result!r}")
    if isinstance(result, int):
        return result
    text = str(result).strip()
    if text.lstrip("-").isdigit() and len(text) < 12:
        return int(text)
    if text.lower() in ("success", "succeeded"):
        return 0
    raise RowError(f"{column} {text[:40]!r} gives no error code")


SIGN_IN_EVENT_TYPES = {  # log category (Azure Monitor / Log Analytics table) -> Graph event type
    "signinlogs": "interactiveUser",
    "noninteractiveusersigninlogs": "nonInteractiveUser",
    "aadnoninteractiveusersigninlogs": "nonInteractiveUser",
    "serviceprincipalsigninlogs": "servicePrincipal",
    "aadserviceprincipalsigninlogs": "servicePrincipal",
    "managedidentitysigninlogs": "managedIdentity",
    "aadmanagedidentitysigninlogs": "managedIdentity",
}
