"""Scoring: the tenant-wide pass, then one verdict per user, with evidence and baselines.

`plan_scoring` runs once per run after the last slice: it streams every shard row through the
tenant-wide spray pass, reads privileged roles and Identity Protection data, stores all of it as
one write-once context blob, and splits the users (sorted) into batches. `score_batch` scores one
batch: the users' rows (one ranged read per shard), their stored baselines (one range query), the
detections and verdict, a write-once evidence bundle per user, the verdict entity, and the
baseline updated with the sign-ins not judged suspicious.

Redelivery never duplicates: a user whose verdict entity exists is not scored again, evidence is
write-once with the same bytes for the same inputs, and a baseline records the run that last
updated it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import msgspec

from shared.analysis import roles_of, score_user
from shared.baseline import BaselineProfile, build_profile, update_profile
from shared.detect.context import DetectionContext, TenantSignals, TenantSignalsBuilder
from shared.errors import GraphError
from shared.graph import privileged_role_members, risk_detections, risky_users, stream_sign_ins
from shared.logs import event
from shared.model import DataSource, RiskDetection, RiskyUser, SignIn, UserVerdict, Window
from shared.pipeline.fetch import decode_shard_row, put_page
from shared.pipeline.records import RunRecord, VerdictRecord
from shared.pipeline.runs import Tables
from shared.services import Services
from shared.store import (
    JSON,
    EntityTable,
    EvidenceRef,
    ShardReader,
    Store,
    encode_key,
    user_bundle_name,
)

HISTORY_DAYS = 30  # Graph keeps sign-ins 30 days with P1/P2
HISTORY_FETCHES_PER_BATCH = 25  # users without a profile whose history is fetched per batch


class ScoringContext(msgspec.Struct, kw_only=True):
    """What every user of a run is scored with besides their own sign-ins (stored as evidence)."""

    run_id: str
    window: Window
    signals: TenantSignals
    privileged: dict[str, list[str]]
    risky_users: list[RiskyUser]
    risk_detections: list[RiskDetection]
    identity_protection: bool
    sources: list[DataSource]


class UserEvidence(msgspec.Struct, kw_only=True):
    """The per-user evidence bundle: what was decided, and every sign-in and page behind it."""

    run_id: str
    user_id: str
    window: Window
    verdict: UserVerdict
    baseline: str
    timeline: list[SignIn]
    pages: list[EvidenceRef]
    context: EvidenceRef | None


class BaselineRecord(msgspec.Struct, kw_only=True):
    user_id: str
    profile: BaselineProfile
    last_run_id: str | None = None


def baseline_keys(record: BaselineRecord) -> tuple[str, str]:
    return "baseline", record.user_id


def baselines_table(store: Store) -> EntityTable[BaselineRecord]:
    return store.table(store.names.baselines, BaselineRecord, baseline_keys)


def context_name(run_id: str) -> str:
    return f"runs/{run_id}/context.json"


# --- the tenant-wide pass -------------------------------------------------------------------


async def directory_data(services: Services, window: Window, *, user: str | None = None
                         ) -> tuple[dict[str, list[str]], list[RiskyUser], list[RiskDetection],
                                    list[DataSource]]:
    """Privileged role members and Identity Protection data, each with its availability."""
    async with services.graph() as graph:
        roles = await privileged_role_members(graph)
        risky = await risky_users(graph)
        detections = await risk_detections(graph, window)
    if user is not None:
        key = user.lower()
        risky.value[:] = [r for r in risky.value
                          if key in (r.id.lower(), (r.user_principal_name or "").lower())]
    sources = [roles.source("privilegedRoles"), risky.source("riskyUsers"),
               detections.source("riskDetections")]
    return roles.value, risky.value, detections.value, sources


def tenant_signals(rows: Iterable[bytes]) -> TenantSignals:
    builder = TenantSignalsBuilder()
    for row in rows:
        builder.add(decode_shard_row(row)[1])
    return builder.build()


def build_context(services: Services, run: RunRecord, signals: TenantSignals) -> ScoringContext:
    window = Window(start=run.window_start, end=run.window_end)
    roles, risky, detections, sources = asyncio.run(directory_data(services, window))
    available = all(s.available for s in sources if s.name in ("riskyUsers", "riskDetections"))
    return ScoringContext(
        run_id=run.run_id, window=window, signals=signals, privileged=roles, risky_users=risky,
        risk_detections=detections, identity_protection=available, sources=sources,
    )


def store_context(services: Services, context: ScoringContext) -> tuple[EvidenceRef,
                                                                          ScoringContext]:
    """Write the context once; a retry that finds one already written uses that one."""
    ref, body = put_page(services.store.evidence, context_name(context.run_id),
                         msgspec.json.encode(context))
    return ref, msgspec.json.decode(body, type=ScoringContext)


def batches(user_ids: Sequence[str], size: int) -> list[list[str]]:
    return [list(user_ids[i : i + size]) for i in range(0, len(user_ids), size)]


# --- one user -------------------------------------------------------------------------------


def user_context(context: ScoringContext, user_id: str, upn: str | None,
                 baseline: BaselineProfile | None) -> DetectionContext:
    keys = {user_id.lower(), (upn or "").lower()} - {""}
    return DetectionContext(
        window=context.window,
        baseline=baseline,
        privileged_roles=roles_of(context.privileged, user_id, upn),
        tenant=context.signals,
        risk_detections=[d for d in context.risk_detections
                         if keys & {(d.user_id or "").lower(),
                                    (d.user_principal_name or "").lower()}],
        risky_user=next((r for r in context.risky_users
                         if keys & {r.id.lower(), (r.user_principal_name or "").lower()}), None),
        identity_protection=context.identity_protection,
        user_id=user_id,
    )


def suspicious_ids(verdict: UserVerdict) -> set[str]:
    return {sid for finding in verdict.findings for sid in finding.sign_in_ids}


def learnable(verdict: UserVerdict, timeline: Sequence[SignIn]) -> list[SignIn]:
    """The sign-ins a baseline may learn from: none when the account may be taken over."""
    if verdict.verdict == "high":
        return []
    cited = suspicious_ids(verdict)
    return [s for s in timeline if s.id not in cited]


def score_one(
    services: Services,
    *,
    run_id: str,
    context: ScoringContext,
    context_ref: EvidenceRef | None,
    user_id: str,
    timeline: list[SignIn],
    pages: list[EvidenceRef],
    baseline: BaselineRecord | None,
    history: Sequence[SignIn] | None = None,
    learn: bool = True,
) -> VerdictRecord:
    """Score one user (or return the verdict already stored for this run), then (when `learn`)
    update the user's baseline once per run."""
    store = services.store
    verdicts = Tables.of(store).verdicts
    existing = verdicts.get(run_id, user_id)
    profile = baseline.profile if baseline else None
    described = "stored profile" if baseline else "none"
    if profile is None and history:
        profile, described = build_profile(history), f"built from {len(history)} sign-ins " \
            "fetched for this user"
    if existing is None:
        upn = next((s.user_principal_name for s in timeline if s.user_principal_name), None)
        verdict = score_user(timeline, user_context(context, user_id, upn, profile))
        bundle = UserEvidence(run_id=run_id, user_id=user_id, window=context.window,
                              verdict=verdict, baseline=described, timeline=timeline,
                              pages=pages, context=context_ref)
        ref = store.evidence.put_evidence(user_bundle_name(run_id, user_id),
                                          msgspec.json.encode(bundle), content_type=JSON)
        record = VerdictRecord(
            run_id=run_id, user_id=user_id, user_principal_name=verdict.user_principal_name,
            verdict=verdict.verdict, privileged=verdict.privileged, got_in=verdict.got_in,
            finding_types=sorted({f.type for f in verdict.findings}),
            proposed_actions=verdict.proposed_actions, detail=verdict, evidence=ref,
            pages=pages, scored_at=services.clock(),
        )
        if verdicts.create(record) is None:
            record = verdicts.get(run_id, user_id) or record
        existing = record
    if learn and (baseline is None or baseline.last_run_id != run_id):
        learned = update_profile(profile, learnable(existing.detail, timeline),
                                 now=context.window.end)
        baselines_table(store).upsert(BaselineRecord(user_id=user_id, profile=learned,
                                                     last_run_id=run_id))
    return existing


# --- one batch ------------------------------------------------------------------------------


def stored_baselines(store: Store, user_ids: Sequence[str]) -> dict[str, BaselineRecord]:
    """The batch's stored profiles in one range query over the (sorted) user keys."""
    if not user_ids:
        return {}
    keys = sorted(encode_key(u) for u in user_ids)
    wanted = set(user_ids)
    found = baselines_table(store).query(
        "PartitionKey eq @pk and RowKey ge @lo and RowKey le @hi",
        pk="baseline", lo=keys[0], hi=keys[-1],
    )
    return {b.user_id: b for b in found if b.user_id in wanted}


async def fetch_histories(services: Services, user_ids: Sequence[str], before: datetime
                          ) -> dict[str, list[SignIn]]:
    """Each user's own sign-ins over the retention period before the window (per-user query)."""
    window = Window(start=before - timedelta(days=HISTORY_DAYS),
                    end=before - timedelta(microseconds=1))
    found: dict[str, list[SignIn]] = {}
    async with services.graph() as graph:
        for user_id in user_ids:
            rows: list[SignIn] = []
            try:
                async for page in stream_sign_ins(graph, window, user=user_id):
                    rows.extend(page.sign_ins)
            except GraphError as exc:
                event("score.history_unavailable", userId=user_id, reason=exc.message)
                continue
            found[user_id] = rows
    return found


def score_batch(services: Services, run: RunRecord, context: ScoringContext,
                context_ref: EvidenceRef | None, user_ids: list[str]) -> list[VerdictRecord]:
    store = services.store
    reader = store.shards.reader(run.run_id)
    slice_pages = _pages_by_slice(services, run)
    rows = reader.rows_for_users(user_ids)
    profiles = stored_baselines(store, user_ids)
    missing = [u for u in user_ids if u not in profiles][:HISTORY_FETCHES_PER_BATCH]
    histories = asyncio.run(fetch_histories(services, missing, run.window_start)) \
        if missing else {}
    results = []
    for user_id in user_ids:
        timeline, pages = _timeline(rows.get(user_id, []), slice_pages, reader, user_id)
        if not timeline:
            continue
        results.append(score_one(
            services, run_id=run.run_id, context=context, context_ref=context_ref,
            user_id=user_id, timeline=timeline, pages=pages, baseline=profiles.get(user_id),
            history=histories.get(user_id),
        ))
    return results


def _pages_by_slice(services: Services, run: RunRecord) -> dict[str, list[EvidenceRef]]:
    tables = Tables.of(services.store)
    return {s: tables.slice(run.run_id, s).pages for s in run.slices_done}


def _timeline(rows: list[bytes], slice_pages: dict[str, list[EvidenceRef]],
              reader: ShardReader, user_id: str) -> tuple[list[SignIn], list[EvidenceRef]]:
    """A user's sign-ins in time order and the pages they came from.

    Shard rows carry (page index within slice); the reader gives rows in slice order, so the
    slice of each row is found from the shard indexes.
    """
    timeline: list[SignIn] = []
    pages: dict[str, EvidenceRef] = {}
    position = 0
    for index in reader.indexes():
        span = index.users.get(user_id)
        if span is None:
            continue
        for row in rows[position : position + span.rows]:
            n, sign_in = decode_shard_row(row)
            timeline.append(sign_in)
            refs = slice_pages.get(index.slice_id, [])
            if n < len(refs):
                pages[refs[n].name] = refs[n]
        position += span.rows
    timeline.sort(key=lambda s: (s.created_date_time, s.id))
    return timeline, sorted(pages.values(), key=lambda r: r.name)
