"""Compact sign-in records: repeated values shared, not copied, once records are decoded.

A decoded sign-in holds its own copy of every string, yet most of them repeat across a tenant's
rows: a user's id, name and UPN on each of their sign-ins, the few apps, client apps, user
agents and risk words, the same city with the same coordinates, the same failure with the same
reason. `compact` makes the repeated values that are largest for the CPU they cost one shared
object each (SHARED_FIELDS). The work runs in C (a map over the page, one dict look-up per
value), and shared values carry their hash already, which detections do not compute again.

Only values are shared, never changed: a record compares, hashes and encodes as before.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from itertools import repeat
from operator import attrgetter

from msgspec.structs import force_setattr

from shared.model import SignIn

# Fields whose values repeat across many rows (strings, and the frozen nested records, which
# cache their hash). Chosen by what sharing saves, measured on the score benchmark's million
# sign-ins: the place (city, state, country and coordinates: about 390 bytes a record), the user
# agent (about 180), the device (4 strings; 0.6 us a record to share, and 400 MB less memory)
# and the status (the error and its reason: 200 MB less). Shared devices and statuses also make
# the review's counting cheaper (each baseline counts them per user): decode + review of the
# million took 9.85 s of CPU sharing the first two, 9.4 s sharing all four. The address is not
# shared: 59,000 distinct among 300,000 rows, it cost as much as it saved. Risk words need no
# pass: they decode as the literals of their type (shared.model.RiskLevel).
SHARED_FIELDS = ("user_agent", "location", "device_detail", "status")
MAX_SHARED = 500_000  # distinct values kept for sharing; past this the table starts afresh

_shared: dict[Hashable, Hashable] = {}
_getters = [(name, attrgetter(name)) for name in SHARED_FIELDS]


def compact(sign_ins: list[SignIn]) -> list[SignIn]:
    """The same records, each repeated value now shared with earlier records (in place)."""
    if len(_shared) > MAX_SHARED:
        _shared.clear()
    share = _shared.setdefault
    for name, getter in _getters:
        values = list(map(getter, sign_ins))
        deque(map(force_setattr, sign_ins, repeat(name), map(share, values, values)), maxlen=0)
    return sign_ins
