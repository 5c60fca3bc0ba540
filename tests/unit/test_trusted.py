"""Trusted named locations: what counts, what does not, and bad files."""

from __future__ import annotations

import pytest

from shared.commands.analyze import read_trusted_networks
from shared.detect.trusted import NamedLocationError, from_named_locations
from shared.errors import InputError

OFFICE = {"@odata.type": "#microsoft.graph.ipNamedLocation", "displayName": "Office",
          "isTrusted": True, "ipRanges": [{"cidrAddress": "203.0.113.0/24"},
                                          {"cidrAddress": "2001:db8::/32"}]}


def test_trusted_ip_ranges_match_by_version() -> None:
    trusted = from_named_locations([OFFICE])
    assert trusted.range_of("203.0.113.9") == "Office"
    assert trusted.range_of("2001:db8:5::1") == "Office"
    assert trusted.range_of("203.0.114.9") is None
    assert trusted.range_of("not an ip") is None and trusted.range_of(None) is None


def test_untrusted_ranges_and_graph_country_lists_are_not_trusted() -> None:
    trusted = from_named_locations([
        {**OFFICE, "isTrusted": False},
        {"@odata.type": "#microsoft.graph.countryNamedLocation", "displayName": "Blocked",
         "countriesAndRegions": ["KP"]},
    ])
    assert not trusted
    marked = from_named_locations([{"@odata.type": "#microsoft.graph.countryNamedLocation",
                                    "displayName": "Home", "isTrusted": True,
                                    "countriesAndRegions": ["gb"]}])
    assert marked.country_of("GB") == "Home"


def test_malformed_cidr_names_its_location() -> None:
    with pytest.raises(NamedLocationError, match="'Office'"):
        from_named_locations([{**OFFICE, "ipRanges": [{"cidrAddress": "203.0.113.0/33"}]}])


@pytest.mark.parametrize("text", ['{"value": 3}', "{not json", "203.0.113.0/99\n"])
def test_bad_trusted_networks_files_are_clear_input_errors(tmp_path, text: str) -> None:
    path = tmp_path / "trusted.json"
    path.write_text(text)
    with pytest.raises(InputError):
        read_trusted_networks(str(path))
