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


LONG_UPN = "christopher.vandenberghe-oconnor@subsidiary.contoso-holdings.example.com"  # 72


def test_a_wide_terminal_keeps_every_address_on_one_line() -> None:
    result, _ = sample_review()
    result.users[0].user_principal_name = LONG_UPN
    wide = render_table(result, width=160)
    assert max(len(line) for line in wide.splitlines()) <= 160
    assert any(LONG_UPN in line for line in wide.splitlines())  # not folded mid-address
    narrow = render_table(result, width=80)
    assert max(len(line) for line in narrow.splitlines()) <= 80


def test_unflagged_users_show_no_findings_and_counts_are_singular() -> None:
    from shared.model import Finding

    result, _ = sample_review()
    quiet = UserVerdict("id-q", "quinn@contoso.com", "none", False,
                        [Finding("off_hours", "low", "context.", ["s1"], context=True)],
                        ["context."], UserStats(sign_ins=1))
    result.users = [*result.users, quiet]
    line = next(row for row in render_table(result).splitlines() if "quinn@contoso.com" in row)
    assert "off_hours" not in line
    text = render_table(result, quiet_rows=len(result.users))
    assert " 1 users" not in text and " 1 rows" not in text and " 1 repeats" not in text
