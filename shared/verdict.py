"""Findings + context -> one verdict level, reasons a reviewer can check, proposed remediation.

Levels (the design notes' Verdicts section):
- `none`: nothing stands out (off-hours alone, on a known device, network and country, is
  context: kept in the user's entry and reasons, no verdict).
- `low`: worth a glance (off-hours on a known device and network, targeted by a spray that never
  worked, a new network in a familiar country).
- `medium`: an attack in progress (brute force, MFA prompts pushed, password validated from a new
  country) or an unexplained new location.
- `high`: someone other than the user very likely holds a working credential or session, or any
  anomaly touches a privileged account (treated as high on thin evidence).

A verdict is the highest finding severity, raised to `high` when two different kinds of
medium-or-worse findings agree and someone got in, or when the account is privileged. Every
verdict with findings says whether the attacker got in: signed in, knew the password but was
stopped, or neither.

Proposed remediation scales with the level; nothing runs without a person's approval:
high -> revoke sessions and force a password reset (+ confirm compromised where Identity
Protection is available); disabling only for a privileged account where someone else very likely
holds a working session. low/medium -> investigate.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.baseline import is_thin
from shared.detect import wording
from shared.detect.codes import ErrorClass, error_class, password_known
from shared.detect.context import DetectionContext
from shared.model import Finding, Level, SignIn, UserStats, UserVerdict, level_rank
from shared.remediation_objects import containment_actions

_NOT_FAILURES = frozenset({
    ErrorClass.SUCCESS, ErrorClass.INTERRUPT, ErrorClass.CONSENT, ErrorClass.MFA_PROMPT,
    ErrorClass.TOKENS_REVOKED,
})
# Findings whose judgement leans on the baseline ("unfamiliar", "usual network", "usual hours").
_BASELINE_DEPENDENT = frozenset(
    {"impossible_travel", "unfamiliar_location", "repeated_failures", "off_hours"}
)
# Attacks that say "did not get in" even when only worth a glance.
_ATTEMPTS = frozenset({"password_spray", "repeated_failures", "disabled_account"})


def _code(sign_in: SignIn) -> int:
    status = sign_in.status
    return status.error_code if status is not None else 0


def user_stats(sign_ins: Sequence[SignIn]) -> UserStats:
    """Counts for the per-user breakdown: sign-ins, failures (by error class), places, devices."""
    countries: set[str] = set()
    ips: set[str] = set()
    devices: set[str] = set()
    by_class: dict[str, int] = {}
    for sign_in in sign_ins:
        code = _code(sign_in)
        if code:
            kind = error_class(code)
            if kind not in _NOT_FAILURES:
                name = kind.name.lower()
                by_class[name] = by_class.get(name, 0) + 1
        location = sign_in.location
        if location is not None and location.country_or_region:
            countries.add(location.country_or_region)
        if sign_in.ip_address:
            ips.add(sign_in.ip_address)
        device = sign_in.device_detail
        if device is not None and device.device_id:
            devices.add(device.device_id)
    return UserStats(
        sign_ins=len(sign_ins), failures=sum(by_class.values()), countries=sorted(countries),
        ips=len(ips), devices=len(devices), failures_by_class=by_class,
    )


def _level(findings: Sequence[Finding], privileged: bool) -> Level:
    active = [f for f in findings if not f.context]
    if not active:
        # Context alone (off-hours on a known device, network and country): no verdict, except a
        # glance for a privileged account.
        return "low" if privileged and findings else "none"
    level: Level = max((f.severity for f in active), key=level_rank)
    serious = [f for f in active if level_rank(f.severity) >= level_rank("medium")]
    if len({f.type for f in serious}) >= 2 and any(f.got_in for f in serious):
        level = "high"
    if privileged and any(not (f.type == "off_hours" and f.severity == "low") for f in active):
        level = "high"
    return level


def _got_in_sentence(findings: Sequence[Finding], sign_ins: Sequence[SignIn]) -> str | None:
    serious = [f for f in findings if f.severity != "low"] or [
        f for f in findings if f.type in _ATTEMPTS
    ]
    if not serious:
        return None
    cited = {i for f in serious if f.got_in for i in f.sign_in_ids}
    by_id = {sign_in.id: sign_in for sign_in in sign_ins if sign_in.id in cited}
    wins = sorted(
        (s for s in by_id.values() if _code(s) == 0), key=lambda s: s.created_date_time
    )
    if wins:
        first = wins[0]
        return (
            f"The attacker got in: a cited sign-in succeeded at "
            f"{wording.when(first.created_date_time)} from {wording.origin(first)}."
        )
    validated = sorted(
        (s for s in by_id.values() if password_known(_code(s)) or _code(s) == 500121),
        key=lambda s: s.created_date_time,
    )
    if validated:
        return (
            f"The attacker knew the password (validated at "
            f"{wording.when(validated[0].created_date_time)} from {wording.origin(validated[0])})"
            " but was stopped before completing a sign-in: treat the password as known."
        )
    if any(f.got_in for f in serious):
        return "The attacker got in, as the findings above report."
    return "No attempt succeeded and no password was validated: the attacker did not get in."


def _actions(level: Level, privileged: bool, session_held: bool, context: DetectionContext
             ) -> list[str]:
    if level == "none":
        return []
    if level != "high":
        return ["investigate"]
    actions = ["revokeSessions", "forcePasswordReset"]
    if context.identity_protection:
        actions.append("confirmCompromised")
    if privileged and session_held:
        actions.append("disableAccount")
    return actions


def decide(
    findings: Sequence[Finding], context: DetectionContext, sign_ins: Sequence[SignIn]
) -> UserVerdict:
    """The verdict for one user from their findings and window sign-ins (time ordered)."""
    privileged = bool(context.privileged_roles)
    level = _level(findings, privileged)
    s = context.settings
    thin = is_thin(context.baseline, min_sign_ins=s.thin_min_sign_ins, min_days=s.thin_min_days)
    reasons = [finding.summary for finding in findings]
    got_in_sentence = _got_in_sentence(findings, sign_ins) if findings else None
    if got_in_sentence:
        reasons.append(got_in_sentence)
    got_in = bool(got_in_sentence and got_in_sentence.startswith("The attacker got in"))
    knew = bool(got_in_sentence and got_in_sentence.startswith("The attacker knew"))
    if privileged and any(not f.context for f in findings):
        reasons.append(
            f"The account holds privileged roles ({wording.listing(context.privileged_roles)}): "
            "any anomaly on it is treated as high."
        )
    elif privileged and findings:
        reasons.append(
            f"The account holds privileged roles ({wording.listing(context.privileged_roles)}): "
            "activity at unusual hours on it is worth a glance."
        )
    if thin and any(f.type in _BASELINE_DEPENDENT for f in findings):
        reasons.append(_thin_sentence(context))
    first = next((s.user_principal_name for s in sign_ins if s.user_principal_name), None)
    return UserVerdict(
        user_id=context.user_id or (sign_ins[0].user_key if sign_ins else ""),
        user_principal_name=first,
        verdict=level,
        privileged=privileged,
        findings=list(findings),
        reasons=reasons,
        stats=user_stats(sign_ins),
        got_in=got_in or knew,
        proposed_actions=_actions(level, privileged, got_in, context)
        + (containment_actions(findings) if level == "high" else []),
        thin_baseline=thin,
    )


def _thin_sentence(context: DetectionContext) -> str:
    baseline = context.baseline
    if baseline is None or baseline.first_seen is None or baseline.last_seen is None:
        return "No baseline exists for this user: 'unfamiliar' rests on the window alone."
    days = (baseline.last_seen - baseline.first_seen).days
    return (
        f"The baseline is thin ({wording.count(baseline.sign_ins, 'successful sign-in')} over "
        f"{wording.count(days, 'day')}): 'unfamiliar' rests on little history."
    )

