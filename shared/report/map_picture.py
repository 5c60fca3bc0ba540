"""The map-like picture of one user's places and travel legs, laid out for the SVG template."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.model import SignIn
from shared.report.outlines import UNITS_PER_DEGREE
from shared.report.text import plain
from shared.report.travel import (
    Leg,
    Projection,
    graticule,
    legs,
    notable_legs,
    places,
    projection,
)

WIDTH = 640.0
HEIGHT = 320.0
_LABEL_CHARS = 28


@dataclass(frozen=True)
class PlacePoint:
    number: int
    x: float
    y: float
    label: str
    label_x: float
    label_y: float
    anchor: str  # "start" or "end": fixed words, never log data
    name: str
    sign_ins: int


@dataclass(frozen=True)
class LegLine:
    """A leg drawn as a gentle arc bending to its right, so A->B and B->A do not overlap."""

    x1: float
    y1: float
    bend_x: float  # the quadratic curve's control point
    bend_y: float
    x2: float
    y2: float
    mid_x: float  # where the speed label sits, on the curve
    mid_y: float
    leg: Leg
    speed: str
    distance: str
    elapsed: str


@dataclass(frozen=True)
class MapPicture:
    width: float
    height: float
    points: list[PlacePoint]
    lines: list[LegLine]
    leg_count: int
    meridians: list[tuple[float, str]]
    parallels: list[tuple[float, str]]
    unlocated: int
    unlocated_countries: list[str]
    outline_transform: str  # places the report's country outlines in this map's view


def speed_text(kmh: float | None) -> str:
    return "same second" if kmh is None else f"{kmh:,.0f} km/h"


def elapsed_text(hours: float) -> str:
    minutes = round(hours * 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{hours / 24:.1f} days"


def _leg_line(leg: Leg, start: tuple[float, float], end: tuple[float, float],
              bend: float) -> LegLine:
    (x1, y1), (x2, y2) = start, end
    bend_x = (x1 + x2) / 2 - (y2 - y1) * bend
    bend_y = (y1 + y2) / 2 + (x2 - x1) * bend
    mid_x = (x1 + 2 * bend_x + x2) / 4
    mid_y = (y1 + 2 * bend_y + y2) / 4
    return LegLine(x1, y1, round(bend_x, 1), round(bend_y, 1), x2, y2, round(mid_x, 1),
                   round(mid_y, 1), leg, speed_text(leg.kmh), f"{leg.km:,.0f} km",
                   elapsed_text(leg.hours))


def outline_transform(view: Projection) -> str:
    """The SVG transform taking outline units (0.01 degree; y = -latitude) into the view."""
    across = view.scale * view.stretch
    return (f"matrix({across / UNITS_PER_DEGREE:.6g} 0 0 {view.scale / UNITS_PER_DEGREE:.6g} "
            f"{-view.west * across:.6g} {view.north * view.scale:.6g})")


def _label_position(x: float, y: float, taken: list[tuple[float, float]]) -> tuple[float, float]:
    """A label spot beside the point that does not sit on an earlier label."""
    for dy in (4, -10, 18, -24, 32, -38, 46):
        spot = (x, y + dy)
        if all(abs(spot[1] - ty) >= 13 or abs(spot[0] - tx) >= 120 for tx, ty in taken):
            return spot
    return (x, y + 4)


def map_picture(sign_ins: Sequence[SignIn]) -> MapPicture:
    seen = places(sign_ins)
    view = projection(list(seen.values()), WIDTH, HEIGHT)
    taken: list[tuple[float, float]] = []
    points: list[PlacePoint] = []
    for place in seen.values():
        x, y = view.xy(place.latitude, place.longitude)
        left = x > WIDTH - 170
        lx, ly = _label_position(x + (-9 if left else 9), y, taken)
        taken.append((lx, ly))
        label = f"{place.number} {plain(place.short_name, limit=_LABEL_CHARS)}"
        points.append(PlacePoint(place.number, x, y, label, lx, ly, "end" if left else "start",
                                 place.name, place.sign_ins))
    all_legs = legs(sign_ins, seen)
    drawn: dict[tuple[int, int], int] = {}
    lines = []
    for leg in notable_legs(all_legs):
        start = view.xy(leg.origin.latitude, leg.origin.longitude)
        end = view.xy(leg.destination.latitude, leg.destination.longitude)
        pair = (leg.origin.number, leg.destination.number)
        drawn[pair] = drawn.get(pair, 0) + 1
        lines.append(_leg_line(leg, start, end, bend=0.12 * drawn[pair]))
    unlocated = [s for s in sign_ins if s.coordinates is None]
    countries = sorted({plain(s.country) for s in unlocated if s.country})
    meridians, parallels = graticule(view)
    return MapPicture(WIDTH, HEIGHT, points, lines, len(all_legs), meridians, parallels,
                      len(unlocated), countries, outline_transform(view))
