"""repeated_failures: a burst of credential failures against one user (brute force, lockouts).

Why it matters: guessing one account's password shows up as many failures in a short session;
it is worst when the session ends in a success or a validated password.

Cautions honoured (the field reference's error-code table):
- Only credential failures (50126, 50056, 50064, 50034, 120000) and lockouts (50053) count.
  65001 (consent), MFA prompts (50074/50076), keep-me-signed-in and session expiry interrupts are
  not failures. A lockout weighs `brute_force_lockout_weight` failures.
- A few typos followed by a success are the user, not an attack (below the threshold).
- Failures that come only from the user's usual network (a /24 or /48 in the baseline), followed
  by nothing or a success from there, are a stale password on a device: `low`.

Thresholds: >= 10 failures within a 20-minute session (established brute-force rules;
`brute_force_min_failures`, `brute_force_window_minutes`). A success or password validated from a
burst IP (or an unfamiliar network) within `brute_force_success_minutes` after the burst: `high`.
Otherwise `medium`: an attack in progress that did not get in.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.baseline import network_prefix
from shared.detect import wording
from shared.detect.bursts import bursts
from shared.detect.codes import FAILURE_CODES, LOCKOUT_CODES, password_known
from shared.detect.context import DetectionContext
from shared.model import Finding, Severity, SignIn

TYPE = "repeated_failures"


def _code(sign_in: SignIn) -> int:
    status = sign_in.status
    return status.error_code if status is not None else 0


def _usual_network(sign_in: SignIn, context: DetectionContext) -> bool:
    baseline = context.baseline
    return baseline is not None and network_prefix(sign_in.ip_address) in baseline.prefixes


def detect(sign_ins: Sequence[SignIn], context: DetectionContext) -> list[Finding]:
    s = context.settings
    failures = [sign_in for sign_in in sign_ins if _code(sign_in) in FAILURE_CODES]
    if len(failures) * s.brute_force_lockout_weight < s.brute_force_min_failures:
        return []
    times = [sign_in.created_date_time.timestamp() for sign_in in failures]
    weights = [
        s.brute_force_lockout_weight if _code(sign_in) in LOCKOUT_CODES else 1
        for sign_in in failures
    ]
    found = bursts(times, weights, s.brute_force_window_minutes * 60, s.brute_force_min_failures)
    return [_finding(failures[first : last + 1], sign_ins, context) for first, last in found]


def _after(
    burst: list[SignIn], sign_ins: Sequence[SignIn], context: DetectionContext
) -> SignIn | None:
    """The first success or validated password within the success window after the burst."""
    start, end = burst[0].created_date_time, burst[-1].created_date_time
    limit = end.timestamp() + context.settings.brute_force_success_minutes * 60
    for sign_in in sign_ins:
        moment = sign_in.created_date_time
        if moment < start:
            continue
        if moment.timestamp() > limit:
            break
        if password_known(_code(sign_in)):
            return sign_in
    return None


def _finding(burst: list[SignIn], sign_ins: Sequence[SignIn], context: DetectionContext) -> Finding:
    ips = sorted({sign_in.ip_address or "an unknown IP" for sign_in in burst})
    lockouts = sum(1 for sign_in in burst if _code(sign_in) in LOCKOUT_CODES)
    usual = all(_usual_network(sign_in, context) for sign_in in burst)
    success = _after(burst, sign_ins, context)
    attacker_success = success is not None and (
        success.ip_address in ips or not _usual_network(success, context)
    )
    severity: Severity = "medium"
    if usual and not attacker_success:
        severity = "low"
    elif attacker_success and not usual:
        severity = "high"
    text = (
        f"{wording.count(len(burst), 'failed password attempt')} "
        f"{wording.span(burst[0].created_date_time, burst[-1].created_date_time)} "
        f"from {wording.listing(ips)}"
    )
    if lockouts:
        text += f", {lockouts} of them Smart Lockouts (50053)"
    if usual:
        text += "; every failure came from the user's usual network"
    ids = [sign_in.id for sign_in in burst]
    if success is not None:
        got = "signed in" if _code(success) == 0 else "had the password validated"
        text += (
            f"; then {got} from {wording.origin(success)} at "
            f"{wording.when(success.created_date_time)}"
        )
        ids.append(success.id)
    else:
        text += "; no attempt succeeded"
    return Finding(TYPE, severity, text + ".", ids, got_in=severity == "high")
