"""Sign-in times as exports write them.

Graph, Azure Monitor and newer portal downloads use ISO 8601. Log Analytics CSV exports write
US-style "4/28/2021, 2:08:45.221 PM", and older portal downloads wrote the browser's locale
("3/12/2025 7:22:01 AM" or "12/03/2025 07:22:01"), where day and month can swap. The order is
decided once per file from its own values and never guessed silently: a first number above 12
means day-first, a second above 12 means month-first; when no value settles it, the caller's
stated order (or the format's documented one) applies, else the file is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

import msgspec

DateOrder = Literal["month-first", "day-first"]
DATE_ORDERS: tuple[DateOrder, ...] = ("month-first", "day-first")

_NUMERIC_DATE = re.compile(
    r"\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}),?\s+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"\s*([AaPp]\.?[Mm]\.?)?\s*(?:UTC|Z)?\s*"
)


class UnreadableTime(ValueError):
    """A sign-in time that is neither ISO 8601 nor a numeric date this file's order reads."""


class AmbiguousDateOrder(ValueError):
    """No value in the file tells day from month, and nobody said which comes first."""


class MixedDateOrder(ValueError):
    """Some values are only valid day-first and others only month-first."""


def is_numeric_date(text: str) -> bool:
    return _NUMERIC_DATE.fullmatch(text) is not None


def decide_date_order(values: Iterable[str], default: DateOrder | None) -> DateOrder | None:
    """The day/month order of a file's numeric dates; None when it has none.

    Raises MixedDateOrder or AmbiguousDateOrder (when `default` is None and nothing decides).
    """
    day_first = month_first = seen = False
    for value in values:
        match = _NUMERIC_DATE.fullmatch(value)
        if match is None:
            continue
        seen = True
        first, second = int(match[1]), int(match[2])
        day_first = day_first or first > 12
        month_first = month_first or second > 12
    if not seen:
        return None
    if day_first and month_first:
        raise MixedDateOrder("some dates are day-first and others month-first")
    if day_first or month_first:
        return "day-first" if day_first else "month-first"
    if default is None:
        raise AmbiguousDateOrder(
            "every date could be read day-first or month-first; state the order explicitly"
        )
    return default


def parse_sign_in_time(text: str, order: DateOrder | None) -> datetime:
    """A UTC datetime from ISO 8601 or a numeric locale date. Raises ValueError."""
    text = text.strip()
    match = _NUMERIC_DATE.fullmatch(text)
    if match is None:
        try:
            parsed = msgspec.convert(text, datetime, strict=False)
        except msgspec.ValidationError:
            raise UnreadableTime(f"not a date and time: {text[:60]!r}") from None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    if order is None:
        raise UnreadableTime(f"day/month order unknown for {text[:60]!r}")
    first, second, year, hour, minute = (int(match[i]) for i in range(1, 6))
    month, day = (first, second) if order == "month-first" else (second, first)
    hour = _twelve_hour(hour, match[8]) if match[8] else hour
    fraction = (match[7] or "0")[:6].ljust(6, "0")
    try:
        return datetime(year, month, day, hour, minute, int(match[6] or 0), int(fraction),
                        tzinfo=UTC)
    except ValueError as exc:
        raise UnreadableTime(f"{text[:60]!r}: {exc}") from None


def _twelve_hour(hour: int, marker: str) -> int:
    if not 1 <= hour <= 12:
        raise UnreadableTime(f"hour {hour} with {marker}")
    afternoon = marker[0] in "Pp"
    return (hour % 12) + (12 if afternoon else 0)
