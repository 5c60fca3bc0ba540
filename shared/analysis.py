"""The review engine: sign-ins in, one verdict per user out.

`review` groups sign-ins by user once, puts each user's in time order, takes what precedes the
window as history (the baseline is built from it unless baselines are given), makes the
tenant-wide pass (spray sources) over the window, then scores each user with every detection and
the verdict. `score_user` is the per-user step alone, for the pipeline's scoring batches.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from operator import attrgetter

from shared.baseline import BaselineProfile, build_profile, capped, uncapped_profile
from shared.bulk import paused_gc
from shared.detect import run_all
from shared.detect.context import (
    DetectionContext,
    DetectionSettings,
    TenantSignals,
    TenantSignalsBuilder,
)
from shared.detect.tenant_baseline import TenantBaseline, TenantCounter, from_profiles
from shared.detect.trusted import TrustedNetworks
from shared.model import (
    DataSource,
    ReviewResult,
    RiskDetection,
    RiskInventory,
    RiskyUser,
    SignIn,
    TenantSummary,
    UserVerdict,
    Window,
    level_rank,
)
from shared.persistence.records import AuditEvent, Followed
from shared.risk_inventory import RiskySignIns, in_window
from shared.verdict import decide

Privileged = Mapping[str, list[str]] | set[str] | frozenset[str]
Timelines = dict[str, list[SignIn]]
_created = attrgetter("created_date_time")


def score_user(user_sign_ins: Sequence[SignIn], context: DetectionContext) -> UserVerdict:
    """Every detection, then the verdict, for one user's window sign-ins (time ordered)."""
    return decide(run_all(user_sign_ins, context), context, user_sign_ins)


def group_by_user(sign_ins: Iterable[SignIn]) -> Timelines:
    """Each user's sign-ins in time order (one pass to group, one sort per user)."""
    grouped: Timelines = {}
    for sign_in in sign_ins:
        key = sign_in.user_id or (sign_in.user_principal_name or "").lower()
        found = grouped.get(key)
        if found is None:
            grouped[key] = [sign_in]
        else:
            found.append(sign_in)
    for rows in grouped.values():
        if len(rows) > 1 and rows[0].created_date_time > rows[-1].created_date_time:
            rows.reverse()  # Graph pages come newest first: make the sort's work linear
        rows.sort(key=_created)
    return grouped


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def whole_span(timelines: Timelines) -> Window:
    """The window covering every sign-in given (the default for `analyze`)."""
    firsts = [rows[0].created_date_time for rows in timelines.values() if rows]
    lasts = [rows[-1].created_date_time for rows in timelines.values() if rows]
    if not firsts:
        now = datetime.now(UTC)
        return Window(start=now, end=now)
    return Window(start=_utc(min(firsts)), end=_utc(max(lasts)))


def roles_of(privileged: Privileged, user_id: str, upn: str | None) -> list[str]:
    """The privileged roles of a user, by object id or UPN (case-insensitive)."""
    keys = [user_id.lower()] + ([upn.lower()] if upn else [])
    if isinstance(privileged, Mapping):
        lowered = {key.lower(): roles for key, roles in privileged.items()}
        for key in keys:
            if key in lowered:
                return list(lowered[key]) or ["privileged role"]
        return []
    lowered_set = {key.lower() for key in privileged}
    return ["privileged role"] if any(key in lowered_set for key in keys) else []


def _by_user(
    detections: Iterable[RiskDetection], window: Window
) -> dict[str, list[RiskDetection]]:
    found: dict[str, list[RiskDetection]] = {}
    for detection in detections:
        if not in_window(detection, window):
            continue
        for key in {detection.user_id, (detection.user_principal_name or "").lower()} - {None, ""}:
            found.setdefault(str(key), []).append(detection)
    return found


def review(
    sign_ins: Iterable[SignIn],
    *,
    window: Window | None = None,
    privileged: Privileged = frozenset(),
    baselines: Mapping[str, BaselineProfile] | None = None,
    risk_detections: Iterable[RiskDetection] = (),
    risky_users: Iterable[RiskyUser] = (),
    settings: DetectionSettings | None = None,
    identity_protection: bool | None = None,
    trusted: TrustedNetworks | None = None,
    audit_events: Sequence[AuditEvent] | None = None,
) -> ReviewResult:
    """Review sign-ins: every user with sign-ins in the window, flagged users first."""
    result, _ = review_with_timelines(
        sign_ins, window=window, privileged=privileged, baselines=baselines,
        risk_detections=risk_detections, risky_users=risky_users, settings=settings,
        identity_protection=identity_protection, trusted=trusted, audit_events=audit_events,
    )
    return result


def review_with_timelines(
    sign_ins: Iterable[SignIn],
    *,
    window: Window | None = None,
    privileged: Privileged = frozenset(),
    baselines: Mapping[str, BaselineProfile] | None = None,
    risk_detections: Iterable[RiskDetection] = (),
    risky_users: Iterable[RiskyUser] = (),
    settings: DetectionSettings | None = None,
    identity_protection: bool | None = None,
    trusted: TrustedNetworks | None = None,
    audit_events: Sequence[AuditEvent] | None = None,
) -> tuple[ReviewResult, Timelines]:
    """`review`, plus each user's window sign-ins in time order (for the HTML report).

    `trusted` holds the tenant's trusted named locations (familiar networks for everyone);
    `audit_events` the directory audit rows read (None: not read), for `persistence`."""
    with paused_gc():
        return _review(
            sign_ins, window=window, privileged=privileged, baselines=baselines,
            risk_detections=risk_detections, risky_users=risky_users,
            settings=settings or DetectionSettings(), identity_protection=identity_protection,
            trusted=trusted or TrustedNetworks(), audit_events=audit_events,
        )


def _review(
    sign_ins: Iterable[SignIn],
    *,
    window: Window | None,
    privileged: Privileged,
    baselines: Mapping[str, BaselineProfile] | None,
    risk_detections: Iterable[RiskDetection],
    risky_users: Iterable[RiskyUser],
    settings: DetectionSettings,
    identity_protection: bool | None,
    trusted: TrustedNetworks,
    audit_events: Sequence[AuditEvent] | None = None,
) -> tuple[ReviewResult, Timelines]:
    grouped = group_by_user(sign_ins)
    window = window or whole_span(grouped)
    window = Window(start=_utc(window.start), end=_utc(window.end))
    timelines, histories = _split(grouped, window)
    del grouped
    builder = TenantSignalsBuilder(settings, trusted).defer_history(histories)
    risky_sign_ins = RiskySignIns()
    for rows in timelines.values():
        builder.add_all(rows)
        risky_sign_ins.add_all(rows)
    signals = builder.build()
    detections = list(risk_detections)
    risky = list(risky_users)
    if identity_protection is None:
        identity_protection = bool(detections or risky)
    profiles, tenant_baseline = _baselines(baselines, histories, timelines)
    scorer = _Scorer(
        window=window, privileged=privileged, baselines=profiles, histories=histories,
        detections=_by_user(detections, window), risky=_risky_by_user(risky), signals=signals,
        settings=settings, identity_protection=identity_protection, trusted=trusted,
        audit=audit_by_user(audit_events), tenant_baseline=tenant_baseline,
    )
    users = [scorer.score(user, rows) for user, rows in timelines.items()]
    sources = _sources(sum(len(rows) for rows in histories.values()), len(histories),
                       baselines, identity_protection, trusted)
    inventory = risky_sign_ins.inventory(detections, window)
    return _result(window, signals, users, sources, inventory), timelines


def _baselines(
    baselines: Mapping[str, BaselineProfile] | None, histories: Timelines, timelines: Timelines,
) -> tuple[Mapping[str, BaselineProfile] | None, TenantBaseline | None]:
    """The profiles to judge users by, and the tenant baseline: the stored baselines and the
    tenant's from them; else each reviewed user's profile built from their history, and the
    tenant's from those same counts (one pass over a history serves both) and from the
    histories of users without a sign-in in the window; else (no history at all) the tenant's
    from the window's own sign-ins."""
    if baselines:
        return baselines, from_profiles(baselines.values())
    counter = TenantCounter()
    profiles: dict[str, BaselineProfile] = {}
    for user, rows in histories.items():
        if user in timelines:
            profile = uncapped_profile(rows)
            counter.add_profile(user, profile)
            profiles[user] = capped(profile)
        else:
            counter.add_all(rows)
    if counter.sign_ins:
        return profiles, counter.result(from_window=False)
    for rows in timelines.values():
        counter.add_all(rows)
    return profiles, counter.result(from_window=True)


def _result(window: Window, signals: TenantSignals, users: list[UserVerdict],
            sources: list[DataSource], risk_inventory: RiskInventory) -> ReviewResult:
    """The review's result, flagged users first."""
    users.sort(key=lambda u: (-level_rank(u.verdict), not u.got_in,
                              (u.user_principal_name or u.user_id).lower()))
    return ReviewResult(
        window=window,
        tenant=TenantSummary(
            sign_ins=signals.sign_ins, users=signals.users,
            spraying_sources=[source.as_spraying_source() for source in signals.sources],
        ),
        users=users,
        sources=sources,
        risk_inventory=risk_inventory,
        campaigns=[campaign.summary() for campaign in signals.campaigns],
    )


UserTimelines = Callable[[], Iterable[tuple[str, list[SignIn]]]]


def review_user_by_user(
    users: UserTimelines,
    *,
    window: Window | None = None,
    privileged: Privileged = frozenset(),
    settings: DetectionSettings | None = None,
    risk_detections: Iterable[RiskDetection] = (),
    on_user: Callable[[int, int], None] | None = None,
    trusted: TrustedNetworks | None = None,
    tenant: TenantPass | None = None,
    audit_events: Sequence[AuditEvent] | None = None,
    keep_timelines: bool = True,
) -> tuple[ReviewResult, Timelines]:
    """`review_with_timelines` for inputs too large to hold at once: `users()` gives each user's
    whole timeline (time ordered), one user at a time. It is called once when `tenant` already
    holds the tenant-wide pass (fed as the input was read, with the same window, settings and
    trusted networks), else twice (the tenant-wide pass, then scoring). Only flagged users'
    window sign-ins are kept as timelines, and none when `keep_timelines` is False (outputs
    other than the HTML report never show them, and a tenant under attack can have thousands
    of flagged users). `on_user(done, total)` follows the scoring."""
    settings = settings or DetectionSettings()
    trusted = trusted or TrustedNetworks()
    with paused_gc():
        if tenant is None:
            tenant = TenantPass(window, settings, trusted)
            for _, rows in users():
                tenant.add_all(rows)
        signals, risky_sign_ins, window = tenant.finish()
        detections = list(risk_detections)
        scorer = _Scorer(
            window=window, privileged=privileged, baselines=None, histories={},
            detections=_by_user(detections, window), risky={}, signals=signals,
            settings=settings, identity_protection=bool(detections), trusted=trusted,
            audit=audit_by_user(audit_events), tenant_baseline=tenant.tenant_baseline(),
        )
        verdicts: list[UserVerdict] = []
        flagged: Timelines = {}
        history_rows = history_users = 0
        for user, rows in users():
            timelines, histories = _split({user: rows}, window)
            if user not in timelines:
                continue
            scorer.histories = histories
            history_rows += len(histories.get(user, ()))
            history_users += user in histories
            verdict = scorer.score(user, timelines[user])
            verdicts.append(verdict)
            if keep_timelines and verdict.verdict != "none":
                flagged[user] = timelines[user]
            if on_user is not None:
                on_user(len(verdicts), signals.users)
    sources = _sources(history_rows, history_users, None, bool(detections), trusted)
    inventory = risky_sign_ins.inventory(detections, window)
    return _result(window, signals, verdicts, sources, inventory), flagged


class TenantPass:
    """The tenant-wide pass, fed sign-ins in any order (user by user, or file by file as they
    are read): tenant signals and risky sign-ins over the window's sign-ins, and the window
    itself (the span of all input when None). Every sign-in must be fed exactly once."""

    def __init__(self, window: Window | None, settings: DetectionSettings,
                 trusted: TrustedNetworks) -> None:
        self.window = window and Window(start=_utc(window.start), end=_utc(window.end))
        self.builder = TenantSignalsBuilder(settings, trusted)
        self.risky_sign_ins = RiskySignIns()
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.history_counter = TenantCounter()  # the tenant baseline, from the history
        self.window_counter = TenantCounter()  # and from the window, when there is none

    def add_all(self, sign_ins: Sequence[SignIn]) -> None:
        window = self.window
        if window is None:
            inside = sign_ins
            if sign_ins:
                times = [sign_in.created_date_time for sign_in in sign_ins]
                first, last = min(times), max(times)
                self.first = first if self.first is None else min(self.first, first)
                self.last = last if self.last is None else max(self.last, last)
        else:
            start, end = window.start, window.end
            inside = [s for s in sign_ins if start <= s.created_date_time <= end]
            if len(inside) < len(sign_ins):
                before = [s for s in sign_ins if s.created_date_time < start]
                self.builder.add_history(before)
                self.history_counter.add_all(before)
        self.builder.add_all(inside)
        self.window_counter.add_all(inside)
        self.risky_sign_ins.add_all(inside)

    def tenant_baseline(self) -> TenantBaseline | None:
        """From the history when there is one, else from the window (as `_tenant_baseline`)."""
        if self.history_counter.sign_ins:
            return self.history_counter.result(from_window=False)
        return self.window_counter.result(from_window=True)

    def finish(self) -> tuple[TenantSignals, RiskySignIns, Window]:
        window = self.window
        if window is None:
            first, last = self.first, self.last
            window = Window(start=_utc(first), end=_utc(last)) if first and last \
                else whole_span({})
        return self.builder.build(), self.risky_sign_ins, window


def _split(grouped: Timelines, window: Window) -> tuple[Timelines, Timelines]:
    """Per user: sign-ins inside the window, and the history before it."""
    timelines: Timelines = {}
    histories: Timelines = {}
    for user, rows in grouped.items():
        start = bisect_left(rows, window.start, key=_created)
        end = bisect_right(rows, window.end, key=_created)
        if start == end:
            continue
        timelines[user] = rows if start == 0 and end == len(rows) else rows[start:end]
        if start:
            histories[user] = rows[:start]
    return timelines, histories


def audit_by_user(events: Sequence[AuditEvent] | None) -> dict[str, list[AuditEvent]] | None:
    """Audit rows by every user they concern (initiator or target, object id and lower-case
    UPN); None when no audit log was read."""
    if events is None:
        return None
    found: dict[str, list[AuditEvent]] = {}
    for event in events:
        who = event.initiator_user
        keys = {(who.id or "").lower(), (who.user_principal_name or "").lower()} \
            if who is not None else set()
        for target in event.target_resources or ():
            if (target.type or "User").lower() == "user":
                keys |= {(target.id or "").lower(), (target.user_principal_name or "").lower()}
        for key in keys - {""}:
            found.setdefault(key, []).append(event)
    return found


def _risky_by_user(risky_users: Iterable[RiskyUser]) -> dict[str, RiskyUser]:
    found: dict[str, RiskyUser] = {}
    for user in risky_users:
        found[user.id] = user
        if user.user_principal_name:
            found[user.user_principal_name.lower()] = user
    return found


class _Scorer:
    """Builds each user's context from the review's inputs and scores the user."""

    def __init__(
        self, *, window: Window, privileged: Privileged,
        baselines: Mapping[str, BaselineProfile] | None, histories: Timelines,
        detections: dict[str, list[RiskDetection]], risky: dict[str, RiskyUser],
        signals: TenantSignals, settings: DetectionSettings, identity_protection: bool,
        trusted: TrustedNetworks, audit: dict[str, list[AuditEvent]] | None = None,
        tenant_baseline: TenantBaseline | None = None,
    ) -> None:
        self.window, self.privileged, self.baselines = window, privileged, baselines
        self.histories, self.detections, self.risky = histories, detections, risky
        self.signals, self.settings = signals, settings
        self.identity_protection, self.trusted = identity_protection, trusted
        self.audit = audit
        self.tenant_baseline = tenant_baseline

    def followed(self, user: str, upn_key: str) -> Followed | None:
        if self.audit is None:
            return None
        events = {id(e): e for key in (user.lower(), upn_key) if key
                  for e in self.audit.get(key, ())}
        domains = [upn_key.rpartition("@")[2]] if "@" in upn_key else []
        return Followed(audit_events=list(events.values()), audit_read=True,
                        tenant_domains=domains)

    def baseline(self, user: str) -> BaselineProfile | None:
        if self.baselines is not None and user in self.baselines:
            return self.baselines[user]
        history = self.histories.get(user)
        return build_profile(history) if history else None

    def score(self, user: str, rows: list[SignIn]) -> UserVerdict:
        upn = next((s.user_principal_name for s in rows if s.user_principal_name), None)
        upn_key = (upn or "").lower()
        context = DetectionContext(
            window=self.window,
            baseline=self.baseline(user),
            privileged_roles=roles_of(self.privileged, user, upn),
            tenant=self.signals,
            risk_detections=self.detections.get(user) or self.detections.get(upn_key) or [],
            risky_user=self.risky.get(user) or self.risky.get(upn_key),
            settings=self.settings,
            identity_protection=self.identity_protection,
            user_id=user,
            trusted=self.trusted,
            followed=self.followed(user, upn_key),
            tenant_baseline=self.tenant_baseline,
        )
        return score_user(rows, context)


def _sources(
    history: int, history_users: int, baselines: Mapping[str, BaselineProfile] | None,
    identity_protection: bool, trusted: TrustedNetworks | None = None,
) -> list[DataSource]:
    baseline_detail = (
        f"{len(baselines)} stored profiles" if baselines is not None
        else f"built from {history:,} sign-ins before the window ({history_users} users)"
    )
    return [
        DataSource("baselines", bool(baselines) or bool(history_users), baseline_detail),
        DataSource(
            "identityProtection", identity_protection,
            "risk detections and risky users" if identity_protection
            else "no Identity Protection data was given",
        ),
        DataSource(
            "namedLocations", bool(trusted),
            f"{len(trusted.ranges)} trusted IP ranges, {len(trusted.countries)} trusted countries"
            if trusted is not None and trusted else "no trusted named locations were given",
        ),
    ]
