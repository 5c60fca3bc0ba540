"""Scoring: the tenant-wide pass, then one verdict per user, with evidence and baselines.

`plan_scoring` runs once per run after the last slice: it streams every shard row through the
tenant-wide spray pass, reads privileged roles and Identity Protection data, stores all of it as
one write-once context blob, and splits the users (sorted) into batches. `score_batch` scores one
batch: the users' rows (one ranged read per shard), their stored baselines (one range query), the
detections and verdict, an evidence bundle per user (BUNDLES_PER_BLOB of them to a write-once
blob named by its SHA-256), the verdict entity, and the baseline updated with the sign-ins not
judged suspicious.

Redelivery never duplicates: a user whose verdict entity exists is not scored again, evidence is
write-once with the same bytes (so the same blob) for the same inputs, and a baseline records the
run that last updated it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from datetime import date, datetime, timedelta
from typing import Generic, TypeVar

import msgspec
from msgspec.structs import replace

from shared.analysis import roles_of, score_user
from shared.baseline import BaselineProfile, build_profile, update_profile
from shared.detect.context import (
    DetectionContext,
    DetectionSettings,
    TenantSignals,
    TenantSignalsBuilder,
)
from shared.detect.tenant_baseline import TenantBaseline, TenantCounter
from shared.detect.trusted import TrustedNetworks
from shared.errors import EvidenceError, SigninReviewError
from shared.graph import (
    DirectoryResult,
    directory_roles,
    privileged_role_members,
    risk_detections,
    risky_users,
    synced_users,
    trusted_networks,
    verified_domains,
)
from shared.graph.persistence import NOT_NEEDED, UserObjects
from shared.graph.retention import history_reach, tenant_licence
from shared.logs import event
from shared.model import (
    DataSource,
    RiskDetection,
    RiskInventory,
    RiskyUser,
    SignIn,
    UserVerdict,
    Window,
)
from shared.persistence.records import AuditEvent, Followed
from shared.pipeline.fetch import decode_shard_row
from shared.pipeline.followed import (
    followed_of,
    methods_unread_reason,
    needs_objects,
    read_audit_log,
    read_objects,
)
from shared.pipeline.records import RunRecord, VerdictRecord
from shared.pipeline.runs import Tables
from shared.remediation_plan import apply_plan, needs_facts, needs_roles
from shared.risk_inventory import RiskySignIns
from shared.services import Services
from shared.sources import SignInSource, open_source
from shared.store import (
    JSON,
    EntityTable,
    EvidenceRef,
    ShardReader,
    Store,
    bundles_name,
    encode_key,
)
from shared.store.evidence import sha256_hex

HISTORY_DAYS = 30  # Graph keeps sign-ins 30 days with P1/P2
# Users without a profile whose history Graph is asked for per batch (a query each, on the
# tenant's shared sign-in budget); the other sources read the period once for all of them.
HISTORY_FETCHES_PER_BATCH = 25
EVIDENCE_WRITERS = 8  # blobs of evidence bundles uploaded at once
# Users' evidence bundles per write-once blob. One blob per user made the per-user writes the
# largest cost after the last page (1,000 blob writes for 1,000 users, about 7 s of a run's
# 17 s after fetching against Azurite); 50 a blob keeps a blob to a few MB, which is what
# remediation's evidence check reads back for one user.
BUNDLES_PER_BLOB = 50
# Histories read at planning (sources other than Graph) are written as shards of about this
# many bytes of rows each, so planning holds one part at a time whatever the period holds.
HISTORY_PART_BYTES = 64 * 1024 * 1024


class PlannedHistories(msgspec.Struct, kw_only=True):
    """The histories of the users without a stored baseline, read once at planning for all of
    them (sources that read whole hours or ranges): the shard folder of the run that holds
    them, or why they could not be read."""

    kind: str
    users: int
    error: str | None = None


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
    # the report's inventory of risky sign-ins and risk detections, kept with what it came from
    risk_inventory: RiskInventory = msgspec.field(default_factory=RiskInventory)
    trusted: TrustedNetworks = msgspec.field(default_factory=TrustedNetworks)
    holidays: list[date] = msgspec.field(default_factory=list)  # judged like weekend days
    # the directory audit rows that matter, from the window's start until the run (None: not
    # read), and the raw pages they came from (shared.pipeline.followed)
    audit_events: list[AuditEvent] | None = None
    audit_pages: list[EvidenceRef] = msgspec.field(default_factory=list)
    # whether that read holds every row of the span, whoever initiated it: only then may a user
    # without security-info activity in it go without a read of their methods (followed.py);
    # False for a context stored without the field, a user-filtered read or a gap
    audit_complete: bool = False
    # when that log was read from Graph (the end of its query; None: from the archive or a
    # workspace): a user's methods are read for a success close enough to it (followed.py)
    audit_until: datetime | None = None
    # where the tenant's users sign in from (stored beside the baselines, else this window's):
    # the yardstick for users without a baseline of their own
    tenant_baseline: TenantBaseline | None = None
    # role holders' UPNs as the directory read gives them (user id, lower case -> UPN): how a
    # privileged account without a sign-in in the period is named
    privileged_names: dict[str, str] = msgspec.field(default_factory=dict)
    # how many days of sign-ins Graph keeps for the tenant, by its licence (None: the run reads
    # another source, whose history is not held to Graph's retention)
    history_days: int | None = None
    # the histories planning read for users without a baseline (None: each batch reads them)
    histories: PlannedHistories | None = None
    # the tenant's verified domains (GET /domains; empty when not read: then each user's own
    # UPN domain alone is the organisation's, for where a forwarding rule sends mail)
    tenant_domains: list[str] = msgspec.field(default_factory=list)


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
    # Sign-ins before the window that findings cite (the last located one, from the baseline,
    # as the first leg of a travel hop into the window).
    before_window: list[SignIn] = msgspec.field(default_factory=list)
    # What followed the sign-ins for this user: audit rows and, for users at low or above, the
    # methods, inbox rules and grants read before the final scoring (what containment acts on).
    followed: Followed | None = None


B = TypeVar("B")


class BundleBlob(msgspec.Struct, Generic[B], kw_only=True):
    """The evidence bundles of users scored together, stored as one write-once blob; each
    user's verdict refers to it (name and SHA-256)."""

    bundles: list[B]


def bundles_in(data: bytes, kind: type[B]) -> list[B]:
    """The bundles an evidence blob holds, decoded as `kind` (only the fields it declares): a
    blob of bundles, or (runs scored before bundles were stored together) one user's own."""
    try:
        return msgspec.json.decode(data, type=BundleBlob[kind]).bundles  # type: ignore[valid-type]
    except msgspec.ValidationError:  # a single user's bundle has no `bundles`
        return [msgspec.json.decode(data, type=kind)]


def stored_bundles(data: bytes) -> list[UserEvidence]:
    return bundles_in(data, UserEvidence)


class _Timeline(msgspec.Struct):
    user_id: str
    timeline: list[SignIn]


def stored_timelines(data: bytes) -> dict[str, list[SignIn]]:
    """Each user's timeline from an evidence blob (the rest of the bundles is not decoded)."""
    return {b.user_id: b.timeline for b in bundles_in(data, _Timeline)}


def user_bundle(data: bytes, user_id: str) -> UserEvidence:
    """One user's bundle from an evidence blob; EvidenceError when it holds none."""
    for bundle in stored_bundles(data):
        if bundle.user_id == user_id:
            return bundle
    raise EvidenceError(f"the evidence blob holds no bundle for user {user_id}",
                        user_id=user_id)


def store_bundles(store: Store, run_id: str, bundles: Sequence[UserEvidence]
                  ) -> list[EvidenceRef]:
    """Write the bundles, BUNDLES_PER_BLOB to a write-once blob (in parallel); each bundle's
    blob reference, in order."""
    groups = [list(bundles[i : i + BUNDLES_PER_BLOB])
              for i in range(0, len(bundles), BUNDLES_PER_BLOB)]

    def put(group: list[UserEvidence]) -> EvidenceRef:
        data = msgspec.json.encode(BundleBlob(bundles=group))
        return store.evidence.put_evidence(bundles_name(run_id, sha256_hex(data)), data,
                                           content_type=JSON)

    with ThreadPoolExecutor(max_workers=EVIDENCE_WRITERS) as pool:
        refs = list(pool.map(put, groups))
    return [ref for ref, group in zip(refs, groups, strict=True) for _ in group]


class BaselineRecord(msgspec.Struct, kw_only=True):
    user_id: str
    profile: BaselineProfile
    last_run_id: str | None = None


def baseline_keys(record: BaselineRecord) -> tuple[str, str]:
    return "baseline", record.user_id


def baselines_table(store: Store) -> EntityTable[BaselineRecord]:
    return store.table(store.names.baselines, BaselineRecord, baseline_keys)


class TenantBaselineRecord(msgspec.Struct, kw_only=True):
    """The tenant's baseline, stored in the baselines table beside the users' (its own
    partition, so a range over users' baselines never meets it)."""

    profile: TenantBaseline
    last_run_id: str | None = None


def tenant_baseline_keys(record: TenantBaselineRecord) -> tuple[str, str]:
    return "tenant", "baseline"


def tenant_baselines_table(store: Store) -> EntityTable[TenantBaselineRecord]:
    return store.table(store.names.baselines, TenantBaselineRecord, tenant_baseline_keys)


def stored_tenant_baseline(store: Store) -> TenantBaseline | None:
    """The tenant baseline `learn` stored, or None."""
    record = tenant_baselines_table(store).get("tenant", "baseline")
    return record.profile if record is not None else None


def context_name(run_id: str) -> str:
    return f"runs/{run_id}/context.json"


# --- the tenant-wide pass -------------------------------------------------------------------


async def directory_data(services: Services, window: Window
                         ) -> tuple[DirectoryResult[dict[str, list[str]]], list[RiskyUser],
                                    list[RiskDetection], list[DataSource]]:
    """Privileged role members (with their UPNs) and Identity Protection data, each with its
    availability."""
    async with services.graph() as graph:
        roles = await privileged_role_members(graph)
        risky = await risky_users(graph)
        detections = await risk_detections(graph, window)
    sources = [roles.source("privilegedRoles"), risky.source("riskyUsers"),
               detections.source("riskDetections")]
    return roles, risky.value, detections.value, sources


async def _trusted(services: Services) -> tuple[TrustedNetworks, DataSource]:
    async with services.graph() as graph:
        found = await trusted_networks(graph)
    return found.value, found.source("namedLocations")


def read_trusted(services: Services) -> tuple[TrustedNetworks, DataSource]:
    """The tenant's trusted named locations, and how the report lists them."""
    return asyncio.run(_trusted(services))


def read_domains(services: Services) -> tuple[list[str], DataSource]:
    """The tenant's verified domains (shared.graph.domains), and how the report lists them."""

    async def read() -> tuple[list[str], DataSource]:
        async with services.graph() as graph:
            found = await verified_domains(graph)
        return found.value, found.source("domains")

    return asyncio.run(read())


def tenant_signals(rows: Iterable[bytes], risky_sign_ins: RiskySignIns | None = None,
                   trusted: TrustedNetworks | None = None,
                   counter: TenantCounter | None = None) -> TenantSignals:
    """The tenant-wide pass over every row; risky sign-ins are collected on the way, and the
    window's successes counted into `counter` (a tenant baseline when none is stored)."""
    builder = TenantSignalsBuilder(trusted=trusted)
    for row in rows:
        sign_in = decode_shard_row(row)[1]
        builder.add(sign_in)
        if risky_sign_ins is not None:
            risky_sign_ins.add(sign_in)
        if counter is not None:
            counter.add_all((sign_in,))
    return builder.build()


def build_context(services: Services, run: RunRecord, signals: TenantSignals,
                  risky_sign_ins: RiskySignIns | None = None,
                  trusted: tuple[TrustedNetworks, DataSource] | None = None,
                  tenant_baseline: TenantBaseline | None = None) -> ScoringContext:
    window = Window(start=run.window_start, end=run.window_end)
    roles, risky, detections, sources = asyncio.run(directory_data(services, window))
    available = all(s.available for s in sources if s.name in ("riskyUsers", "riskDetections"))
    inventory = (risky_sign_ins or RiskySignIns()).inventory(detections, window)
    networks, source = trusted or (TrustedNetworks(), None)
    audit = read_audit_log(services, run.run_id, window.start,
                           max(window.end, services.clock()), source=run.source)
    domains, domains_source = read_domains(services)
    kept, history = asyncio.run(graph_retention(services)) if run.source == "graph" \
        else (None, [])
    return ScoringContext(
        run_id=run.run_id, window=window, signals=signals, privileged=roles.value,
        privileged_names=roles.names, risky_users=risky,
        risk_detections=detections, identity_protection=available,
        sources=sources + ([source] if source is not None else []) + [audit.source]
        + [domains_source] + history, tenant_domains=domains,
        trusted=networks, risk_inventory=inventory, holidays=list(services.settings.holidays),
        audit_events=audit.events, audit_pages=audit.pages, audit_complete=audit.complete,
        audit_until=audit.until, tenant_baseline=tenant_baseline, history_days=kept,
    )


async def graph_retention(services: Services) -> tuple[int, list[DataSource]]:
    """How many days of sign-ins Graph keeps for the tenant (its licence) and what a run says
    about it: the tier, and a history shorter than the licence keeps (as after an upgrade).
    A probe Graph refuses is reported, and the licence's days are kept."""
    async with services.graph() as graph:
        licence = await tenant_licence(graph)
        try:
            reach = await history_reach(graph, services.clock(), licence.value)
        except SigninReviewError as exc:
            reach = DataSource("signInHistory", False, "how far back the sign-ins reach could "
                               f"not be checked: {exc.message[:200]}")
    return licence.value.sign_in_days, [licence.source("licence"), *([reach] if reach else [])]


def history_window(before: datetime, now: datetime, kept_days: int | None = None,
                   days: int = HISTORY_DAYS) -> Window | None:
    """The `days` before `before`, from no earlier than `kept_days` before `now` when the
    source keeps only that many (Graph, by licence); None when nothing of it is kept."""
    start = before - timedelta(days=days)
    if kept_days is not None:
        start = max(start, now - timedelta(days=kept_days))
    end = before - timedelta(microseconds=1)
    return Window(start=start, end=end) if start < end else None


def store_context(services: Services, context: ScoringContext) -> tuple[EvidenceRef,
                                                                          ScoringContext]:
    """Write the context once; a retry that finds one already written uses that one."""
    ref, body = services.store.evidence.put_or_adopt(
        context_name(context.run_id), msgspec.json.encode(context), content_type=JSON)
    return ref, msgspec.json.decode(body, type=ScoringContext)


def stored_context(services: Services, run: RunRecord) -> ScoringContext | None:
    """The run's scoring context, read back from evidence (hash-checked); None before planning."""
    if run.context is None:
        return None
    return msgspec.json.decode(services.store.evidence.read_evidence(run.context),
                               type=ScoringContext)


def batches(user_ids: Sequence[str], size: int) -> list[list[str]]:
    return [list(user_ids[i : i + size]) for i in range(0, len(user_ids), size)]


# --- one user -------------------------------------------------------------------------------


def user_context(context: ScoringContext, user_id: str, upn: str | None,
                 baseline: BaselineProfile | None, followed: Followed | None = None
                 ) -> DetectionContext:
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
        trusted=context.trusted,
        settings=DetectionSettings(holidays=frozenset(context.holidays)),
        followed=followed or followed_of(context.audit_events, user_id, upn,
                                         domains=context.tenant_domains),
        tenant_baseline=context.tenant_baseline,
    )


def suspicious_ids(verdict: UserVerdict) -> set[str]:
    return {sid for finding in verdict.findings for sid in finding.sign_in_ids}


def learnable(verdict: UserVerdict, timeline: Sequence[SignIn]) -> list[SignIn]:
    """The sign-ins a baseline may learn from: none when the account may be taken over."""
    if verdict.verdict == "high":
        return []
    cited = suspicious_ids(verdict)
    return [s for s in timeline if s.id not in cited]


class UserInput(msgspec.Struct, kw_only=True):
    """One user to score: the window's sign-ins (time ordered), the pages they came from, the
    stored baseline if any, and (without one) the user's own history read from the run's
    sign-in source."""

    user_id: str
    timeline: list[SignIn]
    pages: list[EvidenceRef]
    baseline: BaselineRecord | None = None
    history: list[SignIn] | None = None
    history_error: str | None = None  # why the history could not be read, when it could not

    def profile(self) -> tuple[BaselineProfile | None, str]:
        """The baseline to score against, and how it was obtained (for the evidence)."""
        if self.baseline is not None:
            return self.baseline.profile, "stored profile"
        if self.history:
            return build_profile(self.history), (
                f"built from {len(self.history)} sign-ins fetched for this user")
        if self.history_error:
            return None, f"none: the user's history could not be read ({self.history_error})"
        return None, "none"


def _upn(user: UserInput) -> str | None:
    return next((s.user_principal_name for s in user.timeline if s.user_principal_name), None)


def assess(context: ScoringContext, context_ref: EvidenceRef | None, user: UserInput,
           objects: UserObjects | None = None) -> UserEvidence:
    """Detections and verdict for one user, as the evidence bundle that records them (pure);
    `objects`: the user's methods, rules and grants, when read."""
    profile, described = user.profile()
    upn = _upn(user)
    followed = followed_of(context.audit_events, user.user_id, upn, objects,
                           domains=context.tenant_domains)
    verdict = score_user(user.timeline,
                         user_context(context, user.user_id, upn, profile, followed))
    if objects is not None and objects.methods.reason == NOT_NEEDED:
        verdict.reasons.append(f"Authentication methods not read: {objects.methods.detail}.")
    place = profile.last_place if profile is not None else None
    earlier = [place.as_sign_in()] if place is not None and place.id in suspicious_ids(verdict) \
        and place.id not in {s.id for s in user.timeline} else []
    return UserEvidence(run_id=context.run_id, user_id=user.user_id, window=context.window,
                        verdict=verdict, baseline=described, timeline=user.timeline,
                        pages=user.pages, context=context_ref, before_window=earlier,
                        followed=followed)


def verdict_record(bundle: UserEvidence, ref: EvidenceRef, scored_at: datetime) -> VerdictRecord:
    verdict = bundle.verdict
    return VerdictRecord(
        run_id=bundle.run_id, user_id=bundle.user_id,
        user_principal_name=verdict.user_principal_name, verdict=verdict.verdict,
        privileged=verdict.privileged, got_in=verdict.got_in,
        finding_types=sorted({f.type for f in verdict.findings}),
        proposed_actions=verdict.proposed_actions, detail=verdict, evidence=ref,
        pages=bundle.pages, scored_at=scored_at,
    )


def stored_verdicts(store: Store, run_id: str, user_ids: Sequence[str]
                    ) -> dict[str, VerdictRecord]:
    """The verdicts this run already holds for these users (one range query)."""
    if not user_ids:
        return {}
    keys = sorted(encode_key(u) for u in user_ids)
    wanted = set(user_ids)
    found = Tables.of(store).verdicts.query(
        "PartitionKey eq @pk and RowKey ge @lo and RowKey le @hi",
        pk=encode_key(run_id), lo=keys[0], hi=keys[-1])
    return {v.user_id: v for v in found if v.user_id in wanted}


def score(services: Services, context: ScoringContext, context_ref: EvidenceRef | None,
          users: Sequence[UserInput], *, learn: bool = True) -> list[VerdictRecord]:
    """Score users and record them: evidence bundles (write-once, BUNDLES_PER_BLOB a blob),
    verdict entities (create-only, in transactions), then (when `learn`) baselines, once per
    run.

    Users whose verdict this run already holds are not scored again (a redelivery)."""
    store = services.store
    run_id = context.run_id
    existing = stored_verdicts(store, run_id, [u.user_id for u in users])
    fresh_users = [u for u in users if u.user_id not in existing]
    bundles = plan_remediation(services, follow_up(
        services, context, context_ref, fresh_users,
        [assess(context, context_ref, u) for u in fresh_users]))
    refs = store_bundles(store, run_id, bundles)
    fresh = [verdict_record(b, ref, services.clock()) for b, ref in zip(bundles, refs,
                                                                          strict=True)]
    Tables.of(store).verdicts.create_many(fresh)
    verdicts = {**existing, **{v.user_id: v for v in fresh}}
    if learn:
        baselines_table(store).upsert_many(
            BaselineRecord(user_id=u.user_id, last_run_id=run_id, profile=update_profile(
                u.profile()[0], learnable(verdicts[u.user_id].detail, u.timeline),
                now=context.window.end))
            for u in users if u.baseline is None or u.baseline.last_run_id != run_id)
    return [verdicts[u.user_id] for u in users]


def follow_up(services: Services, context: ScoringContext, context_ref: EvidenceRef | None,
              users: Sequence[UserInput], bundles: list[UserEvidence]) -> list[UserEvidence]:
    """Users at low or above are scored again with their methods, inbox rules and grants as
    they are now (read once, kept in their bundle)."""
    wanted = [b.user_id for b in bundles if needs_objects(b.verdict)]
    if not wanted:
        return bundles
    by_id = {u.user_id: u for u in users}
    skip = {user_id: why for user_id in wanted if (why := methods_unread_reason(
        context.audit_events, context.audit_complete, user_id, _upn(by_id[user_id]),
        context.window.start, window_end=context.window.end, audit_until=context.audit_until,
        last_sign_in=max((s.created_date_time for s in by_id[user_id].timeline
                          if s.error_code == 0), default=None)))  # the detection ties successes
        is not None}
    objects = read_objects(services, wanted, skip)
    return [assess(context, context_ref, by_id[b.user_id], objects[b.user_id])
            if b.user_id in objects else b for b in bundles]


def plan_remediation(services: Services, bundles: list[UserEvidence]) -> list[UserEvidence]:
    """Each verdict's remediation as Graph will carry it out: a synced user's disable and reset,
    and (without a role that may act on them) an administrator's revoke, disable and reset are
    named, not proposed. The users' directory roles are read here, all of them, privileged or
    not: Microsoft's table of who may act on whom turns on every role."""
    wanted = [b.user_id for b in bundles if needs_facts(b.verdict)]
    with_roles = [b.user_id for b in bundles if needs_roles(b.verdict)]
    if not wanted and not with_roles:
        return bundles

    async def read() -> tuple[DirectoryResult[set[str]], DirectoryResult[dict[str, set[str]]]]:
        async with services.graph() as graph:
            return await synced_users(graph, wanted), await directory_roles(graph, with_roles)

    found, held = asyncio.run(read())
    if not found.available:
        event("score.sync_state_unavailable", reason=found.reason, detail=found.detail)
    if not held.available:  # then judged by the privileged flag alone
        event("score.directory_roles_unavailable", reason=held.reason, detail=held.detail)
    synced = found.value
    roles = services.settings.remediator_directory_roles

    def planned(b: UserEvidence) -> UserEvidence:
        target = held.value.get(b.user_id.lower()) if held.available else None
        return replace(b, verdict=apply_plan(b.verdict, synced=b.user_id.lower() in synced,
                                             remediator_roles=roles, target_roles=target))

    return [planned(b) if needs_roles(b.verdict) or needs_facts(b.verdict) else b
            for b in bundles]


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


async def fetch_histories(services: Services, user_ids: Sequence[str], before: datetime,
                          source: str | None = None, kept_days: int | None = None
                          ) -> tuple[dict[str, list[SignIn]], dict[str, str]]:
    """Each user's own sign-ins over the retention period before the window, read from the
    run's sign-in source; and why, for those that could not be read. Graph is asked for the
    first HISTORY_FETCHES_PER_BATCH users only; the others are scored without a history.

    Graph filters by user on its side, so each user is one query (paced by the tenant's shared
    sign-in budget). The archive and Log Analytics read whole hours or time ranges and filter
    here, so one pass over the period serves every user asked for: a query per user would read
    the whole retention period again for each of them. `kept_days`: how many days Graph keeps
    for the tenant (its licence); nothing older is asked for."""
    window = history_window(before, services.clock(), kept_days)
    if window is None:
        kept = f"the tenant's sign-ins are kept {kept_days} days: none before the window remain"
        return {}, dict.fromkeys(user_ids[:HISTORY_FETCHES_PER_BATCH], kept)
    reader = open_source(services, source)
    if reader.name != "graph" and len(user_ids) > 1:
        return await _histories_in_one_pass(reader, user_ids, window)
    found: dict[str, list[SignIn]] = {}
    failed: dict[str, str] = {}
    for user_id in user_ids[:HISTORY_FETCHES_PER_BATCH]:
        try:
            found[user_id] = await _read_all(reader, window, user_id)
        except SigninReviewError as exc:
            event("score.history_unavailable", userId=user_id, reason=exc.message)
            failed[user_id] = exc.message[:300]
    return found, failed


async def _read_all(reader: SignInSource, window: Window, user: str | None) -> list[SignIn]:
    rows: list[SignIn] = []
    stream = reader.pages(window, user=user)
    async with aclosing(stream):
        async for page in stream:
            rows.extend(page.sign_ins)
    return rows


def _owners_of(user_ids: Sequence[str]) -> Callable[[SignIn], set[str]]:
    """Which of the users a row belongs to by Graph's one-user filter (`of_user`: the object
    id, or the UPN in any case)."""
    ids = set(user_ids)
    by_upn: dict[str, list[str]] = {}
    for user_id in user_ids:
        by_upn.setdefault(user_id.lower(), []).append(user_id)

    def owners(sign_in: SignIn) -> set[str]:
        found = {sign_in.user_id} if sign_in.user_id in ids else set()
        found.update(by_upn.get((sign_in.user_principal_name or "").lower(), ()))
        return found

    return owners


async def _histories_in_one_pass(reader: SignInSource, user_ids: Sequence[str], window: Window
                                 ) -> tuple[dict[str, list[SignIn]], dict[str, str]]:
    """The users' histories from one read of the period, each row kept for the users it
    belongs to."""
    found: dict[str, list[SignIn]] = {user_id: [] for user_id in user_ids}
    owners = _owners_of(user_ids)
    stream = reader.pages(window)
    try:
        async with aclosing(stream):
            async for page in stream:
                for sign_in in page.sign_ins:
                    for user_id in owners(sign_in):
                        found[user_id].append(sign_in)
    except SigninReviewError as exc:
        event("score.history_unavailable", users=len(user_ids), reason=exc.message)
        return {}, dict.fromkeys(user_ids, exc.message[:300])
    return found, {}


# --- histories read once, at planning -----------------------------------------------------


def plan_histories(services: Services, run: RunRecord, user_ids: Sequence[str],
                   kept_days: int | None = None) -> PlannedHistories | None:
    """For a source that reads whole hours or ranges (the archive, Log Analytics): the
    histories of the users without a stored baseline, read in one pass over the period before
    the window for all of them and written as shards of the run (`history_shards`), which
    each batch reads by user. Every batch reading the period again for its own users was most
    of the run's time after the last page. None when Graph is the source (it filters by user:
    each batch asks for its users, on the tenant's budget) or every user has a baseline."""
    window = history_window(run.window_start, services.clock(), kept_days)
    if (run.source or services.settings.signin_source) == "graph" or window is None:
        return None
    reader = open_source(services, run.source)
    if reader.name == "graph":
        return None
    store = services.store
    stored = baselines_table(store).row_keys("baseline")
    missing = [u for u in user_ids if u not in stored]
    if not missing:
        return None
    # a folder of this attempt's own: a second planning of the run writes beside it, and the
    # context stored first names the folder its batches read
    kind = f"histories/{uuid.uuid4().hex}"
    parts = 0

    def put(rows_by_user: Mapping[str, list[bytes]]) -> None:
        nonlocal parts
        store.shards.put_shard(run.run_id, f"p{parts:05d}", rows_by_user, kind=kind)
        parts += 1

    error = asyncio.run(_history_parts(reader, missing, window, put))
    event("score.histories_planned", users=len(missing), parts=parts, failed=error is not None)
    return PlannedHistories(kind=kind, users=len(missing), error=error)


_encode_sign_in = msgspec.json.Encoder().encode
_decode_sign_in = msgspec.json.Decoder(SignIn).decode


async def _history_parts(reader: SignInSource, user_ids: Sequence[str], window: Window,
                         put: Callable[[Mapping[str, list[bytes]]], None]) -> str | None:
    """`_histories_in_one_pass`, its rows handed to `put` by user in parts of about
    HISTORY_PART_BYTES; why the period could not be read, or None."""
    owners = _owners_of(user_ids)
    part: dict[str, list[bytes]] = {}
    size = 0
    stream = reader.pages(window)
    try:
        async with aclosing(stream):
            async for page in stream:
                for sign_in in page.sign_ins:
                    found = owners(sign_in)
                    if found:
                        row = _encode_sign_in(sign_in)
                        size += len(row) * len(found)
                        for user_id in found:
                            part.setdefault(user_id, []).append(row)
                if size >= HISTORY_PART_BYTES:
                    put(part)
                    part, size = {}, 0
    except SigninReviewError as exc:
        event("score.history_unavailable", users=len(user_ids), reason=exc.message)
        return exc.message[:300]
    if part:
        put(part)
    return None


def planned_histories(store: Store, run_id: str, planned: PlannedHistories,
                      user_ids: Sequence[str]
                      ) -> tuple[dict[str, list[SignIn]], dict[str, str]]:
    """The users' histories as planning read them (what `fetch_histories` gives for them)."""
    if planned.error is not None:
        return {}, dict.fromkeys(user_ids, planned.error)
    rows = store.shards.reader(run_id, planned.kind).rows_for_users(user_ids)
    return {u: [_decode_sign_in(row) for row in rows[u]] for u in user_ids}, {}


def score_batch(services: Services, run: RunRecord, context: ScoringContext,
                context_ref: EvidenceRef | None, user_ids: list[str],
                batch_id: str | None = None) -> list[VerdictRecord]:
    """Score one batch of a run's users from the slice shards (`batch_id`: a planned batch,
    whose own index planning wrote)."""
    store = services.store
    reader = store.shards.batch_reader(run.run_id, batch_id, user_ids) if batch_id \
        else store.shards.reader(run.run_id)
    slice_pages = _pages_by_slice(services, run)
    rows = reader.rows_for_users(user_ids)
    profiles = stored_baselines(store, user_ids)
    missing = [u for u in user_ids if u not in profiles]
    if not missing:
        histories: dict[str, list[SignIn]] = {}
        unread: dict[str, str] = {}
    elif context.histories is not None:
        histories, unread = planned_histories(store, run.run_id, context.histories, missing)
    else:
        histories, unread = asyncio.run(fetch_histories(
            services, missing, run.window_start, run.source, context.history_days))
    users = []
    for user_id in user_ids:
        timeline, pages = _timeline(rows.get(user_id, []), slice_pages, reader, user_id)
        if timeline:
            users.append(UserInput(user_id=user_id, timeline=timeline, pages=pages,
                                   baseline=profiles.get(user_id),
                                   history=histories.get(user_id),
                                   history_error=unread.get(user_id)))
    return score(services, context, context_ref, users)


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
