"""The approval mail body the Logic App sends as it is: HTML (Outlook collapses plain-text line
breaks), every value escaped, and an absolute link to the approvers' report route."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from shared import config
from shared.errors import ConfigError
from shared.model import PrivilegedAccount, PrivilegedReview, UserStats, UserVerdict, Window
from shared.pipeline.approval_mail import mail_html, report_url, review_request
from shared.pipeline.finalize import approval_payload
from shared.pipeline.records import RunRecord

BASE = "https://func-abc123.azurewebsites.net"


class Reader(HTMLParser):
    """Text, tags and links of a fragment, as a mail client would parse it."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [value or "" for name, value in attrs if name == "href"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def read(fragment: str) -> Reader:
    reader = Reader()
    reader.feed(fragment)
    reader.close()
    return reader


def verdict(**overrides: object) -> UserVerdict:
    fields: dict[str, object] = {
        "user_id": "8d2b4c1e-0000-4000-8000-000000000001",
        "user_principal_name": "alice@contoso.com", "verdict": "high", "privileged": True,
        "findings": [], "reasons": ["password spray from 203.0.113.7, then a success",
                                    "MFA denied 6 times in 10 minutes"],
        "stats": UserStats(sign_ins=40, failures=31, countries=["NL", "RU"], ips=3),
        "got_in": True, "proposed_actions": ["revokeSessions", "disable"],
    }
    fields.update(overrides)
    return UserVerdict(**fields)  # type: ignore[arg-type]


def test_benign_verdict_renders_as_html_with_an_absolute_link() -> None:
    link = report_url(BASE, "run-2025-06-09")
    assert link == f"{BASE}/api/approvals/reports/run-2025-06-09"
    body = mail_html(verdict(), "run-2025-06-09", link)
    assert "\n" not in body and "\\n" not in body
    parsed = read(body)
    assert {"p", "ul", "li", "a", "b"} <= set(parsed.tags)
    assert parsed.links == [link]
    text = "".join(parsed.text)
    assert "alice@contoso.com" in text and "MFA denied 6 times in 10 minutes" in text
    assert "privileged account" in text and "revokeSessions, disable" in text


def test_hostile_values_are_escaped_and_cannot_add_links() -> None:
    hostile = verdict(user_principal_name='<a href="https://evil.example">x</a>@contoso.com',
                      reasons=['<script>alert(1)</script>', 'a "quoted" & <b>bold</b> reason'])
    run_id = 'r"><a href=//evil>'
    body = mail_html(hostile, run_id, report_url(BASE, run_id))
    parsed = read(body)
    assert "script" not in parsed.tags
    assert parsed.links == [f"{BASE}/api/approvals/reports/r%22%3E%3Ca%20href%3D%2F%2Fevil%3E"]
    assert "<script>alert(1)</script>" in "".join(parsed.text)  # shown as text, not run


def test_without_a_public_address_there_is_no_link_and_it_says_why() -> None:
    assert report_url(None, "r1") is None
    parsed = read(mail_html(verdict(), "r1", None))
    assert parsed.links == [] and "PUBLIC_BASE_URL is not set" in "".join(parsed.text)


def test_payload_carries_the_absolute_link_and_each_verdicts_body() -> None:
    start = datetime(2025, 6, 6, 18, tzinfo=UTC)
    run = RunRecord(run_id="r1", kind="scheduled", status="complete", window_start=start,
                    window_end=datetime(2025, 6, 9, 6, tzinfo=UTC), created_at=start,
                    api_version="v1.0")
    quiet = verdict(user_id="u2", verdict="low")
    payload = approval_payload(run, [verdict(), quiet], BASE)
    assert payload["reportUrl"] == f"{BASE}/api/approvals/reports/r1"
    (sent,) = payload["verdicts"]  # type: ignore[misc]
    assert read(sent["mailHtml"]).links == [payload["reportUrl"]]


@pytest.mark.parametrize("value", ["http://func.example.net", "https://func.example.net/api",
                                   "func.example.net"])
def test_public_base_url_must_be_an_https_origin(value: str) -> None:
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        config.load({"PUBLIC_BASE_URL": value})


def test_public_base_url_is_read() -> None:
    assert config.load({"PUBLIC_BASE_URL": BASE + "/"}).public_base_url == BASE
    assert config.load({}).public_base_url is None


def test_the_mail_says_which_steps_will_run_and_which_are_refused() -> None:
    """An administrator the remediator (User Administrator) may not act on: revoke and disable
    are named as needing a role, confirm compromised as what will run."""
    from shared.remediation_plan import apply_plan

    planned = apply_plan(verdict(proposed_actions=["revokeSessions", "confirmCompromised",
                                                   "disableAccount"]),
                         synced=False, remediator_roles=("User Administrator",),
                         target_roles={"62e90394-69f5-4237-9190-012177145e10"})
    text = "".join(read(mail_html(planned, "r1", None)).text)
    assert "Proposed: confirmCompromised" in text
    assert "Will run here once approved: confirm compromised." in text
    assert "Not offered (needs a role): revoke sessions needs the remediator" in text
    assert "Not offered (needs a role): disable the account needs the remediator" in text


def account(upn: str, *, dormant: bool = False, verdict: str = "none",
            attention: tuple[str, ...] = (), proposal: tuple[str, ...] = ("keep",)
            ) -> PrivilegedAccount:
    return PrivilegedAccount(
        user_id=f"id-{upn}", user_principal_name=upn, roles=[], sign_ins=0,
        successful_sign_ins=0, by_month=[], last_successful_sign_in=None, dormant=dormant,
        countries=[], networks=[], devices=[], applications=[], single_factor_sign_ins=0,
        legacy_protocol_sign_ins=0, legacy_protocols={}, unmanaged_device_sign_ins=0,
        device_state_unknown_sign_ins=0, failures=0, lockouts=0, findings=[],
        anomalous_weeks=[], verdict=verdict, reasons=[],  # type: ignore[arg-type]
        attention=list(attention), proposal=list(proposal))


QUARTER = Window(start=datetime(2025, 1, 1, tzinfo=UTC),
                 end=datetime(2025, 3, 31, 23, 59, 59, tzinfo=UTC))


def privileged_run() -> RunRecord:
    return RunRecord(run_id="q1/2025", kind="privileged", status="complete",
                     window_start=QUARTER.start, window_end=QUARTER.end,
                     created_at=datetime(2025, 4, 1, 6, tzinfo=UTC), api_version="v1.0")


def test_a_quiet_quarter_still_asks_for_sign_off_with_both_links() -> None:
    """Nothing medium or high: no approval, but the review request names every account to sign
    off, the dormant one first among them, and links to the report and the sign-off route."""
    review = PrivilegedReview(period=QUARTER, read=QUARTER, read_detail="the whole period",
                              accounts=[account("idle@contoso.com", dormant=True,
                                                attention=["dormant: no sign-in at all"],
                                                proposal=["remove the eligibility for X"]),
                                        account("ops@contoso.com")])
    payload = approval_payload(privileged_run(), [verdict(verdict="low")], BASE, review)
    assert payload["verdicts"] == []
    asked = payload["privilegedReview"]
    assert isinstance(asked, dict)
    report = f"{BASE}/api/approvals/reports/q1%2F2025"
    attest = f"{BASE}/api/approvals/privileged-reviews/q1%2F2025/attestations"
    assert (asked["reportUrl"], asked["attestationsUrl"]) == (report, attest)
    assert asked["dormant"] == ["idle@contoso.com"]
    assert [a["userPrincipalName"] for a in asked["accounts"]] == ["idle@contoso.com",
                                                                   "ops@contoso.com"]
    assert asked["subject"] == ("Sign-in review: sign off the privileged-account review for "
                                "2025-01-01 to 2025-03-31 (2 accounts, 1 dormant)")
    body = read(asked["mailHtml"])
    assert body.links == [report] and "\n" not in asked["mailHtml"]
    text = "".join(body.text)
    assert attest in text and "idle@contoso.com: none (dormant)" in text
    assert "remove the eligibility for X" in text


def test_review_request_escapes_what_accounts_carry_and_says_when_links_are_missing() -> None:
    review = PrivilegedReview(period=QUARTER, read=QUARTER, read_detail="<b>x</b>",
                              accounts=[account('<a href="https://evil.example">x</a>')])
    asked = review_request(review, "r<1>", None, None)
    body = read(str(asked["mailHtml"]))
    assert body.links == [] and set(body.tags) == {"p", "b", "ul", "li"}
    assert "PUBLIC_BASE_URL is not set" in "".join(body.text)
    assert asked["reportUrl"] is None and asked["attestationsUrl"] is None


def test_other_runs_carry_no_review_request() -> None:
    start = datetime(2025, 6, 6, 18, tzinfo=UTC)
    run = RunRecord(run_id="r1", kind="scheduled", status="complete", window_start=start,
                    window_end=datetime(2025, 6, 9, 6, tzinfo=UTC), created_at=start,
                    api_version="v1.0")
    assert "privilegedReview" not in approval_payload(run, [verdict()], BASE)
