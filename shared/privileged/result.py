"""A privileged-account review as a whole `ReviewResult`: the weekend report's sections for the
accounts with a week that stood out, and `privilegedReview` with one entry per account."""

from __future__ import annotations

from collections.abc import Sequence

from shared.analysis import Timelines, group_by_user
from shared.detect.trusted import TrustedNetworks
from shared.model import DataSource, ReviewResult, SignIn, TenantSummary, Window
from shared.privileged.review import Holdings, review_with_verdicts


def privileged_result(rows: Sequence[SignIn], period: Window, holdings: Holdings, *,
                      others: int, source: str, trusted: TrustedNetworks | None = None,
                      read: Window | None = None, read_detail: str = "",
                      ) -> tuple[ReviewResult, Timelines]:
    """`rows`: the privileged accounts' sign-ins, history before the period included; `others`:
    how many sign-ins of other accounts were read and left out."""
    review, verdicts = review_with_verdicts(rows, period, holdings, trusted=trusted, read=read,
                                            read_detail=read_detail)
    inside = [s for s in rows if period.start <= s.created_date_time <= period.end]
    grouped = group_by_user(inside)
    flagged = {v.user_id for v in verdicts}
    sources = [
        DataSource("privilegedAccounts", True,
                   f"{len(review.accounts)} accounts from {source}; only their sign-ins were "
                   f"kept ({len(rows):,}, history included), {others:,} sign-ins of other "
                   "accounts left out"),
        DataSource("namedLocations", bool(trusted),
                   f"{len(trusted.ranges)} trusted IP ranges" if trusted
                   else "no trusted named locations were given"),
    ]
    result = ReviewResult(
        window=period,
        tenant=TenantSummary(sign_ins=len(inside), users=len(grouped)),
        users=verdicts, sources=sources, privileged_review=review,
    )
    return result, {user: found for user, found in grouped.items() if user in flagged}
