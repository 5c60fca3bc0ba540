"""The HTML review: sections, order, timelines, remediation, and no way out to the network."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from shared.report import render_review
from tests.unit.test_report_sample import sample_review

REMEDIATIONS = {"id-alice": [{"action": "revokeSessions", "status": "done",
                              "approver": "soc-lead@contoso.com",
                              "completedAt": "2025-03-10T07:40:00Z", "approvalId": "apr-17"}]}


class Outline(HTMLParser):
    """Element ids, article classes, the text of each user heading, and every URL-ish attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.tags: set[str] = set()
        self.urls: list[str] = []
        self.rows: dict[str, int] = {}
        self._article: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.add(tag)
        if "id" in found:
            self.ids.append(found["id"] or "")
        if tag == "article":
            self._article = found.get("id")
        if tag == "tr" and self._article and (found.get("class") or "").startswith("out-"):
            self.rows[self._article] = self.rows.get(self._article, 0) + 1
        self.urls += [v or "" for k, v in attrs if k in ("href", "src", "xlink:href", "action")]


@pytest.fixture(scope="module")
def page() -> str:
    result, timelines = sample_review()
    return render_review(result, timelines, remediations=REMEDIATIONS)


def outline(html: str) -> Outline:
    parser = Outline()
    parser.feed(html)
    return parser


def test_overview_has_window_sources_verdicts_sprays_and_chart(page: str) -> None:
    assert "2025-03-07 18:00 to 2025-03-10 06:00 UTC" in page
    assert "Identity Protection risk detections" in page
    assert "403 Forbidden: the tenant has no Entra ID P2 licence" in page
    assert re.search(r"<span class=\"src-missing\">missing</span>", page)
    assert "Password spray (1 source)" in page and "203.0.113.50" in page
    assert "Sign-ins over the window" in page and "<rect" in page
    for level in ("high", "medium", "low", "none"):
        assert f'<span class="badge lvl-{level}">{level}</span>' in page


def test_flagged_users_come_first_highest_level_first(page: str) -> None:
    order = [page.index(f'id="user-{n}"') for n in range(1, 5)]
    assert order == sorted(order)
    headings = re.findall(r'<article class="user level-(\w+)" id="user-\d+">', page)
    assert headings == ["high", "medium", "low", "low"]
    assert page.index("alice@contoso.com") < page.index("bob@contoso.com")
    assert page.index('id="user-4"') < page.index('id="unflagged"')


def test_each_flagged_user_has_a_full_timeline(page: str) -> None:
    rows = outline(page).rows
    assert rows == {"user-1": 14, "user-2": 16, "user-3": 4, "user-4": 3}


def test_timeline_colours_outcomes_and_cites_findings(page: str) -> None:
    assert page.count('<tr class="out-failure cited">') == 8 + 15 + 3
    assert '<tr class="out-interrupt">' in page  # 50140 keep me signed in
    assert "Failure 500121" in page and "MFA denied; user did not respond" in page
    assert "Interrupted 50140" in page
    assert '<span class="cite">F2</span>' in page


def test_travel_map_shows_legs_with_speeds(page: str) -> None:
    assert "923 km/h" in page  # Seattle -> Lagos in 13 hours
    assert "4,418 km/h" in page  # and back in under three hours
    assert "1 Seattle, US" in page and "2 Lagos, NG" in page
    assert "3 sign-ins had no coordinates" in page


def test_remediation_status_and_proposals(page: str) -> None:
    assert "soc-lead@contoso.com" in page and "approvalId: apr-17" in page
    assert "confirmCompromised" in page
    assert page.count("None requested or approved yet.") == 3


def test_unflagged_users_in_compact_table_at_the_end(page: str) -> None:
    tail = page[page.index('id="unflagged"'):]
    for name in ("erin", "frank", "grace"):
        assert f"{name}@contoso.com" in tail
        assert 'id="user-' not in tail


def test_self_contained_no_scripts_no_fetches(page: str) -> None:
    parsed = outline(page)
    assert "script" not in parsed.tags
    assert not {"link", "img", "iframe", "object", "embed"} & parsed.tags
    assert all(url.startswith("#") for url in parsed.urls)
    assert "default-src 'none'" in page
    assert "@import" not in page and "url(http" not in page


def test_without_remediations_or_flagged_users() -> None:
    result, _ = sample_review()
    for user in result.users:
        user.verdict = "none"
    html = render_review(result, {}, title="Quiet week")
    assert "<title>Quiet week</title>" in html
    assert "No user was flagged in this window." in html
    assert "<h4>Remediation</h4>" not in html


def test_every_address_of_a_flagged_user_is_named() -> None:
    from shared.report.html import render_review
    from tests.unit.test_report_sample import sample_review

    result, timelines = sample_review()
    page = render_review(result, timelines)
    for number, user in enumerate((u for u in html_flagged(result)), start=1):
        article = page[page.index(f'id="user-{number}"'):]
        article = article[:article.index("</article>")]
        used = {s.ip_address for s in timelines.get(user.user_id, ()) if s.ip_address}
        row = article[article.index("<td>Addresses</td>"):]
        row = row[:row.index("</tr>")]
        assert used and all(ip in row for ip in used), (user.user_id, used - set(row.split()))


def html_flagged(result):
    from shared.report.html import flagged_first

    return [u for u in flagged_first(result.users) if u.verdict != "none"]


def test_first_party_app_ids_are_named_others_shown_as_they_are() -> None:
    # learn.microsoft.com/troubleshoot/entra/entra-id/governance/verify-first-party-apps-sign-in
    from shared.report.apps import app_name

    assert app_name("1fec8e78-bce4-4aaf-ab1b-5451cc387264", None) == "Microsoft Teams"
    assert app_name("00000003-0000-0FF1-CE00-000000000000", "") == "Office 365 SharePoint Online"
    assert app_name("1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Teams (as exported)") == \
        "Teams (as exported)"
    unknown = "0a0b0c0d-0000-4000-8000-000000000001"
    assert app_name(unknown, unknown) == unknown and app_name(None, None) == ""
