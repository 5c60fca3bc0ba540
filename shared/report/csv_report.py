"""The review as CSV: one row per user, flagged users first.

Safe to open in a spreadsheet: a cell that starts with = + - @ tab or carriage return would be
read as a formula (CSV injection), so such cells get a leading apostrophe, as OWASP advises.
"""

from __future__ import annotations

import csv
import io

from shared.model import ReviewResult, UserVerdict
from shared.report.html import flagged_first
from shared.report.loss import loss_lines

COLUMNS = (
    "userId", "userPrincipalName", "verdict", "privileged", "gotIn", "thinBaseline",
    "findingTypes", "findings", "signIns", "failures", "countries", "ips", "devices",
    "proposedActions", "reasons",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """The cell, with a leading apostrophe when a spreadsheet would read it as a formula."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def _row(user: UserVerdict) -> list[str]:
    types = sorted({finding.type for finding in user.findings})
    cells = [
        user.user_id, user.user_principal_name or "", user.verdict,
        _yes_no(user.privileged), _yes_no(user.got_in), _yes_no(user.thin_baseline),
        ";".join(types), str(len(user.findings)), str(user.stats.sign_ins),
        str(user.stats.failures), ";".join(user.stats.countries), str(user.stats.ips),
        str(user.stats.devices), ";".join(user.proposed_actions), " | ".join(user.reasons),
    ]
    return [spreadsheet_safe(cell) for cell in cells]


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def render_csv(result: ReviewResult) -> str:
    """CSV text with a header row, one row per user, highest verdict first. A review of exported
    logs starts with `# ` comment lines: the loss summary (what was read, kept and lost)."""
    out = io.StringIO()
    if result.input is not None:
        out.writelines(f"# {line}\r\n" for line in loss_lines(result.input))
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(_row(user) for user in flagged_first(result.users))
    return out.getvalue()
