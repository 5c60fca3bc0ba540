"""impossible_travel: two consecutive sign-ins whose distance over time needs an implausible speed.

Why it matters: a password or session used from two places no traveller could connect is the
classic sign of someone else holding it.

Cautions honoured (the design notes' Detections section):
- Chronological consecutive pairs only, never "every location ever seen": a user in Israel last
  month and Las Vegas this weekend did not travel impossibly.
- Only sign-ins that got past the password count (successes, and codes reached after the
  password was validated): a spray from abroad is not the user travelling.
- Hops within one country are treated as carrier or ISP routing (`travel_same_country_is_routing`).
- Geolocation is coarse: each position carries an uncertainty (half of `travel_noise_km` for
  coordinates, a country-sized radius when only the country is known) that is subtracted from
  the distance, and speeds are never computed over less than `travel_noise_minutes`.
- Empty locations are skipped, never treated as a place.

- The window's edge: the user's last located success before the window (the baseline's
  `last_place`) is the first leg of a hop into it.
- Sign-ins from the tenant's trusted named locations (VPN egress, offices) are not positions: a
  VPN moves the apparent place, not the user.
- Hops whose legs only reached a prompt (MFA, device, keep me signed in) say nobody got in, and
  without a baseline are at most `low`.

Thresholds: above about 900 km/h (airliner speed), hops under ~50 km or 10 minutes as noise
(established impossible-travel rules; `travel_*` settings).
Severity: high, unless both places are familiar from the user's baseline (low: a VPN or a second
office the user has used before); medium when the evidence is only country-level, or when there
is no baseline to tell a VPN from an intruder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from shared.baseline import network_prefix
from shared.detect import wording
from shared.detect.codes import is_prompt, password_known, password_validated
from shared.detect.context import DetectionContext
from shared.detect.places import Position, position
from shared.geo import haversine_km
from shared.model import Finding, Severity, SignIn

TYPE = "impossible_travel"


class Hop(NamedTuple):
    before: SignIn
    after: SignIn
    distance_km: float
    minutes: float
    speed_kmh: float
    coarse: bool


def _passed_password(sign_in: SignIn) -> bool:
    status = sign_in.status
    code = status.error_code if status is not None else 0
    return code == 0 or password_known(code) or password_validated(code)


def _entered(sign_in: SignIn) -> bool:
    """Completed, or proved the password beyond a routine prompt."""
    status = sign_in.status
    code = status.error_code if status is not None else 0
    return code == 0 or (password_known(code) and not is_prompt(code))


def _same_place(a: SignIn, b: SignIn) -> bool:
    la, lb = a.location, b.location
    return la is lb or la == lb  # places are shared records once decoded (shared.compact)


def before_window(sign_ins: Sequence[SignIn], context: DetectionContext) -> SignIn | None:
    """The user's last located success before the window, from the baseline, when there is one."""
    baseline = context.baseline
    place = baseline.last_place if baseline is not None else None
    if place is None or place.at >= context.window.start:
        return None
    if sign_ins and place.at >= sign_ins[0].created_date_time:
        return None
    return place.as_sign_in()


def hops(sign_ins: Sequence[SignIn], context: DetectionContext) -> list[Hop]:
    """Consecutive located sign-ins (past the password) whose implied speed is implausible."""
    s = context.settings
    found: list[Hop] = []
    previous: SignIn | None = None
    previous_at: Position | None = None
    edge = before_window(sign_ins, context)
    trusted = context.trusted if context.trusted.ranges else None
    for sign_in in [edge, *sign_ins] if edge is not None else sign_ins:
        location = sign_in.location
        if location is None or not location.country_or_region or not _passed_password(sign_in):
            continue
        if trusted is not None and trusted.range_of(sign_in.ip_address):
            continue
        if previous is not None and _same_place(previous, sign_in):
            previous = sign_in
            continue
        here = position(sign_in, s.travel_noise_km, s.travel_coarse_min_radius_km)
        if here is None:
            continue
        if previous is not None and previous_at is not None:
            hop = _judge(previous, previous_at, sign_in, here, context)
            if hop is not None:
                found.append(hop)
        previous, previous_at = sign_in, here
    return found


def _judge(
    a: SignIn, at_a: Position, b: SignIn, at_b: Position, context: DetectionContext
) -> Hop | None:
    s = context.settings
    if s.travel_same_country_is_routing and a.country == b.country:
        return None
    distance = haversine_km(at_a[:2], at_b[:2])
    if distance < s.travel_noise_km:
        return None
    certain = distance - at_a.radius_km - at_b.radius_km
    seconds = (b.created_date_time - a.created_date_time).total_seconds()
    hours = max(seconds / 3600, s.travel_noise_minutes / 60)
    speed = certain / hours
    if speed <= s.travel_max_speed_kmh:
        return None
    return Hop(a, b, distance, seconds / 60, speed, at_a.coarse or at_b.coarse)


def _familiar(sign_in: SignIn, context: DetectionContext) -> bool:
    baseline = context.baseline
    if baseline is None or sign_in.country not in baseline.countries:
        return False
    asn = sign_in.autonomous_system_number
    if asn and baseline.networks:
        return asn in baseline.networks
    return network_prefix(sign_in.ip_address) in baseline.prefixes


def _has_baseline(context: DetectionContext) -> bool:
    return context.baseline is not None and context.baseline.sign_ins > 0


def _severity(hop: Hop, context: DetectionContext) -> Severity:
    if _familiar(hop.before, context) and _familiar(hop.after, context):
        return "low"
    if not _has_baseline(context) and not (_entered(hop.before) and _entered(hop.after)):
        return "low"  # a prompt-only leg, nothing to compare with
    return "medium" if hop.coarse or not _has_baseline(context) else "high"


def _sentence(hop: Hop, more: int, has_baseline: bool, edge: SignIn | None) -> str:
    first_leg = (" (the last sign-in before the window)"
                 if edge is not None and hop.before.id == edge.id else "")
    text = (
        f"Signed in from {wording.origin(hop.before)} at "
        f"{wording.when(hop.before.created_date_time)}{first_leg} and from "
        f"{wording.origin(hop.after)} at "
        f"{wording.when(hop.after.created_date_time)}:"
        f" {hop.distance_km:,.0f} km in {wording.duration(hop.minutes * 60)}"
        f" would need {hop.speed_kmh:,.0f} km/h or more"
    )
    if hop.coarse:
        text += " (coarse evidence: only the country is known, so its whole area was allowed for)"
    if more:
        text += f"; {wording.count(more, 'more such hop')} in the window"
    if not has_baseline:
        text += "; with no baseline, a VPN or second office cannot be told from an intruder"
    return text + "."


def detect(sign_ins: Sequence[SignIn], context: DetectionContext) -> list[Finding]:
    found = hops(sign_ins, context)
    if not found:
        return []
    ranked = {"low": 0, "medium": 1, "high": 2}
    judged = [(hop, _severity(hop, context)) for hop in found]
    worst, severity = max(judged, key=lambda pair: (ranked[pair[1]], pair[0].speed_kmh))
    ids: list[str] = []
    for hop, _ in judged:
        for sign_in in (hop.before, hop.after):
            if sign_in.id not in ids:
                ids.append(sign_in.id)
    edge = before_window(sign_ins, context)
    # A hop resting on a prompt-only leg (MFA, device, keep me signed in) proves no entry.
    got_in = any(_entered(hop.before) and _entered(hop.after) for hop, _ in judged)
    summary = _sentence(worst, len(found) - 1, _has_baseline(context), edge)
    if not got_in:
        summary = summary[:-1] + "; one leg only reached a prompt, so this proves no entry."
    return [Finding(TYPE, severity, summary, ids, got_in=got_in)]
