"""The risk inventory: every risky sign-in and every Identity Protection risk detection of a window.

The review promises this list first, before any verdict: a reviewer wants to see everything
Microsoft's own risk engine raised, including users our detections did not flag (a risk state a
person already closed, a `hidden` level, a detection for a user with no sign-in in the window).

A sign-in is risky when its risk level during sign-in or aggregated risk level says anything but
`none`, when it carries a risk state other than `none`, or when it names risk event types. Without
an Entra ID P2 licence Graph answers `hidden` for the levels and riskDetail of every sign-in
(Microsoft Graph, signIn resource: "Details for this property are only available for Microsoft
Entra ID P2 customers. All other customers are returned hidden"), so a `hidden` level with nothing
else is counted, not listed: listing it would list every sign-in of the tenant. A `hidden` level
on a sign-in that is risky for another reason is kept and shown as `hidden`.

Every detection whose activity (or, without one, detection) time falls in the window is an entry,
whatever its level or state.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from shared.model import RiskDetection, RiskEntry, RiskInventory, SignIn, Window

HIDDEN = "hidden"
_NOTHING = frozenset({"", "none"})


def _says_risk(value: str | None) -> bool:
    return (value or "").strip().lower() not in _NOTHING | {HIDDEN}


def _hidden(value: str | None) -> bool:
    return (value or "").strip().lower() == HIDDEN


def _marked(s: SignIn) -> bool:
    """Any risk field set at all: the cheap first test (most sign-ins have none)."""
    level, state, aggregated = s.risk_level_during_sign_in, s.risk_state, s.risk_level_aggregated
    return bool((level and level != "none") or (state and state != "none")
                or (aggregated and aggregated != "none") or s.risk_event_types_v2)


def risky(sign_in: SignIn) -> bool:
    """Whether Identity Protection marked the sign-in (a `hidden` level alone does not)."""
    return (_says_risk(sign_in.risk_level_during_sign_in)
            or _says_risk(sign_in.risk_level_aggregated)
            or _says_risk(sign_in.risk_state)
            or any(_says_risk(kind) for kind in sign_in.risk_event_types_v2 or ()))


def hidden_only(sign_in: SignIn) -> bool:
    """A sign-in whose risk the tenant's licence hides, and that shows no risk otherwise."""
    return (_hidden(sign_in.risk_level_during_sign_in)
            or _hidden(sign_in.risk_level_aggregated)) and not risky(sign_in)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def detection_time(detection: RiskDetection) -> datetime | None:
    return _utc(detection.activity_date_time or detection.detected_date_time)


def in_window(detection: RiskDetection, window: Window) -> bool:
    """Whether a detection belongs to the window (one with no time at all is kept)."""
    moment = detection_time(detection)
    return moment is None or window.start <= moment <= window.end


def sign_in_entry(sign_in: SignIn) -> RiskEntry:
    return RiskEntry(
        kind="signIn", time=_utc(sign_in.created_date_time), user_id=sign_in.user_key,
        user_principal_name=sign_in.user_principal_name,
        risk_types=[k for k in sign_in.risk_event_types_v2 or () if _says_risk(k)],
        level=sign_in.risk_level_during_sign_in, state=sign_in.risk_state,
        ip_address=sign_in.ip_address, location=sign_in.location, sign_in_id=sign_in.id,
        aggregated_level=sign_in.risk_level_aggregated, error_code=sign_in.error_code,
    )


def detection_entry(detection: RiskDetection) -> RiskEntry:
    return RiskEntry(
        kind="detection", time=detection_time(detection),
        user_id=detection.user_id or (detection.user_principal_name or "").lower(),
        user_principal_name=detection.user_principal_name,
        risk_types=[detection.risk_event_type] if detection.risk_event_type else [],
        level=detection.risk_level, state=detection.risk_state,
        ip_address=detection.ip_address, location=detection.location,
        sign_in_id=detection.request_id, detection_id=detection.id,
        detail=detection.risk_detail, timing=detection.detection_timing_type,
        detected=_utc(detection.detected_date_time),
    )


class RiskySignIns:
    """Collects the risky sign-ins of a stream (the tenant pass reads every row once)."""

    def __init__(self) -> None:
        self.entries: list[RiskEntry] = []
        self.hidden_sign_ins = 0
        self.hidden_users: set[str] = set()

    def add(self, sign_in: SignIn) -> None:
        if not _marked(sign_in):
            return
        if risky(sign_in):
            self.entries.append(sign_in_entry(sign_in))
        elif hidden_only(sign_in):
            self.hidden_sign_ins += 1
            self.hidden_users.add(sign_in.user_key)

    def add_all(self, sign_ins: Iterable[SignIn]) -> RiskySignIns:
        for sign_in in sign_ins:
            self.add(sign_in)
        return self

    def inventory(self, detections: Iterable[RiskDetection], window: Window) -> RiskInventory:
        """These sign-ins and the window's detections, in time order."""
        entries = self.entries + [detection_entry(d) for d in detections if in_window(d, window)]
        entries.sort(key=_order)
        return RiskInventory(entries=entries, hidden_level_sign_ins=self.hidden_sign_ins,
                             hidden_level_users=len(self.hidden_users))


_LAST = datetime.max.replace(tzinfo=UTC)


def _order(entry: RiskEntry) -> tuple[datetime, bool, str, str]:
    """Time order; a sign-in before the detection made of it at the same moment."""
    return (entry.time or _LAST, entry.kind == "detection", entry.user_id, entry.sign_in_id or "")
