"""The risk inventory laid out for the HTML report: one row per risky sign-in or risk detection.

Each row names the user's verdict in this review (a link to the user's section when flagged) and
whether the user has any finding besides the risk itself, so the users this inventory alone
brings to a reviewer's eyes stand out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shared.model import ReviewResult, RiskEntry, UserVerdict
from shared.report.text import place_text, plain, utc_text
from shared.report.timeline import outcome

ROWS_SHOWN = 500  # the CSV and JSON hold every entry
RISK_FINDING = "risky_sign_in"
_LEVEL_CLASSES = frozenset({"low", "medium", "high", "none", "hidden"})
# Where each review says whether Identity Protection could be read: the pipeline names its Graph
# calls, `analyze` names the data it was given.
_PROTECTION_SOURCES = frozenset({"riskDetections", "riskyUsers", "identityProtection"})


@dataclass(frozen=True)
class RiskRow:
    time: str
    kind: str  # "sign-in" or "detection": fixed words
    user: str
    user_id: str
    anchor: str | None  # the flagged user's section
    verdict: str | None  # None: the user had no sign-in in the window, so was not reviewed
    only_risk: bool  # no finding besides Identity Protection's own
    risk_types: str
    level: str
    level_class: str  # a fixed word for the CSS class, never log data
    state: str
    ip: str
    place: str
    outcome: str  # sign-ins: Success / Failure 50126; detections: timing and detail


@dataclass(frozen=True)
class RiskTable:
    rows: list[RiskRow]
    total: int
    sign_ins: int
    detections: int
    users: int
    only_risk_users: int
    unreviewed_users: int
    hidden_sign_ins: int
    hidden_users: int
    missing: list[str]  # why Identity Protection data could not be read, when it could not


def user_lookup(users: Sequence[UserVerdict]) -> dict[str, UserVerdict]:
    """Verdicts by lower-cased object id and UPN (detections may name either)."""
    found: dict[str, UserVerdict] = {}
    for user in users:
        found[user.user_id.lower()] = user
        if user.user_principal_name:
            found.setdefault(user.user_principal_name.lower(), user)
    return found


def verdict_of(entry: RiskEntry, lookup: Mapping[str, UserVerdict]) -> UserVerdict | None:
    return lookup.get(entry.user_id.lower()) or lookup.get(
        (entry.user_principal_name or "").lower())


def inventory_users(result: ReviewResult) -> dict[str, UserVerdict | None]:
    """Each user the inventory names (by lower-cased id), with their verdict when reviewed."""
    lookup = user_lookup(result.users)
    found: dict[str, UserVerdict | None] = {}
    for entry in result.risk_inventory.entries:
        user = verdict_of(entry, lookup)
        found[(user.user_id if user else entry.user_id).lower()] = user
    return found


def only_risk(user: UserVerdict | None) -> bool:
    """No finding besides Identity Protection's (or no review at all)."""
    return user is None or all(f.type == RISK_FINDING for f in user.findings)


def _outcome(entry: RiskEntry) -> str:
    if entry.kind == "signIn":
        code = entry.error_code or 0
        label = {"success": "Success", "failure": "Failure", "interrupt": "Interrupted"}[
            outcome(code)]
        return label if code == 0 else f"{label} {code}"
    parts = [entry.timing, entry.detail if entry.detail not in (None, "none") else None]
    return " · ".join(plain(p, limit=60) for p in parts if p)


def risk_row(entry: RiskEntry, user: UserVerdict | None, anchor: str | None) -> RiskRow:
    loc = entry.location
    level = plain(entry.level, limit=20) or "not given"
    return RiskRow(
        time=utc_text(entry.time) if entry.time else "unknown",
        kind="sign-in" if entry.kind == "signIn" else "detection",
        user=plain(entry.user_principal_name or entry.user_id or "(unknown user)", limit=120),
        user_id=plain(entry.user_id, limit=80),
        anchor=anchor,
        verdict=user.verdict if user else None,
        only_risk=only_risk(user),
        risk_types=", ".join(plain(t, limit=40) for t in entry.risk_types),
        level=level,
        level_class=level if level in _LEVEL_CLASSES else "other",
        state=plain(entry.state, limit=30),
        ip=plain(entry.ip_address, limit=45),
        place=place_text(loc.city, loc.state, loc.country_or_region) if loc else "",
        outcome=_outcome(entry),
    )


def risk_table(result: ReviewResult, anchors: Mapping[str, str],
               limit: int = ROWS_SHOWN) -> RiskTable:
    """The inventory's rows (the first `limit` in time order) and its counts.

    `anchors` maps a flagged user's id to the id of their section in the page."""
    inventory = result.risk_inventory
    lookup = user_lookup(result.users)
    users = inventory_users(result)
    rows = []
    for entry in inventory.entries[:limit]:
        user = verdict_of(entry, lookup)
        rows.append(risk_row(entry, user, anchors.get(user.user_id) if user else None))
    missing = [plain(f"{s.name}: {s.detail}" if s.detail else s.name)
               for s in result.sources if s.name in _PROTECTION_SOURCES and not s.available]
    return RiskTable(
        rows=rows, total=len(inventory.entries),
        sign_ins=sum(e.kind == "signIn" for e in inventory.entries),
        detections=sum(e.kind == "detection" for e in inventory.entries),
        users=len(users), only_risk_users=sum(only_risk(u) for u in users.values()),
        unreviewed_users=sum(u is None for u in users.values()),
        hidden_sign_ins=inventory.hidden_level_sign_ins,
        hidden_users=inventory.hidden_level_users, missing=missing,
    )
