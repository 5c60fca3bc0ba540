"""Text from the logs, made safe to show.

Sign-in logs are attacker-controlled: a display name or user agent can carry control characters,
terminal escape sequences or bidirectional overrides that make one name look like another. HTML
escaping is Jinja2's job (autoescape); this module removes what no escaping covers.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

# C0 and C1 controls (tab and newline included: a report cell is one line), DEL, and the Unicode
# bidirectional embeddings, overrides and isolates used to disguise text.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def plain(value: object, *, limit: int | None = None) -> str:
    """One line of text for display: unsafe characters become U+FFFD, long text is cut."""
    if value is None:
        return ""
    text = str(value)
    if not text.isprintable():  # every unsafe character is unprintable: most text has none
        text = _UNSAFE.sub("\ufffd", text)
    if limit is not None and len(text) > limit:
        return text[: max(limit - 1, 0)] + "…"
    return text


def utc(moment: datetime) -> datetime:
    """The moment in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def utc_text(moment: datetime, *, seconds: bool = True) -> str:
    """`2025-03-10 07:22:01` (UTC)."""
    moment = utc(moment)
    if moment.year < 1000:  # strftime does not pad such a year to four digits, isoformat does
        return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    # The same text at half strftime's cost: a big tenant's report writes a few hundred thousand.
    return moment.isoformat(" ", "seconds")[: 19 if seconds else 16]


def place_text(city: str | None, state: str | None, country: str | None) -> str:
    """`Seattle, Washington, US`, skipping what is missing; empty when nothing is known."""
    if state and city and state.casefold() == city.casefold():
        state = None  # "Lagos, Lagos, NG" says no more than "Lagos, NG"
    return ", ".join(plain(part) for part in (city, state, country) if part)
