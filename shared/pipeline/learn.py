"""`learn`: build every user's baseline from the retention period, without producing verdicts.

For a first deployment (or after a long pause): one tenant-wide sign-in stream over the days
before `until`, grouped by user, each profile built from the user's successful sign-ins and
stored in Table `baselines`, and beside them the tenant's baseline (where its users sign in from,
`shared.detect.tenant_baseline`), against which runs judge users without a profile. Later runs
update the users' profiles with what they judge benign.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from datetime import datetime, timedelta

from shared.analysis import group_by_user
from shared.baseline import build_profile
from shared.detect.tenant_baseline import from_profiles
from shared.logs import event
from shared.model import SignIn, Window
from shared.pipeline.scoring import (
    HISTORY_DAYS,
    BaselineRecord,
    TenantBaselineRecord,
    baselines_table,
    tenant_baselines_table,
)
from shared.services import Services
from shared.sources import SignInSource, open_source


async def _history(source: SignInSource, window: Window) -> list[SignIn]:
    rows: list[SignIn] = []
    stream = source.pages(window)
    async with aclosing(stream):
        async for page in stream:
            rows.extend(page.sign_ins)
            for gap in page.gaps:
                event("learn.gap", kind=gap.kind, what=gap.what, detail=gap.detail)
    return rows


def learn(services: Services, *, until: datetime, days: int = HISTORY_DAYS,
          source: str | None = None) -> int:
    """Build and store a profile for every user seen in the `days` before `until`, read from
    the named sign-in source (default: the SIGNIN_SOURCE setting); the count."""
    window = Window(start=until - timedelta(days=days), end=until - timedelta(microseconds=1))
    reader = open_source(services, source)
    timelines = group_by_user(asyncio.run(_history(reader, window)))
    table = baselines_table(services.store)
    label = f"learn-{until:%Y%m%dT%H%MZ}"
    profiles = []
    for user_id, rows in timelines.items():
        if user_id:
            profiles.append(build_profile(rows))
            table.upsert(BaselineRecord(user_id=user_id, profile=profiles[-1],
                                        last_run_id=label))
    tenant = from_profiles(profiles)  # beside them: the yardstick for users without one
    if tenant is not None:
        tenant_baselines_table(services.store).upsert(
            TenantBaselineRecord(profile=tenant, last_run_id=label))
    event("learn.done", users=len(timelines), signIns=sum(map(len, timelines.values())),
          windowStart=window.start.isoformat(), windowEnd=window.end.isoformat())
    return len(timelines)
