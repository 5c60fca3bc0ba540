"""The review as plain terminal text, laid out by rich to the width asked for (the terminal's, or
100 columns in a file): `analyze --output table`, the demo. An address is never broken across
lines while the terminal is wide enough to hold it.

Log text goes in as `rich.text.Text`, never as markup, so a UPN like `[bold]x` prints as written;
control characters (terminal escape sequences) are removed before anything is printed.
"""

from __future__ import annotations

import io
import textwrap

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from shared.model import LEVELS, CampaignSummary, ReviewResult, UserVerdict
from shared.report.html import flagged_first
from shared.report.loss import counted, loss_lines
from shared.report.risk_table import inventory_users, only_risk
from shared.report.text import plain, utc_text

_REASONS_SHOWN = 3
QUIET_ROWS = 20  # users with nothing flagged listed before "... and N more"


def _summary_lines(result: ReviewResult) -> list[Text]:
    window = f"{utc_text(result.window.start, seconds=False)} to " \
             f"{utc_text(result.window.end, seconds=False)} UTC"
    counts = {level: sum(u.verdict == level for u in result.users) for level in LEVELS}
    levels = ", ".join(f"{counts[level]} {level}" for level in reversed(LEVELS))
    lines = [
        Text(f"Sign-in review {window}", style="bold"),
        Text(f"{counted(result.tenant.sign_ins, 'sign-in')}, "
             f"{counted(len(result.users), 'user')} reviewed: {levels}"),
    ]
    if result.input is not None:
        lines.extend(Text(f"  {line}") for line in loss_lines(result.input))
    for source in result.sources:
        state = "used" if source.available else "MISSING"
        detail = f": {plain(source.detail, limit=70)}" if source.detail else ""
        lines.append(Text(f"  {state:7} {plain(source.name, limit=60)}{detail}"))
    for spray in result.tenant.spraying_sources:
        network = f" (AS{spray.network})" if spray.network is not None else ""
        lines.append(Text(f"  spray source {plain(spray.ip, limit=45)}{network}: "
                          f"{counted(spray.failed_users, 'user')} failed, "
                          f"{spray.succeeded_users:,} succeeded"))
    return lines


def _risk_lines(result: ReviewResult) -> list[Text]:
    """The risk inventory in one line (the HTML, JSON and report-risk.csv hold every entry)."""
    entries = result.risk_inventory.entries
    hidden = result.risk_inventory.hidden_level_sign_ins
    lines = []
    if entries:
        users = inventory_users(result)
        quiet = sum(only_risk(u) for u in users.values())
        signs = sum(e.kind == "signIn" for e in entries)
        lines.append(Text(f"  risk inventory: {counted(signs, 'risky sign-in')}, "
                          f"{counted(len(entries) - signs, 'risk detection')}, "
                          f"{counted(len(users), 'user')} ({quiet} with no other finding)"))
    if hidden:
        lines.append(Text(f"  risk level hidden (no Entra ID P2) on {counted(hidden, 'sign-in')}"))
    return lines
def _campaign_table(campaigns: list[CampaignSummary]) -> Table:
    """One row per spray campaign: source, extent, accounts tried and where it got in."""
    table = Table(title="Spray campaigns over the window", box=box.SIMPLE_HEAD, expand=True,
                  pad_edge=False, show_edge=False, collapse_padding=True)
    table.add_column("Source", ratio=3, overflow="fold")
    table.add_column("Kind", no_wrap=True)
    table.add_column("First attempt", no_wrap=True)
    table.add_column("Last attempt", no_wrap=True)
    table.add_column("Tried", justify="right", no_wrap=True)
    table.add_column("Got in", justify="right", no_wrap=True)
    for campaign in campaigns:
        table.add_row(
            Text(plain(campaign.source, limit=80)),
            Text(campaign.kind),
            Text(utc_text(campaign.first_attempt, seconds=False)),
            Text(utc_text(campaign.last_attempt, seconds=False)),
            Text(f"{campaign.accounts_tried:,}"),
            Text(f"{campaign.accounts_succeeded:,}" if campaign.accounts_succeeded else "0"),
        )
    return table


def _user_table(users: list[UserVerdict], width: int = 100) -> Table:
    table = Table(box=box.SIMPLE_HEAD, expand=True, pad_edge=False, show_edge=False,
                  collapse_padding=True)
    table.add_column("Level", no_wrap=True)
    # The longest address shown fits on one line, as far as the width leaves room (the other
    # columns need about 50); past that it folds rather than hide part of an address.
    longest = max((len(plain(u.user_principal_name or u.user_id, limit=80)) for u in users),
                  default=24)
    table.add_column("User", ratio=3, min_width=max(24, min(longest, width - 50)),
                     overflow="fold")
    table.add_column("Priv", no_wrap=True)
    table.add_column("Got in", no_wrap=True)
    # one finding a line: a type name is never folded mid-word ("unfamiliar_location" is 19)
    table.add_column("Findings", ratio=2, min_width=19, no_wrap=True, overflow="ellipsis")
    table.add_column("Signins", justify="right", no_wrap=True)
    table.add_column("Fail", justify="right", no_wrap=True)
    table.add_column("Where", min_width=5, max_width=10, overflow="fold")  # wraps at ", "
    for user in users:
        # context (off-hours on a known device and network) is no finding of an unflagged user
        types = sorted({f.type for f in user.findings if not f.context or user.verdict != "none"})
        table.add_row(
            Text(user.verdict.upper() if user.verdict != "none" else "-"),
            Text(plain(user.user_principal_name or user.user_id, limit=80)),
            Text("yes" if user.privileged else ""),
            Text("YES" if user.got_in else ""),
            Text("\n".join(plain(t, limit=40) for t in types)),
            Text(f"{user.stats.sign_ins:,}"),
            Text(f"{user.stats.failures:,}"),
            Text(", ".join(plain(c, limit=4) for c in user.stats.countries)),
        )
    return table


def _reasons(user: UserVerdict, width: int) -> list[Text]:
    name = plain(user.user_principal_name or user.user_id, limit=80)
    lines = [Text(f"{user.verdict.upper()}  {name}", style="bold")]
    for reason in user.reasons[:_REASONS_SHOWN]:
        lines.append(Text(textwrap.fill(plain(reason, limit=400), width=width,
                                        initial_indent="  - ", subsequent_indent="    ")))
    if len(user.reasons) > _REASONS_SHOWN:
        more = len(user.reasons) - _REASONS_SHOWN
        lines.append(Text(f"  ... {more} more {'reason' if more == 1 else 'reasons'}"))
    if user.proposed_actions:
        actions = ", ".join(plain(a, limit=40) for a in user.proposed_actions)
        lines.append(Text(f"  proposed (needs approval): {actions}"))
    return lines


def render_table(result: ReviewResult, *, width: int = 100, quiet_rows: int = QUIET_ROWS) -> str:
    """Summary, the users table (flagged first) and each flagged user's reasons, as plain text.

    Every flagged user is listed; users with nothing flagged only up to `quiet_rows`.
    """
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=False,
                      highlight=False, emoji=False, markup=False, soft_wrap=False)
    for line in _summary_lines(result) + _risk_lines(result):
        console.print(line)
    if result.campaigns:
        console.print(_campaign_table(result.campaigns))
    ordered = flagged_first(result.users)
    flagged = [u for u in ordered if u.verdict != "none"]
    quiet = len(ordered) - len(flagged)
    console.print(_user_table(ordered[: len(flagged) + quiet_rows], width))
    if quiet > quiet_rows:
        console.print(Text(f"... and {counted(quiet - quiet_rows, 'more user', 'more users')} "
                           "with nothing flagged"))
    for user in flagged:
        for line in _reasons(user, width):
            console.print(line)
    if not flagged:
        console.print(Text("No user was flagged in this window."))
    return out.getvalue()
