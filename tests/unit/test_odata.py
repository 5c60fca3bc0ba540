"""OData filter pieces: quoting, GUID and UPN checks, window and user clauses."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import InputError
from shared.graph import odata
from shared.graph.signins import sign_in_filter
from shared.model import Window

GUID = "6f1c2b9e-3d4a-4e5f-8a7b-9c0d1e2f3a4b"
START = datetime(2024, 5, 4, 0, 0, tzinfo=UTC)
END = datetime(2024, 5, 6, 6, 0, tzinfo=UTC)

# One OData string literal: a quote, then characters where every quote is doubled, then a quote.
LITERAL = re.compile(r"'(?:[^']|'')*'")


def unquote(literal: str) -> str:
    assert LITERAL.fullmatch(literal), literal
    return literal[1:-1].replace("''", "'")


def test_quote_doubles_single_quotes() -> None:
    assert odata.quote("o'brien@contoso.com") == "'o''brien@contoso.com'"


def test_injection_stays_one_literal() -> None:
    clause = odata.quote("x' or 1 eq 1")
    assert clause == "'x'' or 1 eq 1'"
    assert LITERAL.fullmatch(clause)


@given(st.text(alphabet=st.characters(min_codepoint=0x20, blacklist_categories=("Cs",))))
def test_quote_round_trips_any_text(value: str) -> None:
    quoted = odata.quote(value)
    assert LITERAL.fullmatch(quoted)
    assert unquote(quoted) == value


def test_quote_refuses_control_characters() -> None:
    with pytest.raises(InputError):
        odata.quote("alice\n@contoso.com")


def test_guid_is_lowercased_and_checked() -> None:
    assert odata.guid(GUID.upper()) == GUID
    for bad in ("", "not-a-guid", GUID + "0", GUID[:-1], f"{GUID}' or 1 eq 1", f" {GUID}"):
        with pytest.raises(InputError):
            odata.guid(bad)


@given(st.uuids())
def test_every_uuid_is_a_guid(value: object) -> None:
    assert odata.guid(str(value)) == str(value)


@pytest.mark.parametrize(
    "upn",
    [
        "alice@contoso.com",
        "o'brien@contoso.com",
        "first.last-2@sub.contoso.co.uk",
        "bob_fabrikam.com#EXT#@contoso.onmicrosoft.com",
    ],
)
def test_upn_shapes_accepted(upn: str) -> None:
    assert odata.upn(upn) == upn


def test_upn_length_limits_are_entra_ids() -> None:
    """64 characters before the @, 48 after it, 113 in all (Entra ID's username policy)."""
    longest = "a" * 64 + "@" + "c" * 44 + ".com"
    assert len(longest) == odata.UPN_MAX == 113
    assert odata.is_upn(longest)
    assert not odata.is_upn("a" * 65 + "@contoso.com")
    assert not odata.is_upn("a@" + "c" * 45 + ".com")


@pytest.mark.parametrize(
    "bad",
    ["", "alice", "@contoso.com", "alice@", "a b@contoso.com", "alice.@contoso.com",
     "x' or 1 eq 1", "alice@contoso.com' or userId ne '", "alice@@contoso.com",
     "alice@contoso.com\n", "a" * 65 + "@contoso.com", "alice@" + "c" * 45 + ".com"],
)
def test_upn_shapes_refused(bad: str) -> None:
    with pytest.raises(InputError):
        odata.upn(bad)


def test_user_clause_picks_id_or_upn() -> None:
    assert odata.user_clause(GUID.upper()) == f"userId eq '{GUID}'"
    assert odata.user_clause("o'brien@contoso.com") == "userPrincipalName eq 'o''brien@contoso.com'"
    with pytest.raises(InputError):
        odata.user_clause("x' or 1 eq 1")


@given(st.text(max_size=80))
def test_user_clause_never_widens(value: str) -> None:
    """Whatever a caller sends, the clause is one comparison with one literal, or refused."""
    try:
        clause = odata.user_clause(value)
    except InputError:
        return
    field, op, literal = clause.split(" ", 2)
    assert field in ("userId", "userPrincipalName")
    assert op == "eq"
    assert unquote(literal).lower() == value.strip().lower()


def test_timestamp_is_utc_with_z() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert odata.timestamp(datetime(2024, 5, 6, 8, 0, tzinfo=plus_two)) == "2024-05-06T06:00:00Z"
    assert odata.timestamp(datetime(2024, 5, 6, 8, 0, 0, 250000, tzinfo=UTC)) \
        == "2024-05-06T08:00:00.25Z"
    with pytest.raises(InputError):
        odata.timestamp(datetime(2024, 5, 6, 8, 0))


def test_window_clause_bounds_inclusive() -> None:
    assert odata.window_clause(START, END) == (
        "createdDateTime ge 2024-05-04T00:00:00Z and createdDateTime le 2024-05-06T06:00:00Z"
    )
    with pytest.raises(InputError):
        odata.window_clause(END, START)


def test_sign_in_filter_v1_and_beta() -> None:
    window = Window(START, END)
    v1 = sign_in_filter(window, user="o'brien@contoso.com")
    assert v1 == (
        "createdDateTime ge 2024-05-04T00:00:00Z and createdDateTime le 2024-05-06T06:00:00Z"
        " and userPrincipalName eq 'o''brien@contoso.com'"
    )
    beta = sign_in_filter(window, beta=True)
    assert beta.endswith(
        " and signInEventTypes/any(t: t eq 'interactiveUser' or t eq 'nonInteractiveUser')"
    )
