"""How findings name times, places and counts, so every reason reads the same way.

Times are UTC ISO 8601 to the minute (2025-03-08T10:11Z): what a reviewer types into a log query.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.model import SignIn


def when(moment: datetime) -> str:
    if moment.tzinfo is not None and moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%MZ")


def place(sign_in: SignIn) -> str:
    """"London, GB", "GB" (country only) or "an unknown place"."""
    location = sign_in.location
    if location is None or not location.country_or_region:
        return "an unknown place"
    if location.city:
        return f"{location.city}, {location.country_or_region}"
    return location.country_or_region


def origin(sign_in: SignIn) -> str:
    """Place and IP: "London, GB (81.2.69.160)"."""
    ip = sign_in.ip_address
    return f"{place(sign_in)} ({ip})" if ip else place(sign_in)


def count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


def listing(items: list[str], limit: int = 4) -> str:
    """"a, b and c"; longer lists end with "and N more"."""
    shown = items[:limit]
    rest = len(items) - len(shown)
    if rest > 0:
        return ", ".join(shown) + f" and {rest} more"
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + " and " + shown[-1]


def span(first: datetime, last: datetime) -> str:
    if when(first) == when(last):
        return f"at {when(first)}"
    return f"between {when(first)} and {when(last)}"


def duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 120:
        return count(minutes, "minute")
    return f"{seconds / 3600:.1f} hours"
