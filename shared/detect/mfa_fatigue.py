"""mfa_fatigue: repeated MFA denials or unanswered prompts (500121), worst when a success follows.

Why it matters: every 500121 comes after a correct password. An attacker who has the password
pushes prompt after prompt until the tired user approves one.

Cautions honoured (the field reference):
- Matched on the code 500121; its status.additionalDetails is read only to tell denied,
  unanswered and fraud-reported prompts apart (the one text the reference says to read).
- 50074/50076 ("MFA required") are routine prompts for the real user and are not counted.

Thresholds: >= 7 denied or unanswered prompts within 10 minutes (established MFA-fatigue rules
use 7-10; `mfa_fatigue_min_prompts`, `mfa_fatigue_window_minutes`): `medium`, `high` when a
success follows within `mfa_fatigue_success_minutes`. A prompt the user reported as fraud is
`high` on its own. Fewer, slower denials (>= 3 within an hour) are `low`.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.detect import wording
from shared.detect.bursts import bursts
from shared.detect.codes import MFA_DENIED, mfa_outcome
from shared.detect.context import DetectionContext
from shared.model import Finding, Severity, SignIn

TYPE = "mfa_fatigue"


def _code(sign_in: SignIn) -> int:
    status = sign_in.status
    return status.error_code if status is not None else 0


def _success_after(
    prompts: list[SignIn], sign_ins: Sequence[SignIn], minutes: float
) -> SignIn | None:
    start = prompts[0].created_date_time
    limit = prompts[-1].created_date_time.timestamp() + minutes * 60
    for sign_in in sign_ins:
        moment = sign_in.created_date_time
        if moment <= start or _code(sign_in) != 0:
            continue
        if moment.timestamp() > limit:
            break
        return sign_in
    return None


def detect(sign_ins: Sequence[SignIn], context: DetectionContext) -> list[Finding]:
    s = context.settings
    prompts = [sign_in for sign_in in sign_ins if _code(sign_in) == MFA_DENIED]
    if not prompts:
        return []
    frauds = [p for p in prompts if mfa_outcome(p.additional_details) == "fraud"]
    times = [p.created_date_time.timestamp() for p in prompts]
    ones = [1] * len(prompts)
    found = bursts(times, ones, s.mfa_fatigue_window_minutes * 60, s.mfa_fatigue_min_prompts)
    fatigue = True
    if not found:
        fatigue = False
        found = bursts(
            times, ones, s.mfa_repeated_window_minutes * 60, s.mfa_repeated_min_prompts
        )
    findings = [
        _finding(prompts[first : last + 1], sign_ins, context, fatigue) for first, last in found
    ]
    reported = {i for f in findings for i in f.sign_in_ids}
    for fraud in frauds:
        if fraud.id not in reported:
            findings.append(_finding([fraud], sign_ins, context, fatigue=False))
    return findings


def _finding(
    prompts: list[SignIn], sign_ins: Sequence[SignIn], context: DetectionContext, fatigue: bool
) -> Finding:
    outcomes = [mfa_outcome(p.additional_details) for p in prompts]
    success = _success_after(prompts, sign_ins, context.settings.mfa_fatigue_success_minutes)
    severity: Severity = "medium" if fatigue else "low"
    if success is not None and fatigue:
        severity = "high"
    if "fraud" in outcomes:
        severity = "high"
    labels = {"denied": "denied", "unanswered": "unanswered", "fraud": "reported as fraud",
              "failed": "failed"}
    parts = [f"{outcomes.count(kind)} {name}" for kind, name in labels.items() if kind in outcomes]
    ips = sorted({p.ip_address or "an unknown IP" for p in prompts})
    text = (
        f"{wording.count(len(prompts), 'MFA prompt')} not approved ({wording.listing(parts)}) "
        f"{wording.span(prompts[0].created_date_time, prompts[-1].created_date_time)} after a "
        f"correct password from {wording.listing(ips)}: someone knows the password"
    )
    if "fraud" in outcomes:
        text += "; the user reported a prompt as fraud"
    ids = [p.id for p in prompts]
    if success is not None:
        text += (
            f"; a sign-in then succeeded from {wording.origin(success)} at "
            f"{wording.when(success.created_date_time)}"
        )
        ids.append(success.id)
    return Finding(TYPE, severity, text + ".", ids, got_in=True)
