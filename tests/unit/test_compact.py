"""Compact records: repeated values are shared between decoded sign-ins, and nothing changes.

Sharing must never alter a record: decoded with and without it, a page's records compare,
hash and encode alike; only the identity of equal values differs."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from shared.compact import SHARED_FIELDS, compact
from shared.graph.signins import decode_page
from shared.model import SignInPage


def _row(n: int, user: int) -> dict[str, Any]:
    return {
        "id": f"s-{n}", "createdDateTime": f"2025-03-10T08:{n:02d}:11Z",
        "userId": f"u-{user}", "userPrincipalName": f"user{user}@contoso.com",
        "appId": "00000002-0000-0ff1-ce00-000000000000", "ipAddress": f"203.0.113.{user}",
        "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edg/121.0",
        "status": {"errorCode": 50126, "failureReason": "Invalid username or password."},
        "location": {"city": "Lyon", "countryOrRegion": "FR",
                     "geoCoordinates": {"latitude": 45.76, "longitude": 4.84}},
        "riskLevelDuringSignIn": "none", "riskState": "none",
        "conditionalAccessStatus": "notApplied", "correlationId": f"c-{n}",  # not kept
    }


PAGE = json.dumps({"value": [_row(n, n % 3) for n in range(12)]}).encode()


def test_repeated_values_are_one_object() -> None:
    sign_ins = decode_page(PAGE).value
    first, fourth = sign_ins[0], sign_ins[3]  # the same user
    for name in SHARED_FIELDS:
        assert getattr(first, name) is getattr(fourth, name), name
    assert first.id is not fourth.id
    other = sign_ins[1]
    assert other.location is first.location and other.user_id != first.user_id


def test_risk_words_are_the_literals_themselves() -> None:
    sign_ins = msgspec.json.decode(PAGE, type=SignInPage).value
    assert sign_ins[0].risk_state is sign_ins[5].risk_state == "none"
    assert sign_ins[0].risk_level_during_sign_in is sign_ins[7].risk_level_during_sign_in


def test_compacted_records_equal_hash_and_encode_as_decoded() -> None:
    plain = msgspec.json.decode(PAGE, type=SignInPage).value
    shared = compact(msgspec.json.decode(PAGE, type=SignInPage).value)
    assert shared == plain
    assert [hash(s) for s in shared] == [hash(s) for s in plain]
    assert msgspec.json.encode(shared) == msgspec.json.encode(plain)


def test_values_not_declared_are_not_kept() -> None:
    encoded = msgspec.json.encode(decode_page(PAGE).value[0])
    assert b"correlationId" not in encoded and b"conditionalAccessStatus" not in encoded
