"""Detections: pure functions over one user's sign-ins (time ordered) and a `DetectionContext`.

Each module reads like a rule file: what it catches, why, the references behind its thresholds,
and one `detect(sign_ins, context) -> list[Finding]`. They are listed here explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from shared.detect import (
    disabled_account,
    impossible_travel,
    mfa_fatigue,
    off_hours,
    password_spray,
    persistence,
    protocols,
    repeated_failures,
    risky_sign_in,
    unfamiliar_location,
)
from shared.detect.context import DetectionContext
from shared.model import Finding, SignIn

Detection = Callable[[Sequence[SignIn], DetectionContext], list[Finding]]

DETECTIONS: dict[str, Detection] = {
    impossible_travel.TYPE: impossible_travel.detect,
    unfamiliar_location.TYPE: unfamiliar_location.detect,
    repeated_failures.TYPE: repeated_failures.detect,
    password_spray.TYPE: password_spray.detect,
    mfa_fatigue.TYPE: mfa_fatigue.detect,
    off_hours.TYPE: off_hours.detect,
    risky_sign_in.TYPE: risky_sign_in.detect,
    disabled_account.TYPE: disabled_account.detect,
    protocols.LEGACY_TYPE: protocols.detect_legacy,
    protocols.DEVICE_CODE_TYPE: protocols.detect_device_code,
}


def run_all(sign_ins: Sequence[SignIn], context: DetectionContext) -> list[Finding]:
    """Every detection over one user's window sign-ins (time ordered), findings in table order."""
    findings: list[Finding] = []
    for detect in DETECTIONS.values():
        findings.extend(detect(sign_ins, context))
    # What followed the sign-ins, tied to those the findings above call suspicious.
    findings.extend(persistence.detect(sign_ins, context, findings))
    return findings
