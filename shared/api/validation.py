"""Request bodies and parameters: typed, bounded, unknown fields refused, errors naming the field.

Bodies decode straight into msgspec Structs (`forbid_unknown_fields`), so a typo such as
`lookbackHour` is a 400 naming it, not a silently ignored default. Users are checked as a GUID or a
UPN with `shared.graph.odata` before anything can reach a Graph filter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Literal, TypeVar

import msgspec
from msgspec import UNSET, Meta, UnsetType

from shared.api.messages import ApiRequest
from shared.errors import BodyTooLarge, InputError, UnsupportedContentType
from shared.graph import odata
from shared.model import Window
from shared.pipeline.records import RemediationAction

T = TypeVar("T", bound=msgspec.Struct)
V = TypeVar("V")

MAX_BODY_BYTES = 64 * 1024
DEFAULT_LOOKBACK_HOURS = 72
MAX_LOOKBACK_HOURS = 720
RETENTION = timedelta(days=30)
MAX_WINDOW = timedelta(days=31)
# A privileged-account review covers a quarter (92 days at most) and reads what the run's source
# keeps: the archive and Log Analytics far longer than Graph (Log Analytics keeps up to two years
# interactively: https://learn.microsoft.com/azure/azure-monitor/logs/data-retention-configure).
# On Graph the run reads the last 30 days of it and its report says so (shared.pipeline.runs).
MAX_PRIVILEGED_WINDOW = timedelta(days=93)
PRIVILEGED_LOOKBACK = timedelta(days=730)
# How far back each sign-in source reaches. Graph keeps sign-ins 30 days with P1/P2, which reading
# them at all needs (7 days without; a tenant just upgraded sees about 7 at first, which the
# review reports: shared/graph/retention.py). The archive and a Log Analytics workspace keep
# what their owner set (a storage lifecycle rule; up to 2 years of interactive workspace
# retention): their windows are not held to Graph's 30 days.
SOURCE_RETENTION: dict[str, timedelta] = {
    "graph": RETENTION, "archive": PRIVILEGED_LOOKBACK, "log-analytics": PRIVILEGED_LOOKBACK}
CLOCK_SKEW = timedelta(minutes=5)
ALLOWED_QUERY = frozenset({"code"})  # the platform's function key may come as ?code=

# Patterns the OpenAPI document carries verbatim (a test keeps them equal): ECMA-262 and Python
# read them alike (see `odata.END`).
SAFE_ID = r"^[A-Za-z0-9](?:\.?[A-Za-z0-9_-])*\.?" + odata.END  # letters, digits . _ -; no ".."
TICKET = r"^[A-Za-z0-9][A-Za-z0-9._:#/+-]{0,127}" + odata.END
PERSON = r"^ *[^\x00-\x20\x7f][^\x00-\x1f\x7f]*" + odata.END  # one line, not blank
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*" + odata.END  # may span lines
RULES = {  # what a pattern asks for, in words, for the problem document
    "user": "must be a user principal name (name@domain: at most 64 characters before the @, "
            "48 after it) or an object id (GUID)",
    "runId": "must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit, "
             "without '..'",
    "ticketId": "must be 1-128 letters, digits or . _ : # / + -, starting with a letter or digit",
    "approver": "must be one line of text that is not blank",
    "comment": "must not contain control characters other than tab and line breaks",
}
RULES |= {"userId": RULES["user"], "approvalId": RULES["runId"].replace("128", "120"),
          "requestedBy": RULES["approver"]}

SafeId = Annotated[str, Meta(pattern=SAFE_ID, max_length=128)]
# Room for a ".N" suffix on the WORM audit record of a resumed remediation.
ApprovalId = Annotated[str, Meta(pattern=SAFE_ID, max_length=120)]
UserKey = Annotated[str, Meta(pattern=odata.USER_PATTERN, max_length=odata.UPN_MAX)]
TicketId = Annotated[str, Meta(pattern=TICKET, max_length=128)]
PersonName = Annotated[str, Meta(min_length=1, max_length=256, pattern=PERSON)]
Comment = Annotated[str, Meta(max_length=2000, pattern=TEXT)]
AwareTime = Annotated[datetime, Meta(tz=True)]
LookbackHours = Annotated[int, Meta(ge=1, le=MAX_LOOKBACK_HOURS)]
Actions = Annotated[list[RemediationAction], Meta(min_length=1, max_length=7)]

# The account first, then what the attacker left on it (CIPP's order: reset, disable, revoke
# sessions, remove authentication methods, disable inbox rules; shared/remediation_objects.py).
ACTION_ORDER: tuple[RemediationAction, ...] = (
    "disableAccount", "revokeSessions", "forcePasswordReset", "confirmCompromised",
    "removeMethods", "disableInboxRules", "revokeGrants",
)


class ReviewBody(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """POST /api/reviews: one `user`, or a `scope`; a window (`start`, `end`) or a look-back.

    A field is given or left out; an explicit `null` is refused, as the document says."""

    user: UserKey | UnsetType = UNSET
    scope: Literal["tenant", "privileged"] | UnsetType = UNSET
    start: AwareTime | UnsetType = UNSET
    end: AwareTime | UnsetType = UNSET
    lookback_hours: LookbackHours | UnsetType = UNSET
    ticket_id: TicketId | UnsetType = UNSET
    requested_by: PersonName | UnsetType = UNSET
    source: Literal["graph", "archive", "log-analytics"] | UnsetType = UNSET  # SIGNIN_SOURCE


class RemediationBody(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """POST /api/remediations: what a person approved, as the Logic App carries it."""

    run_id: SafeId
    user_id: UserKey
    actions: Actions
    approver: PersonName
    approval_id: ApprovalId
    comment: Comment = ""


@dataclass(frozen=True)
class ReviewOrder:
    """A checked review request: who or what, over which window."""

    kind: Literal["user", "tenant", "privileged"]
    user: str | None
    window: Window
    ticket_id: str | None
    requested_by: str | None
    source: str | None = None  # the sign-in source; None: the SIGNIN_SOURCE setting


# --- bodies ---------------------------------------------------------------------------------


def media_type(headers: dict[str, str]) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


def decode_body(request: ApiRequest, body_type: type[T]) -> T:
    """The JSON body as `body_type`: 415 unless JSON, 413 over 64 KiB, 400 naming the field."""
    if len(request.body) > MAX_BODY_BYTES:
        raise BodyTooLarge(f"the body is {len(request.body)} bytes; at most {MAX_BODY_BYTES}",
                           source="body")
    kind = media_type(request.headers)
    if kind != "application/json":
        raise UnsupportedContentType(
            f"send the body as application/json (got {kind[:60] or 'no Content-Type'})",
            source="Content-Type")
    if not request.body.strip():
        raise InputError("a JSON object is required", source="body")
    try:  # JSON between systems is UTF-8 (RFC 8259, section 8.1); msgspec assumes it
        request.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"the body is not valid UTF-8 (byte {exc.start}); JSON must be UTF-8",
                         source="body") from None
    try:
        return msgspec.json.decode(request.body, type=body_type)
    except msgspec.ValidationError as exc:
        field = _field_of(str(exc))
        raise InputError(_explain(str(exc), field), source=field) from None
    except msgspec.DecodeError:
        raise InputError("the body is not valid JSON", source="body") from None


def _field_of(message: str) -> str:
    unknown = re.search(r"unknown field `([^`]{0,80})", message)
    if unknown:
        return unknown.group(1)
    where = re.search(r" - at `\$\.?([^`]*)`$", message)
    return (where.group(1) if where else "") or "body"


def _explain(message: str, field: str) -> str:
    if "unknown field" in message:
        return "unknown field: not part of this request's schema"
    if "matching regex" in message:
        return RULES.get(field, "does not have the form the OpenAPI document gives")
    return re.sub(r" - at `[^`]*`$", "", message)


# --- users, ids, windows --------------------------------------------------------------------


def user_key(value: str, *, field: str) -> str:
    """An object id (GUID) or a UPN within Entra ID's length limits, lower-cased as verdicts are
    keyed; anything else is a 400 naming `field`."""
    if odata.is_guid(value) or odata.is_upn(value):
        return value.lower()
    raise InputError(RULES["user"], source=field)


def safe_id(value: str, *, field: str) -> str:
    if len(value) > 128 or not re.search(SAFE_ID, value):
        raise InputError(RULES["runId"], source=field)
    return value


def given(value: V | UnsetType) -> V | None:
    return None if isinstance(value, UnsetType) else value


def review_order(body: ReviewBody, now: datetime, default_source: str = "graph"
                 ) -> ReviewOrder:
    """Exactly one of `user` / `scope`, and a window Graph can still answer for."""
    user, scope = given(body.user), given(body.scope)
    if (user is None) == (scope is None):
        raise InputError("give either `user` (one account) or `scope` (tenant or privileged)",
                         source="user" if user is None else "scope")
    kind: Literal["user", "tenant", "privileged"] = "user"
    if not isinstance(body.scope, UnsetType):
        kind = body.scope
    return ReviewOrder(
        kind=kind,
        user=user_key(user, field="user") if user is not None else None,
        window=review_window(body, now, given(body.source) or default_source),
        ticket_id=given(body.ticket_id),
        requested_by=given(body.requested_by),
        source=given(body.source),
    )


def review_window(body: ReviewBody, now: datetime, source: str = "graph") -> Window:
    start, end, hours = given(body.start), given(body.end), given(body.lookback_hours)
    if hours is not None and (start or end):
        raise InputError("give `start` and `end`, or `lookbackHours`, not both",
                         source="lookbackHours")
    if start is None or end is None:
        if (start, end) != (None, None):
            raise InputError("`start` and `end` go together",
                             source="end" if end is None else "start")
        return Window(start=now - timedelta(hours=hours or DEFAULT_LOOKBACK_HOURS), end=now)
    if start >= end:
        raise InputError("must be after `start`", source="end")
    if end > now + CLOCK_SKEW:
        raise InputError("must not be in the future", source="end")
    if given(body.scope) == "privileged":
        if start < now - PRIVILEGED_LOOKBACK:
            raise InputError("must be within the last 730 days (the longest a source keeps "
                             "sign-ins)", source="start")
        if end - start > MAX_PRIVILEGED_WINDOW:
            raise InputError("a privileged-account review covers at most 93 days (a quarter)",
                             source="end")
        return Window(start=start, end=min(end, now))
    kept = SOURCE_RETENTION.get(source, RETENTION)
    if start < now - kept:
        keeps = "Graph keeps sign-ins 30 days" if kept == RETENTION else \
            "the longest a source keeps sign-ins"
        raise InputError(f"must be within the last {kept.days} days ({keeps})", source="start")
    if end - start > MAX_WINDOW:
        raise InputError("the window must be at most 31 days long", source="end")
    return Window(start=start, end=min(end, now))


def remediation_order(body: RemediationBody) -> RemediationBody:
    """The body with ids checked, the user key normalised and actions in the order they run."""
    if len(set(body.actions)) != len(body.actions):
        raise InputError("each action may appear once", source="actions")
    return msgspec.structs.replace(
        body,
        user_id=user_key(body.user_id, field="userId"),
        actions=[a for a in ACTION_ORDER if a in body.actions],
    )


def check_query(request: ApiRequest) -> None:
    """No route takes query parameters besides the platform's function key (`code`)."""
    for name in request.query:
        if name not in ALLOWED_QUERY:
            raise InputError("unknown query parameter", source=name[:80])


def route_param(request: ApiRequest, name: str) -> str:
    value = request.route_params.get(name)
    if value is None:
        raise InputError("missing path parameter", source=name)
    return value
