"""Microsoft Graph signIn JSON, decoded by msgspec straight into `SignIn` (no dict round trip).

A `{"value": [...]}` response or a JSON array decodes in one call; only when that fails does the
reader go record by record, so one bad record is reported (with its line) and the rest kept.
The Entra portal's JSON download is an array of the same objects and reads the same way.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import msgspec

from shared.imports.lines import with_lines
from shared.imports.records import RowError, has_bad_address, settle, sign_in_from_fields
from shared.model import SignIn, SignInPage

_PAGE_OR_LIST = msgspec.json.Decoder(SignInPage | list[SignIn])
_ONE = msgspec.json.Decoder(SignIn)
# Graph's deprecated riskEventTypes, read only where riskEventTypes_v2 is absent (records.py).
_OLD_RISK_TYPES, _RISK_TYPES_V2 = b'"riskEventTypes"', b'"riskEventTypes_v2"'
_OLD_RISK_TYPES_IN, _RISK_TYPES_V2_IN = re.compile(re.escape(_OLD_RISK_TYPES)), \
    re.compile(re.escape(_RISK_TYPES_V2))


def _needs_lenient_path(data: bytes | memoryview | msgspec.Raw) -> bool:
    """A document whose records carry only the deprecated risk types: the strict decoder
    would drop them, so it is read record by record."""
    if isinstance(data, memoryview):  # searched in place, not copied
        owner: Any = data.obj
        if not (hasattr(owner, "find") and len(owner) == data.nbytes):  # part of its buffer
            return bool(_OLD_RISK_TYPES_IN.search(data) and not _RISK_TYPES_V2_IN.search(data))
        blob: Any = owner  # the whole of a mapped file
    else:
        blob = data if hasattr(data, "find") else bytes(data)
    return bool(blob.find(_OLD_RISK_TYPES) >= 0 and blob.find(_RISK_TYPES_V2) < 0)


def decode_document(data: bytes | memoryview) -> list[SignIn] | None:
    """All sign-ins of a well-formed Graph document, or None when some record does not fit
    (then read it record by record). Raises msgspec.DecodeError when it is not JSON at all."""
    try:
        decoded = _PAGE_OR_LIST.decode(data)
    except msgspec.ValidationError:
        return None
    sign_ins = decoded.value if isinstance(decoded, SignInPage) else decoded
    if has_bad_address(sign_ins) or _needs_lenient_path(data):
        return None
    return [settle(sign_in) for sign_in in sign_ins]


def decode_lines(data: bytes | memoryview, *, keep_lines: bool = False) -> list[SignIn] | None:
    """All sign-ins of well-formed Graph JSON lines, or None when a line does not fit. With
    `keep_lines`, as `SignInLines` when each record's line can be kept (shared.imports.lines)."""
    try:
        sign_ins = _ONE.decode_lines(data)
    except (msgspec.DecodeError, RecursionError):
        return None
    if has_bad_address(sign_ins) or _needs_lenient_path(data):
        return None
    settled = [settle(sign_in) for sign_in in sign_ins]
    return with_lines(data, sign_ins, settled) if keep_lines else settled


def sign_in_from_json(raw: bytes | msgspec.Raw, fallback_id: str,
                      aside: Counter[str] | None = None) -> SignIn:
    """One signIn object: strict and fast, else lenient (numbers as text, naive times)."""
    try:
        sign_in = _ONE.decode(raw)
        if not has_bad_address([sign_in]) and not _needs_lenient_path(raw):
            return settle(sign_in)
    except msgspec.ValidationError:
        pass
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
