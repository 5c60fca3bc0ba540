"""`learn`: build every user's baseline from the retention period, without producing verdicts.

For a first deployment (or after a long pause): one tenant-wide sign-in stream over the days
before `until`, grouped by user, each profile built from the user's successful sign-ins and
stored in Table `baselines`, and beside them the tenant's baseline (where its users sign in from,
`shared.detect.tenant_baseline`), against which runs judge users without a profile. Later runs
update the users' profiles with what they judge benign.

From Graph, the history goes back only as far as the tenant's licence keeps sign-ins, and a
history shorter than that (a tenant that has just upgraded) is reported, not assumed
(`scoring.graph_retention`; shared/graph/retention.py).
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime

from shared.analysis import group_by_user
from shared.baseline import build_profile
from shared.detect.tenant_baseline import from_profiles
from shared.logs import event
from shared.model import DataSource, SignIn, Window
from shared.pipeline.scoring import (
    HISTORY_DAYS,
    BaselineRecord,
    TenantBaselineRecord,
    baselines_table,
    graph_retention,
    history_window,
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


@dataclass(frozen=True)
class Learned:
    """What `learn` did: the users profiled, the period read, and what limited it."""

    users: int
    window: Window | None
    notes: list[DataSource]


def learn(services: Services, *, until: datetime, days: int = HISTORY_DAYS,
          source: str | None = None) -> int:
    """Build and store a profile for every user seen in the `days` before `until`, read from
    the named sign-in source (default: the SIGNIN_SOURCE setting); the count."""
    return learn_report(services, until=until, days=days, source=source).users


def learn_report(services: Services, *, until: datetime, days: int = HISTORY_DAYS,
                 source: str | None = None) -> Learned:
    """`learn`, saying which period it read and, from Graph, the licence and a history shorter
    than the licence keeps."""
    reader = open_source(services, source)
    kept, notes = asyncio.run(graph_retention(services)) if reader.name == "graph" \
        else (None, [])
    window = history_window(until, services.clock(), kept, days)
    for note in notes:
        if not note.available:
            event("learn.history_short", source=note.name, detail=note.detail)
    if window is None:
        event("learn.done", users=0, signIns=0, kept=kept)
        return Learned(0, None, notes)
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
    return Learned(len(timelines), window, notes)
