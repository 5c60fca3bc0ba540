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

Slow brute force: attackers who know the bucket rule try a few times an hour, for a whole weekend,
from rotating countries and networks. Outside any burst, >= `slow_failures_min` failures spread
over >= `slow_failures_min_hours` from two or more addresses, none of them followed by a success
or validated password from those addresses, are `low`; `medium` when sustained over
`slow_failures_many_hours` or from `slow_failures_many_sources` networks or countries. Failures
from the user's familiar networks, known devices or trusted named locations (a phone with a
stale password), from a network the user had already signed in from earlier in the window (the
same phone, for a user without a baseline) and from a spray campaign's addresses (the spray
finding covers those) are not counted. Such failures (from one address or more) that end in a
success or validated password from their own addresses are `high`, whatever their pace: a slow
IMAP brute force that gets in is no less in than a burst (and over a legacy protocol, the
finding says no MFA was asked).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from shared.baseline import network_prefix
from shared.detect import wording
from shared.detect.bursts import bursts
from shared.detect.codes import FAILURE_CODES, LOCKOUT_CODES, password_known
from shared.detect.context import DetectionContext
from shared.detect.protocols import is_legacy
from shared.model import Finding, Severity, SignIn

TYPE = "repeated_failures"


def _code(sign_in: SignIn) -> int:
    status = sign_in.status
    return status.error_code if status is not None else 0


def _usual_network(sign_in: SignIn, context: DetectionContext) -> bool:
    if context.trusted.range_of(sign_in.ip_address):
        return True
    baseline = context.baseline
    return baseline is not None and network_prefix(sign_in.ip_address) in baseline.prefixes


def detect(sign_ins: Sequence[SignIn], context: DetectionContext) -> list[Finding]:
    s = context.settings
    failures = [sign_in for sign_in in sign_ins if _code(sign_in) in FAILURE_CODES]
    if len(failures) < s.slow_failures_min and (
        len(failures) * s.brute_force_lockout_weight < s.brute_force_min_failures
    ):
        return []
    times = [sign_in.created_date_time.timestamp() for sign_in in failures]
    weights = [
        s.brute_force_lockout_weight if _code(sign_in) in LOCKOUT_CODES else 1
        for sign_in in failures
    ]
    found = bursts(times, weights, s.brute_force_window_minutes * 60, s.brute_force_min_failures)
    findings = [_finding(failures[first : last + 1], sign_ins, context) for first, last in found]
    in_bursts = {i for first, last in found for i in range(first, last + 1)}
    rest = [f for i, f in enumerate(failures) if i not in in_bursts]
    slow = _slow(rest, sign_ins, context)
    if slow is not None:
        findings.append(slow)
    return findings


def _familiar_source(sign_in: SignIn, context: DetectionContext) -> bool:
    if _usual_network(sign_in, context):
        return True
    baseline = context.baseline
    if baseline is None:
        return False
    asn = sign_in.autonomous_system_number
    device = sign_in.device_id
    return bool((asn and asn in baseline.networks) or (device and device in baseline.devices))


def _first_successes(sign_ins: Sequence[SignIn]) -> dict[str, datetime]:
    """Each network (/24 or /48) the user signed in from in the window, with the first time."""
    first: dict[str, datetime] = {}
    for sign_in in sign_ins:
        if _code(sign_in) == 0:
            prefix = network_prefix(sign_in.ip_address)
            if prefix and prefix not in first:
                first[prefix] = sign_in.created_date_time
    return first


def _after_own_success(failure: SignIn, first_successes: dict[str, datetime]) -> bool:
    """A failure from a network the user had already signed in from earlier in the window: the
    user's own (a device with an old password at home), learned from the window when there is no
    baseline to say so. An attacker's failures come before its network's first success."""
    prefix = network_prefix(failure.ip_address)
    since = first_successes.get(prefix) if prefix else None
    return since is not None and since < failure.created_date_time


def _slow(failures: list[SignIn], sign_ins: Sequence[SignIn], context: DetectionContext
          ) -> Finding | None:
    """Sustained failures over the window from rotating, unfamiliar sources, never a success."""
    s = context.settings
    if len(failures) < s.slow_failures_min:
        return None
    sprayed = {ip for c in context.tenant.campaigns_for(context.user_id) for ip in c.ips}
    own = _first_successes(sign_ins)
    counted = [f for f in failures
               if f.ip_address not in sprayed and not _familiar_source(f, context)
               and not _after_own_success(f, own)]
    if len(counted) < s.slow_failures_min:
        return None
    ips = {f.ip_address or "" for f in counted}
    first, last = counted[0].created_date_time, counted[-1].created_date_time
    hours = (last - first).total_seconds() / 3600
    if hours < s.slow_failures_min_hours:
        return None
    success = next((x for x in sign_ins if password_known(_code(x)) and x.ip_address in ips
                    and x.created_date_time >= first), None)
    if success is not None:
        return _slow_then_success(counted, success, ips, hours)
    if len(ips) < 2:
        return None
    networks = {f.autonomous_system_number for f in counted if f.autonomous_system_number}
    countries = {f.country for f in counted if f.country}
    many = max(len(networks), len(countries)) >= s.slow_failures_many_sources
    severity: Severity = "medium" if many or hours >= s.slow_failures_many_hours else "low"
    text = (
        f"{wording.count(len(counted), 'failed password attempt')} "
        f"{wording.span(first, last)} ({wording.duration(hours * 3600)}), from "
        f"{wording.count(len(ips), 'address', 'addresses')} in "
        f"{wording.count(len(networks), 'network')} and "
        f"{wording.count(len(countries), 'country', 'countries')} the user has not used: "
        "a slow brute force rotating its sources; no attempt succeeded, so it did not get in"
    )
    return Finding(TYPE, severity, text + ".", [f.id for f in counted])


def _slow_then_success(counted: list[SignIn], success: SignIn, ips: set[str],
                       hours: float) -> Finding:
    """A brute force that ended in a success from its own addresses, however slow: `high`
    (a burst that ends so is `high`; pace changes nothing once the password worked)."""
    legacy = sorted({f.client_app_used or "" for f in [*counted, success] if is_legacy(f)})
    got = "signed in" if _code(success) == 0 else "had the password validated"
    text = (
        f"{wording.count(len(counted), 'failed password attempt')} "
        f"{wording.span(counted[0].created_date_time, counted[-1].created_date_time)} "
        f"({wording.duration(hours * 3600)}) from {wording.listing(sorted(ips))}, sources the "
        f"user has not used; then {got} from {wording.origin(success)} at "
        f"{wording.when(success.created_date_time)}: a slow brute force that got in"
    )
    if legacy:
        text += f" (over {wording.listing(legacy)}, a legacy protocol: no MFA was asked)"
    return Finding(TYPE, "high", text + ".", [f.id for f in counted] + [success.id],
                   got_in=True)


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
