"""The records every part of the program shares.

`SignIn` is decoded straight from Microsoft Graph's signIn JSON (camelCase names), so a page of
`/auditLogs/signIns` decodes with one `msgspec.json.decode(..., type=SignInPage)` call and nothing
downstream digs in raw dicts. Importers of other export formats build the same `SignIn`.

`Finding`, `UserVerdict` and `ReviewResult` are what detections, the verdict and the reports
exchange; their JSON form (camelCase) is the documented output of `signin-review analyze`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

Level = Literal["none", "low", "medium", "high"]
# Graph's riskLevel and riskState enums (signIn resource; REFERENCE.md): decoded as the literals
# themselves, so a million sign-ins share these words instead of each holding copies. A value
# outside them is set aside like any unreadable field (imports) and counted. Graph itself cannot
# send one: members added to an evolvable enum after `unknownFutureValue` come back as that value
# unless the client sends `Prefer: include-unknown-enum-members`, which we never do
# (https://learn.microsoft.com/en-us/graph/best-practices-concept, evolvable enumerations).
RiskLevel = Literal["none", "low", "medium", "high", "hidden", "unknownFutureValue"]
RiskState = Literal["none", "confirmedSafe", "remediated", "dismissed", "atRisk",
                    "confirmedCompromised", "unknownFutureValue"]
Severity = Literal["low", "medium", "high"]
LEVELS: tuple[Level, ...] = ("none", "low", "medium", "high")


def level_rank(level: str) -> int:
    """Order of a verdict level or severity: none < low < medium < high."""
    return LEVELS.index(level)  # type: ignore[arg-type,unused-ignore]


class GeoCoordinates(msgspec.Struct, rename="camel", frozen=True, gc=False, cache_hash=True):
    latitude: float | None = None
    longitude: float | None = None


class Location(msgspec.Struct, rename="camel", frozen=True, gc=False, cache_hash=True):
    city: str | None = None
    state: str | None = None
    country_or_region: str | None = None
    geo_coordinates: GeoCoordinates | None = None


class Status(msgspec.Struct, rename="camel", frozen=True, gc=False, cache_hash=True):
    error_code: int = 0
    failure_reason: str | None = None
    additional_details: str | None = None


class DeviceDetail(msgspec.Struct, rename="camel", frozen=True, gc=False, cache_hash=True):
    device_id: str | None = None
    display_name: str | None = None
    operating_system: str | None = None
    browser: str | None = None
    # Intune's view of the device (Graph's deviceDetail): None when the source does not carry it.
    is_compliant: bool | None = None
    is_managed: bool | None = None


_NO_STATUS = Status()


class SignIn(msgspec.Struct, rename="camel", frozen=True, gc=False):
    """One Entra ID sign-in, as Graph's signIn resource names its fields."""

    id: str
    created_date_time: datetime
    user_id: str | None = None
    user_principal_name: str | None = None
    user_display_name: str | None = None
    app_id: str | None = None
    app_display_name: str | None = None
    ip_address: str | None = None
    client_app_used: str | None = None
    is_interactive: bool | None = None
    status: Status | None = None
    device_detail: DeviceDetail | None = None
    location: Location | None = None
    risk_level_during_sign_in: RiskLevel | None = None
    risk_level_aggregated: RiskLevel | None = None
    risk_state: RiskState | None = None
    # Tuples, not lists: an empty one is Python's one shared (), and tuples of strings leave the
    # cyclic collector's watch after its first pass, where a million lists would be walked by
    # every collection (measured: 0.7 s of CPU a million sign-ins, once decoding ends).
    risk_event_types_v2: tuple[str, ...] | None = msgspec.field(default=None,
                                                                 name="riskEventTypes_v2")
    autonomous_system_number: int | None = None
    user_agent: str | None = None
    sign_in_event_types: tuple[str, ...] | None = None
    # "singleFactorAuthentication" or "multiFactorAuthentication": the strongest authentication
    # any step of the sign-in needed (Graph beta signIn, Log Analytics' AuthenticationRequirement).
    # A string in Graph's schema, not an enum, so an unforeseen value is kept as it comes.
    authentication_requirement: str | None = None
    # Graph beta signIn: the protocol ("deviceCode", "ropc", "oAuth2", ...) and how the sign-in
    # was handed over ("deviceCodeFlow", "authenticationTransfer"); strings, kept as they come.
    authentication_protocol: str | None = None
    original_transfer_method: str | None = None

    @property
    def error_code(self) -> int:
        return (self.status or _NO_STATUS).error_code

    @property
    def additional_details(self) -> str | None:
        return (self.status or _NO_STATUS).additional_details

    @property
    def country(self) -> str | None:
        """Two-letter country code, or None when Graph gave no location."""
        loc = self.location
        return (loc.country_or_region or None) if loc else None

    @property
    def city(self) -> str | None:
        loc = self.location
        return (loc.city or None) if loc else None

    @property
    def coordinates(self) -> tuple[float, float] | None:
        loc = self.location
        geo = loc.geo_coordinates if loc else None
        if geo is None or geo.latitude is None or geo.longitude is None:
            return None
        if geo.latitude == 0 and geo.longitude == 0:  # Graph's "unknown", not the Gulf of Guinea
            return None
        return (geo.latitude, geo.longitude)

    @property
    def device_id(self) -> str | None:
        dev = self.device_detail
        return (dev.device_id or None) if dev else None

    @property
    def user_key(self) -> str:
        """The id a user is grouped by: object id, else the UPN in lower case."""
        return self.user_id or (self.user_principal_name or "").lower()


class SignInPage(msgspec.Struct, frozen=True, gc=False):
    """One page of GET /auditLogs/signIns."""

    value: list[SignIn]
    next_link: str | None = msgspec.field(default=None, name="@odata.nextLink")


ObjectKind = Literal["method", "rule", "grant"]


class ObjectRef(msgspec.Struct, rename="camel", frozen=True):
    """An object a `persistence` finding names, which containment may remove: an authentication
    method, an inbox rule, or an application's permission grant to the user (its id as Graph
    gives it: method id, rule id, oauth2PermissionGrant id or, when only the consent row is
    known, the application's service principal id)."""

    kind: ObjectKind
    id: str
    label: str


class Finding(msgspec.Struct, rename="camel", frozen=True):
    """Something a detection noticed about one user, with the sign-ins behind it.

    `got_in` says whether the activity behind the finding includes a successful sign-in or a
    validated password (the attacker knew it), which the verdict must state plainly.
    `context` marks a finding shown for context only (off-hours on a known device, network and
    country): it stays in the user's entry but does not raise the verdict on its own.
    `objects` (persistence findings) names what the attacker left: containment removes exactly
    these, and only while they are as the evidence recorded them.
    """

    type: str
    severity: Severity
    summary: str
    sign_in_ids: list[str]
    got_in: bool = False
    context: bool = False
    objects: list[ObjectRef] = msgspec.field(default_factory=list)  # persistence: what to remove


class UserStats(msgspec.Struct, rename="camel"):
    sign_ins: int = 0
    failures: int = 0
    countries: list[str] = msgspec.field(default_factory=list)
    ips: int = 0
    devices: int = 0
    failures_by_class: dict[str, int] = msgspec.field(default_factory=dict)


StepStatus = Literal["will-run", "needs-role", "on-premises"]


class PlannedStep(msgspec.Struct, rename="camel", frozen=True):
    """One remediation step and whether Graph will carry it out (see remediation_plan)."""

    action: str
    status: StepStatus
    note: str = ""


class UserVerdict(msgspec.Struct, rename="camel"):
    """The reviewed outcome for one user; a user entry of `analyze` JSON."""

    user_id: str
    user_principal_name: str | None
    verdict: Level
    privileged: bool
    findings: list[Finding]
    reasons: list[str]
    stats: UserStats
    got_in: bool = False
    proposed_actions: list[str] = msgspec.field(default_factory=list)
    thin_baseline: bool = False
    remediation: list[PlannedStep] = msgspec.field(default_factory=list)


class Window(msgspec.Struct, frozen=True):
    start: datetime
    end: datetime


class SprayingSource(msgspec.Struct, rename="camel", frozen=True):
    ip: str
    users: int
    failed_users: int = 0
    succeeded_users: int = 0
    network: int | None = None


class CampaignSummary(msgspec.Struct, rename="camel", frozen=True, kw_only=True):
    """A spray campaign over the window: its source, extent, and the accounts it tried."""

    kind: str  # "ip", "network" or "cluster" (addresses sharing a user agent and timing)
    source: str  # "203.0.113.7", "AS64500", "12 addresses sharing the user agent '...'"
    addresses: list[str]
    network: int | None = None
    user_agent: str | None = None
    first_attempt: datetime
    last_attempt: datetime
    failures: int
    accounts_tried: int
    accounts_succeeded: int
    tried_users: list[str]
    succeeded_users: list[str]


class TenantSummary(msgspec.Struct, rename="camel"):
    sign_ins: int
    users: int
    spraying_sources: list[SprayingSource] = msgspec.field(default_factory=list)


class DataSource(msgspec.Struct, rename="camel", frozen=True):
    """A kind of data a review used or could not read, and why (for the report)."""

    name: str
    available: bool
    detail: str = ""


RiskEntryKind = Literal["signIn", "detection"]


class RiskEntry(msgspec.Struct, rename="camel", frozen=True):
    """One line of the risk inventory: a sign-in Identity Protection marked, or a risk detection.

    Levels and states are as Graph gave them (`hidden` included: tenants without Entra ID P2 see
    it); `sign_in_id` is the sign-in's id, or the detection's requestId when it concerns one.
    """

    kind: RiskEntryKind
    time: datetime | None
    user_id: str
    user_principal_name: str | None
    risk_types: list[str]
    level: str | None
    state: str | None
    ip_address: str | None
    location: Location | None
    sign_in_id: str | None
    detection_id: str | None = None
    aggregated_level: str | None = None  # sign-ins: riskLevelAggregated
    detail: str | None = None  # detections: riskDetail
    timing: str | None = None  # detections: detectionTimingType (offline ones arrive late)
    detected: datetime | None = None  # detections: detectedDateTime
    error_code: int | None = None  # sign-ins: status.errorCode (0: the sign-in succeeded)


class RiskInventory(msgspec.Struct, rename="camel"):
    """Every risky sign-in and risk detection of the window, whatever the verdicts say.

    A sign-in whose only risk field is a `hidden` level (what tenants without P2 get on every
    sign-in) is not an entry; such sign-ins are counted so the report can say risk was hidden.
    """

    entries: list[RiskEntry] = msgspec.field(default_factory=list)
    hidden_level_sign_ins: int = 0
    hidden_level_users: int = 0


class InputSummary(msgspec.Struct, rename="camel"):
    """What reading exported logs kept and lost, shown by every output of `analyze`.

    `rows_read` counts the records in the files; each is kept as a sign-in, rejected (counted
    by reason, with the first few `file:line` examples), without a user (service principals,
    managed identities: not reviewed), or a repeat of a sign-in already read. An unreadable
    optional field is set aside alone (counted by field) and its sign-in kept. Sign-ins sharing
    an id but not its user, time or address are all kept, their ids counted as conflicting.
    """

    files: int = 0
    rows_read: int = 0
    sign_ins_kept: int = 0
    fields_set_aside: dict[str, int] = msgspec.field(default_factory=dict)
    rows_rejected: dict[str, int] = msgspec.field(default_factory=dict)
    rejected_examples: dict[str, list[str]] = msgspec.field(default_factory=dict)
    without_user: int = 0
    repeated: int = 0
    # ids carried by sign-ins that disagree (other user, time or address): every one is kept
    conflicting_ids: int = 0
    files_refused: dict[str, str] = msgspec.field(default_factory=dict)  # path -> why

    @property
    def rejected(self) -> int:
        return sum(self.rows_rejected.values())

    @property
    def set_aside(self) -> int:
        return sum(self.fields_set_aside.values())


class ReviewResult(msgspec.Struct, rename="camel"):
    """A whole review: what `analyze` prints as JSON and what the reports render."""

    window: Window
    tenant: TenantSummary
    users: list[UserVerdict]
    sources: list[DataSource] = msgspec.field(default_factory=list)
    risk_inventory: RiskInventory = msgspec.field(default_factory=RiskInventory)
    input: InputSummary | None = None  # exported logs only (analyze): what was read and lost
    campaigns: list[CampaignSummary] = msgspec.field(default_factory=list)
    # the quarterly review of privileged accounts (`analyze --privileged-review`, privileged runs)
    privileged_review: PrivilegedReview | None = None


class RoleHolding(msgspec.Struct, rename="camel", frozen=True):
    """One privileged role an account holds, and how: `active` (assigned), `eligible` (PIM,
    activated on demand) or `group` (a member of a role-assignable group holding it, `via`);
    `eligible` with `via` is eligibility assigned to a role-assignable group the account is a
    member of."""

    role: str
    assignment: str = "active"
    via: str | None = None


class MonthCount(msgspec.Struct, rename="camel", frozen=True):
    month: str  # "2026-10" (UTC)
    sign_ins: int
    successful_sign_ins: int


class Attestation(msgspec.Struct, rename="camel", frozen=True, kw_only=True):
    """A reviewer's sign-off on one account of a privileged review."""

    account: str
    reviewer: str
    decision: str  # keep, remove-role, investigate
    comment: str = ""
    at: datetime | None = None


class PrivilegedAccount(msgspec.Struct, rename="camel", kw_only=True):
    """One privileged account over the review period: how it was used, what stood out, and what
    the reviewer is asked to decide (`attention`, most pressing first; `proposal`)."""

    user_id: str
    user_principal_name: str | None
    roles: list[RoleHolding]
    sign_ins: int
    successful_sign_ins: int
    by_month: list[MonthCount]
    last_successful_sign_in: datetime | None
    dormant: bool
    countries: list[str]
    networks: list[str]
    devices: list[str]
    applications: list[str]
    single_factor_sign_ins: int
    legacy_protocol_sign_ins: int
    legacy_protocols: dict[str, int]
    unmanaged_device_sign_ins: int
    device_state_unknown_sign_ins: int
    failures: int
    lockouts: int
    findings: list[Finding]
    anomalous_weeks: list[str]
    verdict: Level
    reasons: list[str]
    attention: list[str]
    proposal: list[str]
    attestation: Attestation | None = None


class PrivilegedReview(msgspec.Struct, rename="camel", kw_only=True):
    """The quarterly review of privileged accounts: the period asked for, the part of it the
    source could read (`read`), and one entry per privileged account, what needs a decision
    first."""

    period: Window
    read: Window
    read_detail: str
    accounts: list[PrivilegedAccount]
    unreviewed: list[str] = msgspec.field(default_factory=list)


class RiskDetection(msgspec.Struct, rename="camel", frozen=True, gc=False):
    """One Identity Protection risk detection (GET /identityProtection/riskDetections)."""

    id: str
    risk_event_type: str | None = None
    risk_level: str | None = None
    risk_state: str | None = None
    risk_detail: str | None = None
    detection_timing_type: str | None = None
    activity: str | None = None
    activity_date_time: datetime | None = None
    detected_date_time: datetime | None = None
    ip_address: str | None = None
    location: Location | None = None
    request_id: str | None = None  # the id of the sign-in it concerns, when it concerns one
    user_id: str | None = None
    user_principal_name: str | None = None
    additional_info: str | None = None


class RiskyUser(msgspec.Struct, rename="camel", frozen=True, gc=False):
    """One Identity Protection risky user (GET /identityProtection/riskyUsers)."""

    id: str
    user_principal_name: str | None = None
    user_display_name: str | None = None
    risk_level: str | None = None
    risk_state: str | None = None
    risk_detail: str | None = None
    risk_last_updated_date_time: datetime | None = None
