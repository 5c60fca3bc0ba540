"""Country outlines for the travel maps: Natural Earth's 110m countries, from npm's `world-atlas`.

The data is TopoJSON (https://github.com/topojson/topojson-specification): shared borders are
stored once as arcs; a quantized topology stores each arc's first position as integers and every
later one as a delta from the one before, mapped back to longitude and latitude by the topology's
`transform` (scale and translate). A polygon lists its rings as arc indexes, where ~i (that is
-i - 1) means arc i reversed; consecutive arcs of a ring share their joining point.

The outlines become one SVG path in an equirectangular projection: x is longitude and y is
minus latitude, both in hundredths of a degree (integers keep the path short and 0.01 degree,
about a kilometre, is finer than the 1:110m data). Each map places that path with its own affine
transform (`MapView.outline_transform`), so the report carries the outlines once however many maps
it has, and nothing is fetched when it is opened.

Where the data comes from, first found wins: `node_modules/world-atlas/` as `npm ci` installs it
(pinned in package.json), then the copy shipped in this package (`outlines/`), which is what a
deployed function app has, since node_modules is not deployed. Neither there: no outlines, and the
maps say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import msgspec

WORLD_ATLAS_VERSION = "2.0.2"  # as pinned in package.json; a test checks the two agree
DATA_FILE = "countries-110m.json"
COUNTRIES = "countries"
UNITS_PER_DEGREE = 100
_HERE = Path(__file__).resolve().parent
SEARCH_PATHS = (
    _HERE.parents[1] / "node_modules" / "world-atlas" / DATA_FILE,
    _HERE / "outlines" / DATA_FILE,
)

Point = tuple[float, float]  # (longitude, latitude)
Ring = list[Point]


class Transform(msgspec.Struct, frozen=True):
    scale: tuple[float, float]
    translate: tuple[float, float]


class Geometry(msgspec.Struct, frozen=True):
    type: str | None
    arcs: Any = None  # Polygon: list of rings; MultiPolygon: list of polygons


class GeometryCollection(msgspec.Struct, frozen=True):
    geometries: list[Geometry]


class Topology(msgspec.Struct, frozen=True):
    type: str
    arcs: list[list[tuple[float, float]]]
    objects: dict[str, GeometryCollection]
    transform: Transform | None = None


@dataclass(frozen=True)
class Outlines:
    path: str  # SVG path data, hundredths of a degree, y = -latitude
    source: str  # a sentence naming the data, for the report
    rings: int


def decode_arcs(topology: Topology) -> list[Ring]:
    """Every arc as (longitude, latitude) points, undoing quantization and delta encoding."""
    if topology.transform is None:
        return [[(x, y) for x, y in arc] for arc in topology.arcs]
    (sx, sy), (tx, ty) = topology.transform.scale, topology.transform.translate
    decoded = []
    for arc in topology.arcs:
        x = y = 0.0
        points = []
        for dx, dy in arc:
            x += dx
            y += dy
            points.append((x * sx + tx, y * sy + ty))
        decoded.append(points)
    return decoded


def ring(arc_ids: Sequence[int], arcs: Sequence[Ring]) -> Ring:
    """A ring from its arc indexes (~i: arc i reversed); joining points are kept once."""
    points: Ring = []
    for index in arc_ids:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc[1:] if points else arc)
    return points


def rings(topology: Topology, name: str = COUNTRIES) -> list[Ring]:
    """The rings of every polygon in one object of the topology (exteriors and holes alike)."""
    arcs = decode_arcs(topology)
    found: list[Ring] = []
    collection = topology.objects.get(name)
    for geometry in collection.geometries if collection else ():
        if geometry.type == "Polygon":
            polygons = [geometry.arcs]
        elif geometry.type == "MultiPolygon":
            polygons = geometry.arcs
        else:
            continue
        found.extend(ring(ids, arcs) for polygon in polygons for ids in polygon)
    return found


def _units(point: Point) -> tuple[int, int]:
    lon, lat = point
    return (round(lon * UNITS_PER_DEGREE), round(-lat * UNITS_PER_DEGREE))


def svg_path(all_rings: Iterable[Ring]) -> str:
    """One path: each ring as an absolute moveto, relative linetos, closed; repeats dropped."""
    parts = []
    for points in all_rings:
        units = [_units(p) for p in points]
        kept = [u for i, u in enumerate(units) if i == 0 or u != units[i - 1]]
        if len(kept) < 3:
            continue
        steps = " ".join(f"{x - px} {y - py}" for (px, py), (x, y) in pairwise(kept))
        parts.append(f"M{kept[0][0]} {kept[0][1]}l{steps}z")
    return "".join(parts)


def outlines_from(data: bytes, source: str) -> Outlines:
    """Outlines from TopoJSON bytes; raises msgspec.ValidationError/DecodeError on bad data."""
    topology = msgspec.json.decode(data, type=Topology)
    found = rings(topology)
    return Outlines(path=svg_path(found), source=source, rings=len(found))


@lru_cache(maxsize=4)
def world_outlines(search: Sequence[Path] = SEARCH_PATHS) -> Outlines | None:
    """The first readable outline file of `search`, decoded once per process; None when none is.

    A file that is present but unreadable is skipped like a missing one: the report must render
    without outlines rather than not at all."""
    for path in search:
        try:
            data = path.read_bytes()
            return outlines_from(data, f"Natural Earth 1:110m countries (public domain), "
                                       f"world-atlas {WORLD_ATLAS_VERSION}")
        except (OSError, msgspec.DecodeError, msgspec.ValidationError, TypeError, IndexError):
            continue
    return None
