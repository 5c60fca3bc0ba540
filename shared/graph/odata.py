"""OData filter pieces built from caller input: quoted, validated, never pasted in raw.

A caller's UPN or id ends up inside `$filter`. String literals are quoted the OData way (a `'`
becomes `''`), so `o'brien@contoso.com` matches its user and `x' or 1 eq 1` stays one literal
that matches nobody. Ids are checked as GUIDs before they are used at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from shared.errors import InputError

# Patterns written so that Python's `re` and JSON Schema's ECMA-262 dialect read them alike (the
# OpenAPI document carries them verbatim): no lookbehind, no Python-only escapes, and `$(?!\n)`
# because Python's `$` also matches before a final newline where ECMA's does not.
END = r"$(?!\n)"
GUID_SHAPE = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# Entra ID's username policy: letters, digits and ' . - _ ! # ^ ~ (guests carry #EXT#; we also
# accept + and & seen in synced directories); at most 64 characters before the "@" and 48 after
# it, so at most 113 in all; no "." right before the "@". The part after it is a domain: letters,
# digits, "." and "-", starting and ending with a letter or digit.
# https://learn.microsoft.com/en-us/entra/identity/authentication/concept-sspr-policy
UPN_MAX = 64 + 1 + 48
UPN_SHAPE = (r"[A-Za-z0-9'.\-_!#^~+&]{0,63}[A-Za-z0-9'\-_!#^~+&]"
             r"@[A-Za-z0-9](?:[A-Za-z0-9.\-]{0,46}[A-Za-z0-9])?")
# A user as callers name one: an object id or a user principal name (the OpenAPI `userId`).
USER_PATTERN = f"^(?:{GUID_SHAPE}|{UPN_SHAPE}){END}"

_GUID = re.compile(GUID_SHAPE)
_UPN = re.compile(UPN_SHAPE)

INTERACTIVE = "interactiveUser"
NON_INTERACTIVE = "nonInteractiveUser"


def quote(value: str) -> str:
    """An OData string literal: wrapped in single quotes, each `'` doubled."""
    if any(ord(ch) < 0x20 for ch in value):
        raise InputError("a filter value must not contain control characters")
    return "'" + value.replace("'", "''") + "'"


def is_guid(value: str) -> bool:
    return _GUID.fullmatch(value) is not None


def guid(value: str, *, what: str = "id") -> str:
    """The GUID in lower case, or InputError naming what was expected."""
    if not is_guid(value):
        raise InputError(f"{what} must be a GUID, got {value[:60]!r}")
    return value.lower()


def is_upn(value: str) -> bool:
    return _UPN.fullmatch(value) is not None


def upn(value: str) -> str:
    """The user principal name, checked for shape (local@domain), or InputError."""
    if not is_upn(value):
        raise InputError(f"not a user principal name (name@domain): {value[:60]!r}")
    return value


def user_clause(user: str) -> str:
    """`userId eq '<guid>'` for an object id, `userPrincipalName eq '<quoted>'` for a UPN."""
    user = user.strip()
    if is_guid(user):
        return f"userId eq {quote(user.lower())}"
    return f"userPrincipalName eq {quote(upn(user))}"


def timestamp(moment: datetime) -> str:
    """An OData DateTimeOffset literal in UTC (`2024-05-06T00:00:00Z`); naive times are refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError("window bounds must carry a time zone")
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def window_clause(start: datetime, end: datetime, *, field: str = "createdDateTime") -> str:
    """`field ge start and field le end`, both bounds inclusive as Graph documents them."""
    if end < start:
        raise InputError("the window ends before it starts")
    return f"{field} ge {timestamp(start)} and {field} le {timestamp(end)}"


def event_types_clause(types: Iterable[str]) -> str:
    """beta: `signInEventTypes/any(t: t eq 'interactiveUser' or t eq 'nonInteractiveUser')`."""
    wanted = " or ".join(f"t eq {quote(kind)}" for kind in types)
    if not wanted:
        raise InputError("at least one sign-in event type is needed")
    return f"signInEventTypes/any(t: {wanted})"


def all_of(*clauses: str) -> str:
    """Clauses built above, joined with `and` (each is an `and` chain or a lambda already)."""
    return " and ".join(c for c in clauses if c)
