"""Which users' authentication methods a run reads (they spend the reports budget): benign and
hostile cases side by side (shared/pipeline/followed.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.persistence.records import AuditEvent, TargetResource
from shared.pipeline.followed import methods_unread_reason

START = datetime(2025, 3, 14, 18, tzinfo=UTC)
END = datetime(2025, 3, 17, 6, tzinfo=UTC)
USER = "6a1f1c1e-1111-4a4a-8b8b-000000000001"
OTHER = "6a1f1c1e-1111-4a4a-8b8b-000000000002"
SATURDAY = datetime(2025, 3, 15, 9, 34, tzinfo=UTC)
REASON = "no security-info change in the directory audit log since 2025-03-14 18:00 UTC"


def _row(activity: str, target: str, result: str = "success") -> AuditEvent:
    return AuditEvent(id=f"{activity}-{target}", activity_date_time=SATURDAY + timedelta(minutes=4),
                      activity_display_name=activity, result=result,
                      target_resources=[TargetResource(id=target, type="User")])


def _reason(audit: list[AuditEvent] | None, complete: bool = True,
            last: datetime | None = SATURDAY, until: datetime | None = None) -> str | None:
    return methods_unread_reason(audit, complete, USER, "lena@contoso.com", START,
                                 window_end=END, last_sign_in=last, audit_until=until)


@pytest.mark.parametrize("activity", [
    "User registered security info", "Admin registered security info",
    "User changed default security info", "User deleted security info",
    "Admin deleted security info"])
def test_hostile_a_user_with_security_info_activity_has_methods_read(activity: str) -> None:
    assert _reason([_row(activity, USER)]) is None
    assert _reason([_row(activity.upper(), USER, result="failure")]) is None  # any result


def test_benign_a_user_without_security_info_activity_is_not_read_and_says_why() -> None:
    assert _reason([]) == REASON
    # another user's registration, or this user's password reset, is not about their methods
    assert _reason([_row("User registered security info", OTHER),
                    _row("Reset password (self-service)", USER)]) == REASON


def test_an_audit_log_not_read_or_not_complete_reads_everyone() -> None:
    assert _reason(None) is None
    assert _reason(None, complete=True) is None
    assert _reason([], complete=False) is None


def test_a_sign_in_near_the_window_end_is_read_the_log_may_not_hold_it_yet() -> None:
    assert _reason([], last=END - timedelta(minutes=89)) is None
    assert _reason([], last=END - timedelta(minutes=91)) == REASON
    assert _reason([], last=None) == REASON


def test_the_margin_runs_from_when_graphs_log_was_read() -> None:
    """A Monday whose fetch took 40 minutes read Graph's log 40 minutes after the window's end:
    a success 51 minutes before the end is 91 before the read, past the tie time (60) and the
    latency (30), so a method it led to is in the log; one 49 minutes before is not yet."""
    read = END + timedelta(minutes=40)
    assert _reason([], last=END - timedelta(minutes=89), until=read) == REASON
    assert _reason([], last=END - timedelta(minutes=51), until=read) == REASON
    assert _reason([], last=END - timedelta(minutes=49), until=read) is None
    # hostile: security-info activity is read whenever the log was read
    assert _reason([_row("User registered security info", USER)], until=read) is None
    # a read time before the window's end never narrows the margin
    assert _reason([], last=END - timedelta(minutes=89), until=END - timedelta(hours=1)) is None
