"""The review as CSV: one row per user, flagged users first (report.csv); and the risk inventory,
one row per risky sign-in or risk detection in time order (report-risk.csv).

The inventory is a file of its own rather than a section of report.csv: a spreadsheet imports one
header row per file, and an analyst filters and sorts events by time, user and level, which rows of
two shapes in one sheet would break.

Safe to open in a spreadsheet: a cell that starts with = + - @ tab or carriage return would be
read as a formula (CSV injection), so such cells get a leading apostrophe, as OWASP advises.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from shared.model import ReviewResult, RiskEntry, UserVerdict
from shared.report.html import flagged_first
from shared.report.risk_table import only_risk, user_lookup, verdict_of
from shared.report.text import plain, utc

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
    """CSV text with a header row, one row per user, highest verdict first: a clean table that
    spreadsheets read as it is. The loss summary of exported logs (what was read, kept and lost)
    goes to stderr, the JSON and the HTML, not into the table."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(_row(user) for user in flagged_first(result.users))
    return out.getvalue()


RISK_COLUMNS = (
    "time", "source", "userPrincipalName", "userId", "verdict", "otherFindings",
    "riskEventTypes", "riskLevel", "riskLevelAggregated", "riskState", "riskDetail",
    "detectionTiming", "detectedTime", "ipAddress", "city", "region", "country", "errorCode",
    "signInId", "detectionId",
)


def _iso(moment: datetime | None) -> str:
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def _risk_row(entry: RiskEntry, user: UserVerdict | None) -> list[str]:
    loc = entry.location
    cells = [
        _iso(entry.time), entry.kind, entry.user_principal_name or "", entry.user_id,
        user.verdict if user else "not reviewed", _yes_no(not only_risk(user)),
        ";".join(entry.risk_types), entry.level or "", entry.aggregated_level or "",
        entry.state or "", entry.detail or "", entry.timing or "", _iso(entry.detected),
        entry.ip_address or "", (loc.city or "") if loc else "", (loc.state or "") if loc else "",
        (loc.country_or_region or "") if loc else "",
        "" if entry.error_code is None else str(entry.error_code),
        entry.sign_in_id or "", entry.detection_id or "",
    ]
    return [spreadsheet_safe(plain(cell)) for cell in cells]


def render_risk_csv(result: ReviewResult) -> str:
    """The risk inventory as CSV text with a header row, one row per entry, in time order."""
    lookup = user_lookup(result.users)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(RISK_COLUMNS)
    writer.writerows(_risk_row(entry, verdict_of(entry, lookup))
                     for entry in result.risk_inventory.entries)
    return out.getvalue()


PRIVILEGED_COLUMNS = (
    "userId", "userPrincipalName", "roles", "verdict", "dormant", "signIns", "successfulSignIns",
    "byMonth", "lastSuccessfulSignIn", "countries", "networks", "devices", "applications",
    "singleFactorSignIns", "legacyProtocolSignIns", "unmanagedDeviceSignIns", "failures",
    "lockouts", "findingTypes", "attention", "proposal", "decision", "reviewer", "signedOffAt",
    "comment",
)


def render_privileged_csv(result: ReviewResult) -> str:
    """The privileged-account review, one row per account in the report's order (what needs a
    decision first); a clean table, the loss summary going to stderr, the JSON and the HTML."""
    review = result.privileged_review
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(PRIVILEGED_COLUMNS)
    for a in review.accounts if review is not None else ():
        signed = a.attestation
        cells = [
            a.user_id, a.user_principal_name or "",
            ";".join(f"{r.role} ({r.assignment}{' via ' + r.via if r.via else ''})"
                     for r in a.roles),
            a.verdict, _yes_no(a.dormant), str(a.sign_ins), str(a.successful_sign_ins),
            ";".join(f"{m.month}:{m.sign_ins}/{m.successful_sign_ins}" for m in a.by_month),
            _iso(a.last_successful_sign_in),
            ";".join(a.countries), ";".join(a.networks), ";".join(a.devices),
            ";".join(a.applications), str(a.single_factor_sign_ins),
            str(a.legacy_protocol_sign_ins), str(a.unmanaged_device_sign_ins), str(a.failures),
            str(a.lockouts), ";".join(sorted({f.type for f in a.findings})),
            " | ".join(a.attention), " | ".join(a.proposal),
            signed.decision if signed else "", signed.reviewer if signed else "",
            _iso(signed.at) if signed else "", signed.comment if signed else "",
        ]
        writer.writerow([spreadsheet_safe(plain(cell)) for cell in cells])
    return out.getvalue()
