"""Microsoft Graph signIn JSON, decoded by msgspec straight into `SignIn` (no dict round trip).

A `{"value": [...]}` response or a JSON array decodes in one call; only when that fails does the
reader go record by record, so one bad record is reported (with its line) and the rest kept.
The Entra portal's JSON download is an array of the same objects and reads the same way.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import msgspec

from shared.imports.records import RowError, settle, sign_in_from_fields
from shared.model import SignIn, SignInPage

_PAGE_OR_LIST = msgspec.json.Decoder(SignInPage | list[SignIn])
_ONE = msgspec.json.Decoder(SignIn)


def decode_document(data: bytes | memoryview) -> list[SignIn] | None:
    """All sign-ins of a well-formed Graph document, or None when some record does not fit
    (then read it record by record). Raises msgspec.DecodeError when it is not JSON at all."""
    try:
        decoded = _PAGE_OR_LIST.decode(data)
    except msgspec.ValidationError:
        return None
    sign_ins = decoded.value if isinstance(decoded, SignInPage) else decoded
    return [settle(sign_in) for sign_in in sign_ins]


def decode_lines(data: bytes | memoryview) -> list[SignIn] | None:
    """All sign-ins of well-formed Graph JSON lines, or None when a line does not fit."""
    try:
        return [settle(sign_in) for sign_in in _ONE.decode_lines(data)]
    except (msgspec.DecodeError, RecursionError):
        return None


def sign_in_from_json(raw: bytes | msgspec.Raw, fallback_id: str,
                      aside: Counter[str] | None = None) -> SignIn:
    """One signIn object: strict and fast, else lenient (numbers as text, naive times)."""
    try:
        return settle(_ONE.decode(raw))
    except msgspec.ValidationError:
        record = msgspec.json.decode(raw)
    if not isinstance(record, dict):
        raise RowError(f"expected a signIn object, got {type(record).__name__}")
    return sign_in_from_record(record, fallback_id, aside)


def sign_in_from_record(record: dict[str, Any], fallback_id: str,
                        aside: Counter[str] | None = None) -> SignIn:
    """A decoded signIn object (as found in a JSON array) -> SignIn, leniently."""
    if "createdDateTime" not in record:
        raise RowError("no createdDateTime", reason="no sign-in time")
    fields = dict(record)
    fields.setdefault("id", fallback_id)
    return sign_in_from_fields(fields, aside)
