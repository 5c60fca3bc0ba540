"""Which inbox rules hide or divert mail: what attackers leave behind in a mailbox.

Entra ID Protection raises "Suspicious inbox manipulation rules" for rules that delete or move
messages; Business Email Compromise playbooks add forwarding or redirecting mail outside the
organisation (https://learn.microsoft.com/en-us/defender-xdr/alert-grading-playbook-inbox-
manipulation-rules). A rule is judged on its actions (messageRuleActions: forwardTo,
forwardAsAttachmentTo, redirectTo, delete, permanentDelete, markAsRead, moveToFolder). Graph
gives a rule no creation time and does not list hidden rules, so a rule cannot be tied to a
sign-in by time: it counts only for a user whose sign-in is already suspicious.

moveToFolder holds a folder id; the well-known names below are matched too (what the emulator
and exports written by hand carry); an id is reported as "a folder" without judging it.
"""

from __future__ import annotations

from shared.persistence.records import InboxRule, Recipient

# Well-known folders an attacker moves mail to so the user never sees it (mailFolder's
# well-known names: https://learn.microsoft.com/en-us/graph/api/resources/mailfolder).
HIDING_FOLDERS = frozenset({"deleteditems", "rssfeeds", "archive", "junkemail",
                            "conversationhistory", "rss feeds", "deleted items"})


def _addresses(recipients: list[Recipient] | None) -> list[str]:
    return [r.email_address.address.lower() for r in recipients or ()
            if r.email_address is not None and r.email_address.address]


def forwards_to(rule: InboxRule) -> list[str]:
    """Every address the rule forwards or redirects mail to (lower case)."""
    actions = rule.actions
    if actions is None:
        return []
    return (_addresses(actions.forward_to) + _addresses(actions.forward_as_attachment_to)
            + _addresses(actions.redirect_to))


def outside(addresses: list[str], tenant_domains: list[str]) -> list[str]:
    """The addresses whose domain is not one of the tenant's (all of them when none is known)."""
    domains = {d.lower() for d in tenant_domains}
    return [a for a in addresses
            if not domains or a.rpartition("@")[2] not in domains]


def suspicion(rule: InboxRule, tenant_domains: list[str]) -> tuple[str, bool] | None:
    """Why the rule hides or diverts mail, and whether it sends mail outside the tenant; None
    for a rule that does neither (filing into a folder, flagging) or is disabled."""
    actions = rule.actions
    if actions is None or rule.is_enabled is False:
        return None
    external = outside(forwards_to(rule), tenant_domains)
    if external:
        return f"forwards mail outside the organisation to {', '.join(external)}", True
    if forwards_to(rule):
        return f"forwards mail to {', '.join(forwards_to(rule))}", False
    if actions.permanent_delete or actions.delete:
        return "deletes the mail it matches", False
    folder = (actions.move_to_folder or "").strip().lower()
    if folder in HIDING_FOLDERS:
        return f"moves the mail it matches to {actions.move_to_folder}", False
    if actions.mark_as_read and folder:
        return "marks the mail it matches as read and moves it to a folder", False
    return None
