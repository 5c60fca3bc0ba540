"""The terminal summary: readable at 100 columns, flagged users first, log text printed inert."""

from __future__ import annotations

from shared.model import UserStats, UserVerdict
from shared.report import render_table
from tests.unit.test_report_sample import sample_review


def test_fits_100_columns_with_flagged_users_first() -> None:
    result, _ = sample_review()
    text = render_table(result)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert text.index("alice@contoso.com") < text.index("bob@contoso.com") \
        < text.index("carol@contoso.com") < text.index("erin@contoso.com")
    assert "1 high, 1 medium, 2 low, 3 none" in text
    assert "MISSING Identity Protection risk detections" in text
    assert "203.0.113.50 (AS9009)" in text
    assert "proposed (needs approval): revokeSessions, resetPassword, confirmCompromised" in text


def test_narrower_width_is_respected() -> None:
    result, _ = sample_review()
    assert max(len(line) for line in render_table(result, width=80).splitlines()) <= 80


def test_markup_and_escape_sequences_from_logs_are_inert() -> None:
    result, _ = sample_review()
    upn = "[bold red]boss[/]@contoso.com\x1b[2J"
    result.users = [UserVerdict("id-x", upn, "medium", False, [], ["[link=x]click[/link]"],
                                UserStats(sign_ins=1))]
    text = render_table(result)
    assert "[bold red]boss[/]@contoso.com" in text and "\x1b" not in text
    assert "[link=x]click[/link]" in text


def test_nothing_flagged() -> None:
    result, _ = sample_review()
    result.users = [u for u in result.users if u.verdict == "none"]
    assert "No user was flagged in this window." in render_table(result)


def test_quiet_users_are_capped_flagged_never() -> None:
    result, _ = sample_review()
    text = render_table(result, quiet_rows=1)
    assert "erin@contoso.com" in text and "frank@contoso.com" not in text
    assert "... and 2 more users with nothing flagged" in text
    assert all(f"{n}@contoso.com" in text for n in ("alice", "bob", "carol", "dave"))
