"""risky_sign_in: Identity Protection risk on the user's sign-ins, risk detections or user risk.

Why it matters: Microsoft sees signals this program cannot (leaked credentials, token anomalies,
malicious IPs, attacker-in-the-middle); its verdict belongs beside ours.

Rules (the field reference, Identity Protection): riskLevel low/medium/high sets the severity;
`hidden` (tenants without P2) and `none` say nothing. Risk states dismissed, remediated and
confirmedSafe were already handled by a person and are skipped; confirmedCompromised is `high`.
riskEventType is an open string: any value is reported as given.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.detect import wording
from shared.detect.context import DetectionContext
from shared.model import Finding, Severity, SignIn

TYPE = "risky_sign_in"
_LEVELS: dict[str, Severity] = {"low": "low", "medium": "medium", "high": "high"}
_CLOSED = frozenset({"dismissed", "remediated", "confirmedSafe"})
_RANK = {"low": 0, "medium": 1, "high": 2}


def _level(level: str | None, state: str | None) -> Severity | None:
    if state in _CLOSED:
        return None
    if state == "confirmedCompromised":
        return "high"
    return _LEVELS.get(level or "")


def detect(sign_ins: Sequence[SignIn], context: DetectionContext) -> list[Finding]:
    parts: list[str] = []
    ids: list[str] = []
    levels: list[Severity] = []
    got_in = False
    risky = []
    for sign_in in sign_ins:
        level = _level(sign_in.risk_level_during_sign_in, sign_in.risk_state) or _level(
            sign_in.risk_level_aggregated, sign_in.risk_state
        )
        if level is not None:
            risky.append((sign_in, level))
    if risky:
        first, _ = risky[0]
        kinds = sorted({k for s, _ in risky for k in (s.risk_event_types_v2 or [])})
        parts.append(
            f"risk on {wording.count(len(risky), 'sign-in')}"
            + (f" ({wording.listing(kinds)})" if kinds else "")
            + f", the first at {wording.when(first.created_date_time)} from "
            f"{wording.origin(first)}"
        )
        ids.extend(s.id for s, _ in risky)
        levels.extend(level for _, level in risky)
        got_in = any((s.status is None or s.status.error_code == 0) for s, _ in risky)
    detections = [
        (d, level) for d in context.risk_detections
        if (level := _level(d.risk_level, d.risk_state)) is not None
    ]
    if detections:
        kinds = sorted({d.risk_event_type or "unknown" for d, _ in detections})
        parts.append(
            f"{wording.count(len(detections), 'risk detection')} ({wording.listing(kinds)})"
        )
        ids.extend(d.request_id for d, _ in detections if d.request_id and d.request_id not in ids)
        levels.extend(level for _, level in detections)
    user = context.risky_user
    if user is not None and (level := _level(user.risk_level, user.risk_state)) is not None:
        parts.append(f"the user at {user.risk_level or 'unknown'} risk ({user.risk_state})")
        levels.append(level)
    if not levels:
        return []
    severity = max(levels, key=lambda level: _RANK[level])
    text = "Identity Protection reported " + "; ".join(parts) + f" (highest level {severity})."
    return [Finding(TYPE, severity, text, ids, got_in=got_in)]
