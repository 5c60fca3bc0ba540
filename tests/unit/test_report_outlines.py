"""Country outlines for the travel maps: TopoJSON decoding, the SVG path, where the data comes
from, and the report with and without it.

TopoJSON facts (https://github.com/topojson/topojson-specification, sections 2.1.2 and 2.2): a
quantized topology's arc positions are delta-encoded integers, mapped by `transform` as
x * scale + translate; an arc index ~i (-i - 1) means arc i reversed; arcs of a ring share the
point where they join.
"""

from __future__ import annotations

import hashlib
import json
from itertools import pairwise
from pathlib import Path

import msgspec
import pytest

from shared.report import html as html_report
from shared.report import render_review
from shared.report.map_picture import outline_transform
from shared.report.outlines import (
    DATA_FILE,
    SEARCH_PATHS,
    WORLD_ATLAS_VERSION,
    Topology,
    decode_arcs,
    outlines_from,
    ring,
    rings,
    svg_path,
    world_outlines,
)
from shared.report.travel import Place, projection
from tests.unit.test_report_sample import sample_review

ROOT = Path(__file__).resolve().parents[2]
NPM_COPY, PACKAGE_COPY = SEARCH_PATHS
PACKAGE_SHA256 = "2516c915867c7baf18ddec727aec46c315541a07cfb3d79a6559b05d5e94eee8"


def topology(arcs: list[list[list[float]]], geometries: list[dict[str, object]],
             transform: dict[str, object] | None = None) -> Topology:
    document: dict[str, object] = {"type": "Topology", "arcs": arcs,
                                   "objects": {"countries": {"type": "GeometryCollection",
                                                             "geometries": geometries}}}
    if transform is not None:
        document["transform"] = transform
    return msgspec.convert(document, Topology)


# --- decoding -------------------------------------------------------------------------------


def test_quantized_arcs_are_delta_decoded_and_transformed() -> None:
    topo = topology([[[2, 4], [1, 0], [0, 2]]], [],
                    {"scale": [0.5, 0.25], "translate": [-10, 20]})
    assert decode_arcs(topo) == [[(-9.0, 21.0), (-8.5, 21.0), (-8.5, 21.5)]]


def test_arcs_without_a_transform_are_positions_already() -> None:
    topo = topology([[[1.5, 2.5], [3.0, 4.0]]], [])
    assert decode_arcs(topo) == [[(1.5, 2.5), (3.0, 4.0)]]


def test_a_ring_joins_arcs_once_and_reverses_negative_indexes() -> None:
    arcs = [[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)], [(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)]]
    assert ring([0, ~1], arcs) == [(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)]


def test_polygons_and_multipolygons_give_rings_and_other_geometries_none() -> None:
    square = [[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1]]  # delta-encoded
    topo = topology([square], [
        {"type": "Polygon", "arcs": [[0]]},
        {"type": "MultiPolygon", "arcs": [[[0]], [[~0]]]},
        {"type": "Point", "coordinates": [0, 0]},
        {"type": None},
    ], {"scale": [1, 1], "translate": [0, 0]})
    found = rings(topo)
    assert len(found) == 3 and found[2] == found[0][::-1]


def test_the_svg_path_is_in_hundredths_of_a_degree_with_latitude_upside_down() -> None:
    square = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)]
    assert svg_path([square]) == "M0 0l100 0 0 -100 -100 0 0 100z"
    repeats = [(0.0, 0.0), (0.001, 0.0), (1.0, 0.0), (1.0, 1.0)]
    assert svg_path([repeats]) == "M0 0l100 0 0 -100z"
    assert svg_path([[(0.0, 0.0), (0.001, 0.001), (1.0, 1.0)]]) == ""  # too small to draw


@pytest.mark.parametrize("places", [
    [(47.61, -122.33), (6.45, 3.39)],  # Seattle, Lagos
    [(52.37, 4.90)],  # Amsterdam alone
    [(-33.87, 151.21), (35.68, 139.69), (1.35, 103.82)],  # Sydney, Tokyo, Singapore
])
def test_each_map_places_the_outlines_where_it_places_its_points(
        places: list[tuple[float, float]]) -> None:
    view = projection([Place(n, lat, lon, "", "", 1) for n, (lat, lon) in enumerate(places)])
    a, _, _, d, e, f = (float(v) for v in
                        outline_transform(view).removeprefix("matrix(").rstrip(")").split())
    for lat, lon in [*places, (0.0, 0.0), (60.0, -30.0)]:
        x, y = view.xy(lat, lon)
        assert a * lon * 100 + e == pytest.approx(x, abs=0.1)
        assert d * -lat * 100 + f == pytest.approx(y, abs=0.1)


# --- the data -------------------------------------------------------------------------------


def _inside(point: tuple[float, float], all_rings: list[list[tuple[float, float]]]) -> bool:
    """Even-odd rule over every ring: how the report's path is filled."""
    lon, lat = point
    crossings = 0
    for points in all_rings:
        for (x1, y1), (x2, y2) in pairwise(points):
            if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
                crossings += 1
    return crossings % 2 == 1


def test_natural_earth_countries_put_land_and_sea_where_they_are() -> None:
    found = rings(msgspec.json.decode(PACKAGE_COPY.read_bytes(), type=Topology))
    assert len(found) > 250
    for name, place in {"Paris": (2.35, 48.86), "Lagos": (3.39, 6.52), "Seattle": (-122.3, 47.6),
                        "Tokyo": (139.69, 35.68), "Sydney": (151.0, -33.8),
                        "Sao Paulo": (-46.63, -23.55)}.items():
        assert _inside(place, found), name
    for name, place in {"mid-Atlantic": (-40.0, 30.0), "Gulf of Guinea": (0.0, 0.0),
                        "Pacific": (-150.0, 0.0), "Mediterranean": (18.0, 34.0)}.items():
        assert not _inside(place, found), name


def test_the_package_copy_is_the_pinned_npm_file() -> None:
    """The deployed app reads the package copy; development machines read npm's. Same bytes."""
    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    installed = json.loads((NPM_COPY.parent / "package.json").read_text())
    assert package["devDependencies"]["world-atlas"] == WORLD_ATLAS_VERSION
    assert lock["packages"]["node_modules/world-atlas"]["version"] == WORLD_ATLAS_VERSION
    assert installed["version"] == WORLD_ATLAS_VERSION
    assert NPM_COPY.read_bytes() == PACKAGE_COPY.read_bytes()
    assert hashlib.sha256(PACKAGE_COPY.read_bytes()).hexdigest() == PACKAGE_SHA256
    assert PACKAGE_SHA256 in (PACKAGE_COPY.parent / "README.md").read_text()


def test_the_first_readable_file_wins_and_none_is_no_outlines(tmp_path: Path) -> None:
    broken = tmp_path / "broken" / DATA_FILE
    broken.parent.mkdir()
    broken.write_text('{"type": "Topology", "arcs": [[[0, 0]]], "objects": {"countries": '
                      '{"geometries": [{"type": "Polygon", "arcs": [[7]]}]}}}')
    missing = tmp_path / "missing" / DATA_FILE
    assert world_outlines((missing, broken)) is None
    found = world_outlines((missing, broken, PACKAGE_COPY))
    assert found is not None and found.rings > 250 and "world-atlas 2.0.2" in found.source
    assert found == outlines_from(PACKAGE_COPY.read_bytes(), found.source)


# --- the report -----------------------------------------------------------------------------


def test_the_report_carries_the_outlines_once_and_every_map_uses_them() -> None:
    result, timelines = sample_review()
    page = render_review(result, timelines)
    assert page.count('id="world-outlines"') == 1
    assert page.count('href="#world-outlines"') == page.count("<article class=\"user") == 4
    assert "Natural Earth 1:110m countries" in page
    assert "http" not in page.split('id="world-outlines"', 1)[1].split("/>", 1)[0]


def test_without_outline_data_the_maps_still_render_and_say_so(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(html_report, "world_outlines", lambda: None)
    result, timelines = sample_review()
    page = render_review(result, timelines)
    assert "world-outlines" not in page
    assert page.count("Country outlines are not installed here") == 4
    assert page.count("<circle") > 0  # the places are still drawn
