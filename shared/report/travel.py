"""Where a user signed in from, and how fast they would have had to travel between sign-ins.

Legs join consecutive located sign-ins on the chronological timeline (never "all places seen"),
with the great-circle distance and the speed it implies. Hops shorter than `NOISE_KM` are
geolocation noise (carrier and ISP routing) and are not drawn. The picture is an
equirectangular projection of latitude and longitude, zoomed to the places seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from math import ceil, cos, floor, radians

from shared.geo import haversine_km
from shared.model import SignIn
from shared.report.text import place_text, utc_text

NOISE_KM = 50.0
IMPLAUSIBLE_KMH = 900.0
LEG_LIMIT = 30


@dataclass(frozen=True)
class Place:
    number: int
    latitude: float
    longitude: float
    name: str
    short_name: str  # city and country, for the picture's label
    sign_ins: int


@dataclass(frozen=True)
class Leg:
    origin: Place
    destination: Place
    departed: str
    arrived: str
    km: float
    hours: float
    kmh: float | None  # None: both sign-ins in the same second

    @property
    def implausible(self) -> bool:
        return self.kmh is None or self.kmh > IMPLAUSIBLE_KMH


def _key(point: tuple[float, float]) -> tuple[float, float]:
    return (round(point[0], 2), round(point[1], 2))


def places(sign_ins: Sequence[SignIn]) -> dict[tuple[float, float], Place]:
    """Distinct located places in order of first sign-in, numbered from 1."""
    counts: dict[tuple[float, float], int] = {}
    names: dict[tuple[float, float], tuple[str, str]] = {}
    for sign_in in sign_ins:
        point = sign_in.coordinates
        if point is None:
            continue
        key = _key(point)
        counts[key] = counts.get(key, 0) + 1
        if key not in names:
            loc = sign_in.location
            name = place_text(loc.city, loc.state, loc.country_or_region) if loc else ""
            short = place_text(loc.city, None, loc.country_or_region) if loc else ""
            fallback = f"{key[0]:.2f}, {key[1]:.2f}"
            names[key] = (name or fallback, short or fallback)
    return {key: Place(number, key[0], key[1], *names[key], counts[key])
            for number, key in enumerate(counts, start=1)}


def legs(sign_ins: Sequence[SignIn], seen: dict[tuple[float, float], Place]) -> list[Leg]:
    """Moves of at least `NOISE_KM` between consecutive located sign-ins, in time order."""
    located = [(s, s.coordinates) for s in sorted(sign_ins, key=lambda s: s.created_date_time)]
    trail = [(s, p) for s, p in located if p is not None]
    found: list[Leg] = []
    for (before, a), (after, b) in pairwise(trail):
        if a == b:  # most sign-ins come from where the one before came from
            continue
        km = haversine_km(a, b)
        if km < NOISE_KM:
            continue
        hours = (after.created_date_time - before.created_date_time).total_seconds() / 3600
        found.append(Leg(
            origin=seen[_key(a)], destination=seen[_key(b)],
            departed=utc_text(before.created_date_time), arrived=utc_text(after.created_date_time),
            km=km, hours=hours, kmh=km / hours if hours > 0 else None,
        ))
    return found


def notable_legs(all_legs: Sequence[Leg], limit: int = LEG_LIMIT) -> list[Leg]:
    """At most `limit` legs, the fastest kept, still in time order."""
    if len(all_legs) <= limit:
        return list(all_legs)
    fastest = sorted(all_legs, key=lambda leg: -(leg.kmh if leg.kmh is not None else 1e12))
    kept = {id(leg) for leg in fastest[:limit]}
    return [leg for leg in all_legs if id(leg) in kept]


@dataclass(frozen=True)
class Projection:
    """Equirectangular: x follows longitude, y latitude, one scale for both (at mid-latitude)."""

    west: float
    north: float
    scale: float  # pixels per degree of latitude
    stretch: float  # cos(mid-latitude): a degree of longitude is shorter away from the equator
    width: float
    height: float

    def xy(self, latitude: float, longitude: float) -> tuple[float, float]:
        x = (longitude - self.west) * self.scale * self.stretch
        y = (self.north - latitude) * self.scale
        return (round(x, 1), round(y, 1))


def projection(points: Sequence[Place], width: float = 640, height: float = 320) -> Projection:
    """A view that holds every point with a margin, at least 12 degrees tall."""
    lats = [p.latitude for p in points] or [0.0]
    lons = [p.longitude for p in points] or [0.0]
    mid_lat = (max(lats) + min(lats)) / 2
    stretch = max(cos(radians(mid_lat)), 0.2)
    lat_span = max(max(lats) - min(lats), 12.0) * 1.4
    lon_span = max(max(lons) - min(lons), 12.0) * 1.35
    scale = min(height / lat_span, width / (lon_span * stretch))
    mid_lon = (max(lons) + min(lons)) / 2
    west = mid_lon - width / (2 * scale * stretch)
    north = mid_lat + height / (2 * scale)
    return Projection(west, north, scale, stretch, width, height)


def graticule(view: Projection) -> tuple[list[tuple[float, str]], list[tuple[float, str]]]:
    """Meridians (x, label) and parallels (y, label) at a round step inside the view."""
    span = view.height / view.scale
    step = next(s for s in (5, 10, 15, 30, 45, 90) if span / s <= 6)
    east = view.west + view.width / (view.scale * view.stretch)
    south = view.north - span
    meridians = [(x, _degrees(lon, "E", "W"))
                 for lon in range(ceil(view.west / step) * step, floor(east) + 1, step)
                 if (x := view.xy(0, lon)[0]) < view.width - 24]
    parallels = [(view.xy(lat, 0)[1], _degrees(lat, "N", "S"))
                 for lat in range(ceil(south / step) * step, floor(view.north) + 1, step)]
    return meridians, parallels


def _degrees(value: float, positive: str, negative: str) -> str:
    if value == 0:
        return "0°"
    return f"{abs(value):g}°{positive if value > 0 else negative}"
