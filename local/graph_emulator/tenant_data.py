"""The emulated tenant's data, sorted and indexed once at load so a 1000-row page costs little.

Sign-ins are kept newest first (createdDateTime, then id, descending); each gets a `rank` (its
position), so a page cursor is a rank and a per-user index is a sorted list of ranks.
"""

from __future__ import annotations

import gc
import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local.graph_emulator.odata import Compare, Node, Predicate, conjuncts
from shared.bulk import paused_gc

INTERACTIVE = "interactiveUser"
NON_INTERACTIVE = "nonInteractiveUser"

# Properties of the v1.0 signIn resource; everything else a record carries is beta-only.
V1_SIGN_IN_FIELDS = frozenset({
    "id", "createdDateTime", "userDisplayName", "userPrincipalName", "userId", "appId",
    "appDisplayName", "ipAddress", "clientAppUsed", "correlationId", "conditionalAccessStatus",
    "isInteractive", "riskDetail", "riskLevelAggregated", "riskLevelDuringSignIn", "riskState",
    "riskEventTypes", "riskEventTypes_v2", "resourceDisplayName", "resourceId", "status",
    "deviceDetail", "location", "appliedConditionalAccessPolicies",
})


def epoch(value: Any) -> float:
    """Seconds since 1970 for a Graph DateTimeOffset string; -inf when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return -math.inf
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return -math.inf
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


@dataclass(slots=True)
class Record:
    """One row of a collection: the Graph JSON dict plus what filters and ordering need."""

    data: dict[str, Any]
    ts: float
    rank: int = 0
    types: tuple[str, ...] = ()


def sign_in_event_types(row: dict[str, Any]) -> tuple[str, ...]:
    """signInEventTypes as given, else derived from isInteractive (absent means interactive)."""
    types = row.get("signInEventTypes")
    if types:
        return tuple(types)
    return _NON_INTERACTIVE if row.get("isInteractive") is False else _INTERACTIVE


_INTERACTIVE = (INTERACTIVE,)
_NON_INTERACTIVE = (NON_INTERACTIVE,)


@dataclass(slots=True)
class IndexedRows:
    """Ranks of records in newest-first order with their negated timestamps, for bisecting."""

    ranks: list[int]
    neg_ts: list[float]

    def window(self, *, lower: float, upper: float, after_rank: int) -> tuple[int, int]:
        """Positions [start, end) holding records with lower <= ts <= upper, past a cursor."""
        start = bisect_left(self.neg_ts, -upper)
        end = bisect_right(self.neg_ts, -lower)
        if after_rank >= 0:
            start = max(start, bisect_right(self.ranks, after_rank))
        return start, end


class SignInTable:
    """All sign-ins, newest first, with per-user indexes by id and by UPN (lower case)."""

    def __init__(self, rows: Iterable[dict[str, Any]]) -> None:
        rows = list(rows)
        with paused_gc():
            order = sorted(((epoch(row.get("createdDateTime")), str(row.get("id", "")), i)
                            for i, row in enumerate(rows)), reverse=True)
            records = [Record(rows[i], ts, rank, sign_in_event_types(rows[i]))
                       for rank, (ts, _, i) in enumerate(order)]
            self.records = records
            self.all = IndexedRows(list(range(len(records))), [-r.ts for r in records])
            self.by_user = {
                key: IndexedRows(ranks, [-records[i].ts for i in ranks])
                for key, ranks in _ranks_by_user(records).items()
            }
        # Nothing loaded forms a cycle: freeze it so later collections (one per few requests)
        # skip the loaded rows; rows dropped by a later load() are still freed by refcounting.
        gc.freeze()

    def page(self, predicate: Predicate, plan: ScanPlan, *, top: int, after_rank: int
             ) -> tuple[list[Record], bool]:
        """Up to `top` matching records after the cursor, and whether more follow."""
        index = self.all
        if plan.user_key is not None:
            index = self.by_user.get(plan.user_key, IndexedRows([], []))
        start, end = index.window(lower=plan.lower, upper=plan.upper, after_rank=after_rank)
        records, ranks = self.records, index.ranks
        found: list[Record] = []
        for pos in range(start, end):
            rec = records[ranks[pos]]
            if predicate(rec):
                if len(found) == top:
                    return found, True
                found.append(rec)
        return found, False


def _ranks_by_user(records: list[Record]) -> dict[str, list[int]]:
    """Ranks of each user's sign-ins, keyed by user id and by UPN, both in lower case."""
    by_user: dict[str, list[int]] = {}
    for rec in records:
        user_id, upn = rec.data.get("userId"), rec.data.get("userPrincipalName")
        for key in {user_id.lower() if isinstance(user_id, str) else "",
                    upn.lower() if isinstance(upn, str) else ""} - {""}:
            by_user.setdefault(key, []).append(rec.rank)
    return by_user


@dataclass(frozen=True, slots=True)
class ScanPlan:
    """What an indexed scan may narrow to: one user's rows and a time range (inclusive)."""

    user_key: str | None = None
    lower: float = -math.inf
    upper: float = math.inf


def plan_scan(node: Node | None, time_field: str) -> ScanPlan:
    """Read the top-level `and` of a filter for a user equality and time bounds.

    The plan only narrows what is scanned; the full predicate still decides each row, so the
    bounds may be loose (gt is read as ge) without changing the answer.
    """
    if node is None:
        return ScanPlan()
    user_key, lower, upper = None, -math.inf, math.inf
    for part in conjuncts(node):
        if not isinstance(part, Compare) or len(part.path) != 1:
            continue
        name = part.path[0].lower()
        if name in ("userid", "userprincipalname") and part.op == "eq" \
                and isinstance(part.value, str):
            user_key = part.value.lower()
        elif name == time_field.lower() and isinstance(part.value, float):
            if part.op in ("ge", "gt", "eq"):
                lower = max(lower, part.value)
            if part.op in ("le", "lt", "eq"):
                upper = min(upper, part.value)
    return ScanPlan(user_key, lower, upper)


def v1_sign_in(row: dict[str, Any]) -> dict[str, Any]:
    """A sign-in as v1.0 shows it: beta-only properties dropped."""
    return {k: v for k, v in row.items() if k in V1_SIGN_IN_FIELDS}


def select(row: dict[str, Any], fields: Sequence[str] | None) -> dict[str, Any]:
    if not fields:
        return row
    return {k: row[k] for k in fields if k in row}


# In `Directory.roles_of`: membership of a role-assignable group, which protects a user like a
# role beyond User Administrator's reach.
ROLE_GROUP_MEMBER = "member-of-role-assignable-group"


class Directory:
    """Users, groups, risky users, risk detections, role assignments, Conditional Access named
    locations, directory audit rows, and users' authentication methods, inbox rules and
    delegated grants of the emulated tenant."""

    def __init__(self, *, users: Iterable[dict[str, Any]], risky_users: Iterable[dict[str, Any]],
                 risk_detections: Iterable[dict[str, Any]],
                 role_assignments: Iterable[dict[str, Any]],
                 role_eligibilities: Iterable[dict[str, Any]] = (),
                 named_locations: Iterable[dict[str, Any]] = (),
                 directory_audits: Iterable[dict[str, Any]] = (),
                 authentication_methods: Iterable[dict[str, Any]] = (),
                 message_rules: Iterable[dict[str, Any]] = (),
                 permission_grants: Iterable[dict[str, Any]] = (),
                 groups: Iterable[dict[str, Any]] = (),
                 domains: Iterable[dict[str, Any]] | None = None) -> None:
        self.users = [dict(u) for u in users]
        # GET /domains (domain-list). Unless given, a UPN's domain: "The UPN suffix must be a
        # verified domain" of the tenant (learn.microsoft.com/entra/identity/hybrid/connect/
        # plan-connect-userprincipalname), a guest's #EXT# UPN the tenant's onmicrosoft.com one.
        if domains is None:
            names = sorted({str(u.get("userPrincipalName", "")).rpartition("@")[2].lower()
                            for u in self.users} - {""})
            domains = [{"id": name, "isVerified": True} for name in names]
        self.domains = [Record(dict(d), -math.inf) for d in domains]
        # groups carry `_members`, their members' object ids (GET /groups/{id}/members)
        self.groups = {str(g.get("id", "")).lower(): dict(g) for g in groups}
        self.user_by_key: dict[str, dict[str, Any]] = {}
        for user in self.users:
            for key in (user.get("id"), user.get("userPrincipalName")):
                if isinstance(key, str) and key:
                    self.user_by_key[key.lower()] = user
        self.risky_users = [Record(dict(r), epoch(r.get("riskLastUpdatedDateTime")))
                            for r in risky_users]
        detections = [Record(dict(r), epoch(r.get("activityDateTime"))) for r in risk_detections]
        detections.sort(key=lambda r: (r.ts, str(r.data.get("id", ""))), reverse=True)
        self.risk_detections = detections
        self.role_assignments = [Record(dict(r), -math.inf) for r in role_assignments]
        self.role_eligibilities = [Record(dict(r), -math.inf) for r in role_eligibilities]
        self.role_holders: dict[str, set[str]] = {}
        for rec in self.role_assignments + self.role_eligibilities:
            self.role_holders.setdefault(str(rec.data.get("principalId", "")).lower(), set()) \
                .add(str(rec.data.get("roleDefinitionId", "")).lower())
        self.named_locations = [Record(dict(r), -math.inf) for r in named_locations]
        audits = [Record(dict(r), epoch(r.get("activityDateTime"))) for r in directory_audits]
        audits.sort(key=lambda r: (r.ts, str(r.data.get("id", ""))), reverse=True)
        self.audits = audits
        # per-user rows carry `_owner` (methods, rules); grants their principalId
        self.methods = [dict(r) for r in authentication_methods]
        self.rules = [dict(r) for r in message_rules]
        self.grants = [dict(r) for r in permission_grants]

    def user(self, key: str) -> dict[str, Any] | None:
        return self.user_by_key.get(key.lower())

    def holds_role(self, principal_id: str) -> bool:
        """Whether the principal holds a directory role, active or PIM-eligible."""
        return principal_id.lower() in self.role_holders

    def roles_of(self, principal_id: str) -> set[str]:
        """The role template ids the principal holds, active or PIM-eligible, directly or
        through a role-assignable group; a member of such a group also gets
        ROLE_GROUP_MEMBER: only Privileged Authentication or Global Administrator may change
        sensitive attributes of members of role-assignable groups
        (https://learn.microsoft.com/en-us/entra/identity/role-based-access-control/privileged-roles-permissions)."""
        held = set(self.role_holders.get(principal_id.lower(), ()))
        for group in self.groups_of(principal_id):
            if group.get("isAssignableToRole") is True:
                held.add(ROLE_GROUP_MEMBER)
                held |= self.role_holders.get(str(group.get("id", "")).lower(), set())
        return held

    def groups_of(self, principal_id: str) -> list[dict[str, Any]]:
        """The groups the principal is a direct member of (GET /users/{id}/memberOf)."""
        key = principal_id.lower()
        return [g for g in self.groups.values()
                if key in {str(m).lower() for m in g.get("_members", ())}]

    def group(self, group_id: str) -> dict[str, Any] | None:
        return self.groups.get(group_id.lower())

    def principal(self, principal_id: str) -> dict[str, Any] | None:
        """The principal of a role assignment as `$expand=principal` embeds it (a user, or a
        role-assignable group the role is assigned to)."""
        group = self.group(principal_id)
        if group is not None:
            return {"@odata.type": "#microsoft.graph.group", "id": group.get("id"),
                    "displayName": group.get("displayName")}
        user = self.user(principal_id)
        if user is None:
            return None
        return {
            "@odata.type": "#microsoft.graph.user", "id": user.get("id"),
            "displayName": user.get("displayName"),
            "userPrincipalName": user.get("userPrincipalName"),
        }

    def confirm_compromised(self, user_id: str, when: str) -> None:
        """What Identity Protection does on confirmCompromised: the user's risk becomes high."""
        user = self.user(user_id)
        for rec in self.risky_users:
            if str(rec.data.get("id", "")).lower() == user_id.lower():
                risky = rec.data
                break
        else:
            risky = {"id": user_id, "isDeleted": False, "isProcessing": False}
            if user is not None:
                risky["userPrincipalName"] = user.get("userPrincipalName")
                risky["userDisplayName"] = user.get("displayName")
            self.risky_users.append(Record(risky, -math.inf))
        risky.update(riskLevel="high", riskState="confirmedCompromised",
                     riskDetail="adminConfirmedUserCompromised", riskLastUpdatedDateTime=when)

    def knows(self, user_id: str) -> bool:
        return self.user(user_id) is not None or any(
            str(rec.data.get("id", "")).lower() == user_id.lower() for rec in self.risky_users)
