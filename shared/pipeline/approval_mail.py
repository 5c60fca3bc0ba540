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

from shared.model import UserVerdict
from shared.remediation_objects import CONTAINMENT, describe
from shared.remediation_plan import summary

APPROVER_REPORT_ROUTE = "/api/approvals/reports/{run_id}"


def report_url(public_base_url: str | None, run_id: str) -> str | None:
    """The absolute address of the run's report for approvers, or None when the app does not
    know its public address (PUBLIC_BASE_URL unset: local runs)."""
    if not public_base_url:
        return None
    path = APPROVER_REPORT_ROUTE.format(run_id=quote(run_id, safe=""))
    return public_base_url.rstrip("/") + path


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
