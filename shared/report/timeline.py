"""A user's sign-ins as rows of the report's timeline table.

Each row says when, where, from which address and network, on which device and app, and how the
sign-in ended: success, failure, or interrupt (a prompt or session event that is not a failure,
such as 50074 "MFA required" or 50140 "keep me signed in"). Rows cited by a finding carry that
finding's number, so a reviewer can check every reason against the sign-ins behind it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import msgspec

from shared.detect.codes import ErrorClass, error_class
from shared.model import DeviceDetail, Finding, SignIn
from shared.report.apps import app_name
from shared.report.text import place_text, plain, utc_text

Outcome = Literal["success", "failure", "interrupt"]

# Not failures: routine MFA prompts, session life cycle, consent (the detections' own classes).
_INTERRUPTS = frozenset({ErrorClass.MFA_PROMPT, ErrorClass.INTERRUPT, ErrorClass.CONSENT})

TIMELINE_ROW_LIMIT = 400
_CONTEXT_ROWS = 2


def outcome(error_code: int) -> Outcome:
    """How a sign-in ended, for colouring: 0 is success, interrupts are not failures."""
    if error_code == 0:
        return "success"
    return "interrupt" if error_class(error_code) in _INTERRUPTS else "failure"


# A row whose device, software and user agent are the row above's says so instead of repeating
# them (a long user agent on every row was a tenth of a large report).
SAME_DEVICE = "same software and user agent as above"


class TimelineRow(msgspec.Struct, frozen=True, gc=False):
    """One sign-in's row (a Struct: a big report builds hundreds of thousands, at a quarter of a
    frozen dataclass's cost)."""

    time: str
    place: str
    ip: str
    network: str
    device: str
    device_detail: str
    app: str
    client: str
    outcome: Outcome
    result: str
    result_detail: str
    risk: str
    cited_by: tuple[int, ...]


@dataclass(frozen=True)
class TimelineGap:
    """Sign-ins left out of a long timeline (none of them cited by a finding)."""

    skipped: int


def _device(sign_in: SignIn) -> tuple[str, str]:
    dev = sign_in.device_detail
    name = plain(dev.display_name, limit=60) if dev else ""
    parts = [dev.operating_system, dev.browser] if dev else []
    software = " · ".join(plain(p, limit=40) for p in parts if p)
    agent = plain(sign_in.user_agent, limit=120)
    return (name or software or "unknown device", " · ".join(x for x in (
        software if name else "", agent) if x))


def _result(sign_in: SignIn, how: Outcome) -> tuple[str, str]:
    status = sign_in.status
    code = sign_in.error_code
    label = {"success": "Success", "failure": "Failure", "interrupt": "Interrupted"}[how]
    head = label if code == 0 else f"{label} {code}"
    details = [status.failure_reason, status.additional_details] if status else []
    return head, " · ".join(plain(d, limit=160) for d in details if d)


def _risk(sign_in: SignIn) -> str:
    level = sign_in.risk_level_during_sign_in
    events = ", ".join(plain(e, limit=40) for e in sign_in.risk_event_types_v2 or ())
    shown = plain(level) if level and level not in ("none", "hidden") else ""
    return " · ".join(x for x in (shown and f"risk {shown}", events) if x)


def timeline_row(sign_in: SignIn, cited_by: tuple[int, ...] = (),
                 shown_device: tuple[str, str] | None = None) -> TimelineRow:
    """The sign-in's row; `shown_device`: the device and its detail, when already worked out."""
    loc = sign_in.location
    how = outcome(sign_in.error_code)
    device, device_detail = shown_device or _device(sign_in)
    result, result_detail = _result(sign_in, how)
    asn = sign_in.autonomous_system_number
    return TimelineRow(
        time=utc_text(sign_in.created_date_time),
        place=place_text(loc.city, loc.state, loc.country_or_region) if loc else "",
        ip=plain(sign_in.ip_address, limit=45),
        network=f"AS{asn}" if asn is not None else "",
        device=device,
        device_detail=device_detail,
        app=plain(app_name(sign_in.app_id, sign_in.app_display_name), limit=60),
        client=plain(sign_in.client_app_used, limit=40),
        outcome=how,
        result=result,
        result_detail=result_detail,
        risk=_risk(sign_in),
        cited_by=cited_by,
    )


def citations(findings: Sequence[Finding]) -> dict[str, tuple[int, ...]]:
    """Sign-in id -> numbers (1-based) of the findings that cite it."""
    cited: dict[str, list[int]] = {}
    for number, finding in enumerate(findings, start=1):
        for sign_in_id in finding.sign_in_ids:
            numbers = cited.setdefault(sign_in_id, [])
            if number not in numbers:
                numbers.append(number)
    return {key: tuple(value) for key, value in cited.items()}


def _kept_positions(cited: Sequence[bool], limit: int) -> list[int]:
    """Positions to show: every cited row with a little context, then the earliest others."""
    keep: set[int] = set()
    for pos, is_cited in enumerate(cited):
        if is_cited:
            last = min(pos + _CONTEXT_ROWS + 1, len(cited))
            keep.update(range(max(pos - _CONTEXT_ROWS, 0), last))
    for pos in range(len(cited)):
        if len(keep) >= limit:
            break
        keep.add(pos)
    return sorted(keep)


def timeline(
    sign_ins: Sequence[SignIn], findings: Sequence[Finding], *, limit: int = TIMELINE_ROW_LIMIT
) -> list[TimelineRow | TimelineGap]:
    """The rows of a user's timeline in time order; a long one keeps every cited sign-in."""
    ordered = sorted(sign_ins, key=lambda s: s.created_date_time)
    cited = citations(findings)
    positions = (list(range(len(ordered))) if len(ordered) <= limit
                 else _kept_positions([s.id in cited for s in ordered], limit))
    rows: list[TimelineRow | TimelineGap] = []
    previous = -1
    shown = None  # the last row's device and its detail: said once while they repeat
    devices: dict[tuple[DeviceDetail | None, str | None], tuple[str, str]] = {}  # a user has few
    for pos in positions:
        if pos > previous + 1:
            rows.append(TimelineGap(skipped=pos - previous - 1))
            shown = None
        sign_in = ordered[pos]
        key = (sign_in.device_detail, sign_in.user_agent)
        device = devices.get(key) or devices.setdefault(key, _device(sign_in))
        if shown == device and device[1]:
            device = (device[0], SAME_DEVICE)
        else:
            shown = device
        rows.append(timeline_row(sign_in, cited.get(sign_in.id, ()), device))
        previous = pos
    if previous < len(ordered) - 1:
        rows.append(TimelineGap(skipped=len(ordered) - 1 - previous))
    return rows
