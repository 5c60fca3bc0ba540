"""Anomalies over a long period, each week judged against the weeks before it.

A quarter reviewed as one window would make the whole quarter the "usual" and hide a week that
stood out. Instead the period is cut into weeks (7 days from its start; the last may be shorter)
and each week is reviewed with the weekend review's detections and verdict (shared.analysis), its
baseline built from every sign-in before that week, history before the period included. Sign-ins a
finding cited are left out of the later weeks' history, so an attacker's network never becomes
familiar. A privileged account's anomaly is high, as in the weekend review (shared.verdict); a
week whose only findings are context (off-hours on the account's known device, network and
country, which gives a privileged account a `low` glance in the weekend review) is not an
anomalous week of the quarter.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta

from shared.analysis import review_with_timelines
from shared.detect.context import DetectionSettings
from shared.detect.trusted import TrustedNetworks
from shared.model import Finding, SignIn, UserVerdict, Window, level_rank

WEEK = timedelta(days=7)


def weeks_of(period: Window) -> Iterator[Window]:
    """The period's weeks from its start; the last ends with the period."""
    start = period.start
    while start < period.end:
        end = min(start + WEEK - timedelta(microseconds=1), period.end)
        yield Window(start=start, end=end)
        start += WEEK


class WeeklyJudgement:
    """Per account: findings of every week, the weeks that stood out, the highest verdict."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.weeks: list[str] = []
        self.verdict: UserVerdict | None = None  # the week with the highest verdict

    def add(self, week: Window, verdict: UserVerdict) -> None:
        if verdict.verdict == "none" or all(f.context for f in verdict.findings):
            return  # context alone (off-hours on a known device and network) is no anomaly
        self.weeks.append(week.start.date().isoformat())
        seen = {(f.type, f.summary) for f in self.findings}
        self.findings.extend(f for f in verdict.findings if (f.type, f.summary) not in seen)
        if self.verdict is None or level_rank(verdict.verdict) > level_rank(self.verdict.verdict):
            self.verdict = verdict


def judge_weeks(sign_ins: Sequence[SignIn], period: Window, privileged: Mapping[str, list[str]],
                *, settings: DetectionSettings | None = None,
                trusted: TrustedNetworks | None = None) -> dict[str, WeeklyJudgement]:
    """User key -> the weekly judgement, for every user with a week that stood out.
    `sign_ins` are the privileged accounts' sign-ins up to the period's end, history included."""
    ordered = sorted(sign_ins, key=lambda s: s.created_date_time)
    judged: dict[str, WeeklyJudgement] = {}
    cited: set[str] = set()
    for week in weeks_of(period):
        upto = [s for s in ordered if s.created_date_time <= week.end
                and (s.created_date_time >= week.start or s.id not in cited)]
        if not any(s.created_date_time >= week.start for s in upto):
            continue
        result, _ = review_with_timelines(upto, window=week, privileged=privileged,
                                          settings=settings, trusted=trusted)
        for verdict in result.users:
            if verdict.verdict == "none" or all(f.context for f in verdict.findings):
                continue
            judged.setdefault(verdict.user_id, WeeklyJudgement()).add(week, verdict)
            cited.update(i for f in verdict.findings if not f.context for i in f.sign_in_ids)
    return judged
