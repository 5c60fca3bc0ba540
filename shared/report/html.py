"""The HTML report: one self-contained file (inline CSS and SVG, no scripts, no fetches).

Everything from the logs is attacker-controlled, so the template is rendered with autoescaping on,
log text only ever lands in element text (never in attributes, <style> or URLs), and anchors and
CSS classes come from fixed words and counters, never from the data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from shared.bulk import paused_gc
from shared.model import LEVELS, Finding, ReviewResult, SignIn, UserVerdict, level_rank
from shared.report.chart import Chart, activity_chart
from shared.report.loss import loss_lines
from shared.report.map_picture import MapPicture, map_picture
from shared.report.outlines import world_outlines
from shared.report.risk_table import risk_table
from shared.report.text import plain, utc_text
from shared.report.timeline import TimelineGap, TimelineRow, timeline

_TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class RemediationLine:
    action: str
    status: str
    approver: str
    when: str
    detail: str


@dataclass(frozen=True)
class UserSection:
    anchor: str
    verdict: UserVerdict
    upn: str
    user_id: str
    display_name: str
    findings: list[tuple[int, Finding]]
    rows: list[TimelineRow | TimelineGap]
    sign_in_count: int
    picture: MapPicture
    remediations: list[RemediationLine] | None
    addresses: list[str] = field(default_factory=list)  # every IP of the window, first use first


_REMEDIATION_FIELDS = {
    "action": ("action", "actions", "type"),
    "status": ("status", "state", "outcome", "result"),
    "approver": ("approver", "approvedBy", "approved_by"),
    "when": ("completedAt", "recordedAt", "approvedAt", "at", "time", "timestamp", "when"),
}


def _field(record: Mapping[str, Any], names: Sequence[str]) -> str:
    for name in names:
        value = record.get(name)
        if value not in (None, "", []):
            return ", ".join(map(plain, value)) if isinstance(value, list) else plain(value)
    return ""


def remediation_lines(records: Sequence[Mapping[str, Any]]) -> list[RemediationLine]:
    """Remediation records (any of the usual key spellings) as table rows; other keys as detail."""
    used = {name for names in _REMEDIATION_FIELDS.values() for name in names}
    lines = []
    for record in records:
        extra = "; ".join(f"{plain(k)}: {plain(v, limit=120)}" for k, v in record.items()
                          if k not in used and v not in (None, "", []))
        lines.append(RemediationLine(detail=extra, **{
            key: _field(record, names) for key, names in _REMEDIATION_FIELDS.items()}))
    return lines


def flagged_first(users: Sequence[UserVerdict]) -> list[UserVerdict]:
    """Highest level first; within a level privileged accounts, then those the attacker got in."""
    return sorted(users, key=lambda u: (-level_rank(u.verdict), not u.privileged, not u.got_in,
                                        (u.user_principal_name or u.user_id).lower()))


def _display_name(sign_ins: Sequence[SignIn]) -> str:
    names = [s.user_display_name for s in sign_ins if s.user_display_name]
    return plain(names[-1], limit=80) if names else ""


def user_section(
    number: int,
    verdict: UserVerdict,
    sign_ins: Sequence[SignIn],
    remediations: Sequence[Mapping[str, Any]] | None,
) -> UserSection:
    return UserSection(
        anchor=f"user-{number}",
        verdict=verdict,
        upn=plain(verdict.user_principal_name or "(no UPN)", limit=120),
        user_id=plain(verdict.user_id, limit=80),
        display_name=_display_name(sign_ins),
        findings=list(enumerate(verdict.findings, start=1)),
        rows=timeline(sign_ins, verdict.findings),
        sign_in_count=len(sign_ins),
        picture=map_picture(sign_ins),
        remediations=remediation_lines(remediations) if remediations is not None else None,
        addresses=addresses_used(sign_ins),
    )


def addresses_used(sign_ins: Sequence[SignIn]) -> list[str]:
    """Every IP address the user's sign-ins of the window came from, in order of first use: a
    timeline long enough to be shortened still names them all."""
    seen: dict[str, None] = {}
    for sign_in in sorted(sign_ins, key=lambda s: s.created_date_time):
        if sign_in.ip_address:
            seen.setdefault(plain(sign_in.ip_address, limit=45), None)
    return list(seen)


def _window_length(result: ReviewResult) -> str:
    hours = round((result.window.end - result.window.start).total_seconds() / 3600)
    days, rest = divmod(hours, 24)
    parts = [f"{days} day{'s' * (days != 1)}" if days else "", f"{rest} h" if rest else ""]
    return " ".join(p for p in parts if p) or "under an hour"


# A template line's indentation: in the page it follows a line break, where `squeeze` takes it
# (and any whitespace the data adds) out. Not after a tag whose line break trim_blocks removes:
# there the indentation may follow other text.
_SOURCE_INDENT = re.compile(r"(?<![%#]\})\n[ \t]+")


class _Unindented(jinja2.FileSystemLoader):
    """The templates without their indentation, which `squeeze` would take out of the page
    anyway: a big tenant's page is built without it rather than rid of it afterwards."""

    def get_source(self, environment: jinja2.Environment, template: str
                   ) -> tuple[str, str, Callable[[], bool]]:
        source, name, uptodate = super().get_source(environment, template)
        return _SOURCE_INDENT.sub("\n", source), name, uptodate


def _environment(loader: jinja2.BaseLoader | None = None) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=loader or _Unindented(_TEMPLATES),
        auto_reload=False,  # the templates ship with the code: no file check per user section
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["plain"] = plain
    env.filters["utc_time"] = lambda moment: utc_text(moment, seconds=False)
    env.tests["gap"] = lambda row: isinstance(row, TimelineGap)  # sign-ins a timeline leaves out
    return env


_ENV = _environment()


def _chart(result: ReviewResult, timelines: Mapping[str, Sequence[SignIn]]) -> Chart:
    every = (s for sign_ins in timelines.values() for s in sign_ins)
    return activity_chart(result.window, every)


def render_review(
    result: ReviewResult,
    timelines: Mapping[str, Sequence[SignIn]],
    *,
    remediations: Mapping[str, list[dict[str, Any]]] | None = None,
    title: str | None = None,
) -> str:
    """The review as one self-contained HTML page.

    `timelines` maps a user id to that user's sign-ins in the window (any order; shown in time
    order). `remediations` maps a user id to that user's remediation records, when there are any.
    A big tenant's page is millions of small strings, so the cyclic collector is paused while it
    is built (shared.bulk).
    """
    with paused_gc():
        return _render_review(result, timelines, remediations, title)


def _render_review(
    result: ReviewResult,
    timelines: Mapping[str, Sequence[SignIn]],
    remediations: Mapping[str, list[dict[str, Any]]] | None,
    title: str | None,
) -> str:
    ordered = flagged_first(result.users)
    flagged = [u for u in ordered if u.verdict != "none"]
    sections = [
        user_section(number, user, timelines.get(user.user_id, ()),
                     remediations.get(user.user_id, []) if remediations is not None else None)
        for number, user in enumerate(flagged, start=1)
    ]
    counts = {level: sum(u.verdict == level for u in result.users) for level in LEVELS}
    window_text = f"{utc_text(result.window.start, seconds=False)} to " \
                  f"{utc_text(result.window.end, seconds=False)} UTC"
    return squeeze(_ENV.get_template("review.html.j2").render(
        title=plain(title) if title else f"Sign-in review, {window_text}",
        result=result,
        window_text=window_text,
        window_length=_window_length(result),
        levels=[(level, counts[level]) for level in reversed(LEVELS)],
        flagged_count=len(flagged),
        got_in_count=sum(u.got_in for u in flagged),
        privileged_count=sum(u.privileged for u in flagged),
        chart=_chart(result, timelines),
        charted=sum(len(s) for s in timelines.values()),
        sections=sections,
        unflagged=[u for u in ordered if u.verdict == "none"],
        risk=risk_table(result, {s.verdict.user_id: s.anchor for s in sections}),
        outlines=world_outlines() if sections else None,
        remediations_given=remediations is not None,
        sprays=spray_rows(result),
        loss=loss_lines(result.input) if result.input is not None else [],
    ))


@dataclass(frozen=True)
class SprayRow:
    """One row of the report's single spray section (and its tile's count)."""

    source: str
    kind: str
    addresses: list[str]
    network: int | None
    first_attempt: Any
    last_attempt: Any
    failures: int | None
    accounts_tried: int
    accounts_succeeded: int


def spray_rows(result: ReviewResult) -> list[SprayRow]:
    """The window's campaigns, then each 20-minute spraying source no campaign holds: one list,
    so the section and the tile that counts it cannot disagree."""
    rows = [SprayRow(c.source, c.kind, list(c.addresses), c.network, c.first_attempt,
                     c.last_attempt, c.failures, c.accounts_tried, c.accounts_succeeded)
            for c in result.campaigns]
    held = {address for c in result.campaigns for address in c.addresses}
    rows += [SprayRow(s.ip, "burst", [s.ip], s.network, None, None, None, s.users,
                      s.succeeded_users)
             for s in result.tenant.spraying_sources if s.ip not in held]
    return rows


_INDENT = re.compile(r"\n[ \t]+")


def squeeze(page: str) -> str:
    """The page without the templates' indentation (a tenth of a large report's bytes); no
    element of the report keeps whitespace as written (no pre, no white-space: pre)."""
    return _INDENT.sub("\n", page)
