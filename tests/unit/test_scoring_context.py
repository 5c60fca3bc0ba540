"""The pipeline scores every user with the deployment's HOLIDAYS: a holiday is judged like a
weekend day by off-hours (the user's own weekend habit), as in `analyze`."""

from __future__ import annotations

from datetime import UTC, date, datetime

import msgspec

from shared.detect.context import TenantSignalsBuilder
from shared.model import Window
from shared.pipeline.scoring import ScoringContext, user_context

WINDOW = Window(start=datetime(2025, 12, 24, 18, tzinfo=UTC),
                end=datetime(2025, 12, 29, 6, tzinfo=UTC))


def context(holidays: list[date]) -> ScoringContext:
    return ScoringContext(run_id="r", window=WINDOW, signals=TenantSignalsBuilder().build(),
                          privileged={}, risky_users=[], risk_detections=[],
                          identity_protection=False, sources=[], holidays=holidays)


def test_holidays_reach_every_user_s_detections() -> None:
    christmas = [date(2025, 12, 25), date(2025, 12, 26)]
    detection = user_context(context(christmas), "u1", "a@contoso.com", None)
    assert detection.settings.holidays == frozenset(christmas)


def test_holidays_survive_the_stored_context_and_older_contexts_decode() -> None:
    stored = msgspec.json.encode(context([date(2025, 12, 25)]))
    assert msgspec.json.decode(stored, type=ScoringContext).holidays == [date(2025, 12, 25)]
    older = msgspec.json.encode({k: v for k, v in msgspec.to_builtins(context([])).items()
                                 if k != "holidays"})
    assert msgspec.json.decode(older, type=ScoringContext).holidays == []
