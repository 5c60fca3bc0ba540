"""The privileged-account review of a pipeline run (kind `privileged`): built at finalize from the
run's own write-once evidence, shown with its sign-offs when the report is read later.

Every account holding a privileged role when the run was planned (the scoring context: active
assignments, PIM-eligible ones, PRIVILEGED_ROLE_IDS) is an account of the review, those without a
sign-in in the period included, and so is each member of a role-assignable group holding one
(the role shown as held via that group). Each account's
sign-ins are its timeline in its evidence bundle (hash-checked on read), so the review rests on
what the manifest seals.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from msgspec.structs import replace

from shared.audit.attestations import AttestationRecord
from shared.graph.directory import ELIGIBLE, VIA_GROUP
from shared.model import Attestation, PrivilegedReview, RoleHolding, SignIn, Window
from shared.pipeline.records import RunRecord, SliceRecord, VerdictRecord
from shared.pipeline.scoring import ScoringContext, stored_timelines
from shared.privileged.review import review_privileged
from shared.services import Services

READERS = 8
_VIA = re.compile(r"^(?P<role>.+) \((?P<eligible>eligible, )?" + re.escape(VIA_GROUP)
                  + r"(?P<group>.+)\)$")


def run_review(services: Services, run: RunRecord, context: ScoringContext | None,
               verdicts: Sequence[VerdictRecord], slices: Sequence[SliceRecord]
               ) -> PrivilegedReview | None:
    """The review of a privileged run; None for other runs."""
    if run.kind != "privileged" or context is None:
        return None
    blobs = {v.evidence.name: v.evidence for v in verdicts}
    rows: list[SignIn] = []
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        for data in pool.map(services.store.evidence.read_evidence, blobs.values()):
            for timeline in stored_timelines(data).values():
                rows.extend(timeline)
    holdings = {user: [holding(role) for role in roles] or [RoleHolding("privileged role")]
                for user, roles in context.privileged.items()}
    period = Window(start=run.window_start, end=run.window_end)
    starts = [s.start for s in slices]
    read = Window(start=min(starts), end=period.end) if starts else period
    detail = next((s.detail for s in run.sources if s.name == "privilegedPeriod"),
                  "the whole period")
    return review_privileged(rows, period, holdings, read=read, read_detail=detail,
                             trusted=context.trusted, names=context.privileged_names)


def holding(role: str) -> RoleHolding:
    """A role name as the directory read gives it: PIM-eligible ones end in " (eligible)", those
    held through a role-assignable group in " (via group <name>)" or " (eligible, via group
    <name>)" (`shared.graph.directory.via_group`)."""
    through = _VIA.match(role)
    if through is not None:
        return RoleHolding(through["role"], "eligible" if through["eligible"] else "group",
                           via=through["group"])
    if role.endswith(ELIGIBLE):
        return RoleHolding(role[:-len(ELIGIBLE)], "eligible")
    return RoleHolding(role)


def with_sign_offs(review: PrivilegedReview, signed: Sequence[AttestationRecord]
                   ) -> PrivilegedReview:
    """The review with each account's sign-off, and the accounts still without one."""
    by_user = {a.user_id.lower(): a for a in signed}
    accounts = []
    for account in review.accounts:
        found = by_user.get(account.user_id.lower())
        accounts.append(account if found is None else replace(account, attestation=Attestation(
            account=found.user_principal_name or found.user_id, reviewer=found.reviewer,
            decision=found.decision, comment=found.comment, at=found.recorded_at)))
    return replace(review, accounts=accounts, unreviewed=[
        a.user_principal_name or a.user_id for a in accounts if a.attestation is None])
