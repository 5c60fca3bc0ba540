"""The approval mail's body and report link, rendered here and sent by the Logic App as they are.

The Office 365 connector's approval mail body is HTML (Outlook renders it so): line breaks in
plain text collapse, and a relative link leads nowhere from a mail client. So each verdict's body
is one HTML fragment with every value escaped, and the link is absolute: the approvers' report
route, which in Azure sits behind the function app's platform sign-in for the approvers' group
(infra/modules/site-auth.bicep).
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from shared.model import PrivilegedReview, UserVerdict
from shared.remediation_objects import CONTAINMENT, describe
from shared.remediation_plan import summary

APPROVER_REPORT_ROUTE = "/api/approvals/reports/{run_id}"
# Where an approver signs an account off with their platform sign-in (docs/api.md).
APPROVER_ATTESTATIONS_ROUTE = "/api/approvals/privileged-reviews/{run_id}/attestations"


def report_url(public_base_url: str | None, run_id: str) -> str | None:
    """The absolute address of the run's report for approvers, or None when the app does not
    know its public address (PUBLIC_BASE_URL unset: local runs)."""
    if not public_base_url:
        return None
    path = APPROVER_REPORT_ROUTE.format(run_id=quote(run_id, safe=""))
    return public_base_url.rstrip("/") + path


def attestations_url(public_base_url: str | None, run_id: str) -> str | None:
    """The absolute address approvers sign accounts off at, None without PUBLIC_BASE_URL."""
    if not public_base_url:
        return None
    path = APPROVER_ATTESTATIONS_ROUTE.format(run_id=quote(run_id, safe=""))
    return public_base_url.rstrip("/") + path


def review_request(review: PrivilegedReview, run_id: str, report: str | None,
                   attest: str | None) -> dict[str, object]:
    """What a privileged-account review asks the approvers' group, quiet quarter or not: every
    account to sign off (what needs a decision first, as the report orders them), the dormant
    ones, the report link and the sign-off route; `mailHtml` the mail's body, every value
    escaped, as the approval mails' are."""
    period = f"{review.period.start:%Y-%m-%d} to {review.period.end:%Y-%m-%d}"
    dormant = [a.user_principal_name or a.user_id for a in review.accounts if a.dormant]
    rows = "".join(
        f"<li>{escape(a.user_principal_name or a.user_id)}: {escape(a.verdict)}"
        f"{' (dormant)' if a.dormant else ''}; {escape('; '.join(a.attention) or 'nothing')}"
        f" &rarr; proposed: {escape(', '.join(a.proposal))}</li>" for a in review.accounts)
    if report:
        link = (f'<p><a href="{escape(report, quote=True)}">Open the review</a> '
                "(sign in with your work account)</p>")
    else:
        link = "<p>The report link is not available: PUBLIC_BASE_URL is not set.</p>"
    sign_off = (f"<p>Sign each account off (keep, remove-role or investigate) with a POST to "
                f"{escape(attest)}, signed in as for the report.</p>" if attest else "")
    parts = [
        f"<p><b>Privileged-account review:</b> {escape(period)}</p>",
        f"<p><b>Read:</b> {escape(review.read_detail)}</p>",
        f"<p><b>Accounts to sign off:</b> {len(review.accounts)}; dormant: "
        f"{escape(', '.join(dormant)) or 'none'}</p>",
        f"<ul>{rows}</ul>" if rows else "",
        f"<p><b>Run:</b> {escape(run_id)}</p>",
        link,
        sign_off,
    ]
    return {
        "subject": f"Sign-in review: sign off the privileged-account review for {period} "
                   f"({len(review.accounts)} accounts, {len(dormant)} dormant)",
        "period": {"start": review.period.start.isoformat(),
                   "end": review.period.end.isoformat()},
        "accounts": [{"userId": a.user_id, "userPrincipalName": a.user_principal_name,
                      "verdict": a.verdict, "dormant": a.dormant, "proposal": a.proposal}
                     for a in review.accounts],
        "dormant": dormant,
        "reportUrl": report,
        "attestationsUrl": attest,
        "mailHtml": "".join(parts),
    }


def mail_html(user: UserVerdict, run_id: str, link: str | None) -> str:
    """One verdict's approval mail body: one line of HTML, nothing unescaped."""
    who = escape(user.user_principal_name or user.user_id)
    flags = [label for label, on in (("privileged account", user.privileged),
                                     ("signed in", user.got_in)) if on]
    verdict = escape(user.verdict) + (f" ({escape(', '.join(flags))})" if flags else "")
    reasons = "".join(f"<li>{escape(reason)}</li>" for reason in user.reasons)
    actions = escape(", ".join(user.proposed_actions)) or "none"
    note = summary(user.remediation)
    # Exactly which method, rule and grant the containment steps remove (and nothing else).
    objects = "".join(f"<li>{escape(line)}</li>" for line in describe(user.findings)) \
        if set(CONTAINMENT) & set(user.proposed_actions) else ""
    if link:
        report = (f'<p><a href="{escape(link, quote=True)}">Open the report</a> '
                  "(sign in with your work account)</p>")
    else:
        report = "<p>The report link is not available: PUBLIC_BASE_URL is not set.</p>"
    parts = [
        f"<p><b>User:</b> {who}</p>",
        f"<p><b>Verdict:</b> {verdict}</p>",
        f"<p><b>Why:</b></p><ul>{reasons}</ul>" if reasons else "",
        f"<p><b>Proposed:</b> {actions}</p>",
        f"<p><b>What the attacker left, and will go once approved:</b></p><ul>{objects}</ul>"
        if objects else "",
        # Which steps run here, which need a role, which are for on-premises AD (no approval
        # here can make Graph carry those out).
        f"<p><b>What Graph will do:</b> {escape(note)}</p>" if note else "",
        f"<p><b>Run:</b> {escape(run_id)}</p>",
        report,
    ]
    return "".join(parts)
