"""Who holds privilege, read from a file: one account a line, optionally with its role and how.

    admin@contoso.com                                  # a privileged role, unnamed
    admin@contoso.com, Global Administrator             # assigned (active)
    7f1c...-object-id, Security Administrator, eligible # PIM-eligible
    ops@contoso.com, Exchange Administrator, group, Tier-0 admins

An account may appear on several lines (one a role). `how` is `active`, `eligible` or `group`
(then the group's name follows). Blank lines and # comments are ignored; a line with an unknown
`how` is refused with its line number.
"""

from __future__ import annotations

from shared.errors import InputError
from shared.model import RoleHolding

ASSIGNMENTS = ("active", "eligible", "group")
UNNAMED = "privileged role"


def parse_holdings(text: str, source: str = "") -> dict[str, list[RoleHolding]]:
    """Account (lower case) -> its role holdings, in the order given."""
    found: dict[str, list[RoleHolding]] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = [part.strip() for part in line.split(",")]
        account = parts[0].lower()
        if not account:
            raise InputError("no account before the first comma", source=source, line=number)
        role = parts[1] if len(parts) > 1 and parts[1] else UNNAMED
        how = parts[2].lower() if len(parts) > 2 and parts[2] else "active"
        if how not in ASSIGNMENTS:
            raise InputError(f"{parts[2]!r} is not one of {', '.join(ASSIGNMENTS)}",
                             source=source, line=number)
        via = ", ".join(parts[3:]) or None if how == "group" else None
        holding = RoleHolding(role=role, assignment=how, via=via)
        held = found.setdefault(account, [])
        if holding not in held:
            held.append(holding)
    return found
