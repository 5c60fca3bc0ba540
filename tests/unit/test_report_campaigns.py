"""The campaigns section and context findings in the terminal and HTML reports."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.model import CampaignSummary, Finding, UserStats, UserVerdict
from shared.report import render_review, render_table
from tests.unit.test_report_sample import sample_review

SLOW = CampaignSummary(
    kind="network", source="AS14061", addresses=["164.92.141.17", "164.92.141.23"],
    network=14061, user_agent="<script>x</script>",
    first_attempt=datetime(2025, 3, 15, 1, 3, tzinfo=UTC),
    last_attempt=datetime(2025, 3, 15, 16, 51, tzinfo=UTC), failures=43, accounts_tried=22,
    accounts_succeeded=1, tried_users=["u1"], succeeded_users=["u2"])
QUIET = UserVerdict(
    "id-w", "wendy@contoso.com", "none", False,
    [Finding("off_hours", "low", "1 successful interactive sign-in on Sunday: context.", ["s1"],
             context=True)],
    ["1 successful interactive sign-in on Sunday: context."], UserStats(sign_ins=1))


def test_terminal_lists_campaigns_with_their_extent() -> None:
    result, _ = sample_review()
    result.campaigns = [SLOW]
    text = render_table(result)
    assert "Spray campaigns over the window" in text
    line = next(line for line in text.splitlines() if "AS14061" in line)
    assert "2025-03-15 01:03" in line and "2025-03-15 16:51" in line and " 22 " in line
    assert max(len(line) for line in text.splitlines()) <= 100


def test_html_has_a_campaigns_card_and_context_for_quiet_users() -> None:
    result, timelines = sample_review()
    result.campaigns = [SLOW]
    result.users = [*result.users, QUIET]
    page = render_review(result, timelines)
    card = page[page.index('id="campaigns"'):]
    card = card[: card.index("</table>")]
    assert "AS14061" in card and "2 addresses" in card and "<td class=\"num\">22</td>" in card
    assert "<script>x" not in page
    quiet = page[page.index('id="unflagged"'):]
    row = quiet[quiet.index("wendy@contoso.com"):]
    assert "off-hours" in row[:row.index("</tr>")]  # compact: the context named, not told


def test_no_campaigns_no_card() -> None:
    result, timelines = sample_review()
    result.tenant.spraying_sources = []
    assert 'id="campaigns"' not in render_review(result, timelines)
    assert "Spray campaigns" not in render_table(result)


def test_one_spray_section_and_its_tile_agree() -> None:
    import re

    result, timelines = sample_review()
    result.campaigns = [SLOW]  # its addresses do not include the sample's 20-minute source
    page = render_review(result, timelines)
    assert page.count("<h3>Password spray") == 1
    card = page[page.index('id="campaigns"'):]
    rows = card[card.index("<tbody>"):card.index("</tbody>")].count("<tr>")
    tile = re.search(r'<div class="n">(\d+)</div><div class="l">Spray sources</div>', page)
    assert tile is not None and int(tile.group(1)) == rows == 2
    assert "burst" in card and "203.0.113.50" in card
