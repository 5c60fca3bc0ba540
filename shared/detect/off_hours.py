"""off_hours: successful interactive sign-ins at hours of the week the user's baseline never has.

Why it matters: the review exists for compromise "while nobody was watching": an attacker using a
stolen session at 03:00 on a Sunday stands out against a user who works weekdays.

Cautions honoured:
- Judged against the user's own hours (UTC, from the baseline's hours-of-week histogram), not a
  tenant-wide clock, and only when the baseline holds at least `off_hours_min_history`
  interactive sign-ins; neighbouring hours (`off_hours_tolerance_hours`) count as usual.
  Workdays are pooled (an hour of day seen on any weekday is usual on every weekday), so a few
  weeks of history are enough.
- Weekends and holidays (`holidays`) are judged against the user's own weekend habit where the
  baseline has one (at least `off_hours_weekend_min` weekend sign-ins): any hour of day the user
  has worked on a Saturday or Sunday is usual on either, and on a holiday. Without the habit,
  every weekend or holiday hour is unusual (and, alone, only context).
- Non-interactive sign-ins (token refreshes by the user's devices) run at all hours: ignored.
- An odd hour alone is not an anomaly: people catch up on a Sunday. On the user's known device,
  from a known network (or a trusted named location) and country, the finding is context only
  (shown in the user's entry, no verdict); privileged accounts still get a glance (the verdict).
Severity: `low` when the odd-hour sign-ins bring one new thing (a device or a network the user has
not used) or follow credential failures from an unfamiliar device and network; `medium` when both
device and network are new, and for a privileged account with a new device or network at an hour
it never works.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, timedelta

from shared.baseline import BaselineProfile, hour_of_week, network_prefix, platform_of
from shared.detect import wording
from shared.detect.codes import FAILURE_CODES
from shared.detect.context import DetectionContext
from shared.model import Finding, Severity, SignIn

TYPE = "off_hours"
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FAILURES_BEFORE = timedelta(hours=1)


def known_device(sign_in: SignIn, baseline: BaselineProfile) -> bool:
    device = sign_in.device_id
    if device:
        return device in baseline.devices
    platform = platform_of(sign_in)
    return platform is not None and platform in baseline.platforms


def known_network(sign_in: SignIn, context: DetectionContext) -> str | None:
    """How the network is known ("usual network", a trusted location's name), or None."""
    trusted = context.trusted.range_of(sign_in.ip_address)
    if trusted:
        return f"the trusted named location {trusted!r}"
    baseline = context.baseline
    if baseline is None:
        return None
    asn = sign_in.autonomous_system_number
    prefix = network_prefix(sign_in.ip_address)
    if (asn and asn in baseline.networks) or prefix in baseline.prefixes:
        return "a usual network"
    if not asn and sign_in.country and sign_in.country in baseline.countries:
        # v1.0 sign-ins carry no ASN, and a /24 changes with every carrier connection: without
        # the network's number, a familiar country is as far as "known" can be judged.
        return "a usual network"
    return None


def _known_country(sign_in: SignIn, context: DetectionContext, baseline: BaselineProfile) -> bool:
    """A familiar country, or none to speak of: no location, or a trusted range (a VPN egress
    geolocates to wherever the VPN is)."""
    country = sign_in.country
    trusted = context.trusted
    return (not country or country in baseline.countries or bool(trusted.country_of(country))
            or bool(trusted.range_of(sign_in.ip_address)))


def _pooled_hours(baseline: BaselineProfile, days: range, minimum: int, tolerance: int
                  ) -> frozenset[int] | None:
    """Hours of day (UTC) usual on `days` (0 Monday ... 6 Sunday): those the user has signed in
    at on any of them, widened by `tolerance` hours; None when those days hold fewer than
    `minimum` sign-ins (no habit to judge against)."""
    hours = baseline.hours
    pooled = list(map(sum, zip(*(hours[day * 24 : day * 24 + 24] for day in days), strict=True)))
    if sum(pooled) < minimum:
        return None
    return frozenset((hour + step) % 24 for hour, seen in enumerate(pooled) if seen
                     for step in range(-tolerance, tolerance + 1))


def _unusual(sign_ins: Sequence[SignIn], context: DetectionContext, baseline: BaselineProfile
             ) -> list[SignIn]:
    """Successful interactive sign-ins at hours the user's own workdays or weekends never show.

    Hot (every user with enough history): the habits are pooled only when a sign-in needs them.
    """
    s = context.settings
    holidays = s.holidays
    pools: dict[bool, frozenset[int] | None] = {}
    unusual: list[SignIn] = []
    for sign_in in sign_ins:
        status = sign_in.status
        if (status is not None and status.error_code != 0) or sign_in.is_interactive is False:
            continue
        moment = sign_in.created_date_time
        if moment.tzinfo is not None and moment.tzinfo is not UTC:
            moment = moment.astimezone(UTC)
        restful = moment.weekday() >= 5 or bool(holidays and moment.date() in holidays)
        if restful not in pools:
            pools[restful] = (
                _pooled_hours(baseline, range(5, 7), s.off_hours_weekend_min,
                              s.off_hours_tolerance_hours) if restful
                else _pooled_hours(baseline, range(5), 1, s.off_hours_tolerance_hours)
            )
        usual = pools[restful]
        if usual is None or moment.hour not in usual:
            unusual.append(sign_in)
    return unusual


def detect(sign_ins: Sequence[SignIn], context: DetectionContext) -> list[Finding]:
    baseline = context.baseline
    if baseline is None or baseline.interactive < context.settings.off_hours_min_history:
        return []
    unusual = _unusual(sign_ins, context, baseline)
    if not unusual:
        return []
    new_device = [s for s in unusual if not known_device(s, baseline)]
    networks = [known_network(s, context) for s in unusual]
    new_network = [s for s, known in zip(unusual, networks, strict=True) if known is None]
    new_country = [s for s in unusual if not _known_country(s, context, baseline)]
    failed = _after_failures(sign_ins, unusual, context, baseline)
    slots = sorted({hour_of_week(sign_in.created_date_time) for sign_in in unusual})
    named = [f"{_DAYS[slot // 24]} {slot % 24:02d}:00" for slot in slots]
    text = (
        f"{wording.count(len(unusual), 'successful interactive sign-in')} at hours the user's "
        f"{baseline.interactive:,} earlier interactive sign-ins never show "
        f"({wording.listing(named)} UTC), the first at "
        f"{wording.when(unusual[0].created_date_time)} from {wording.origin(unusual[0])}"
    )
    both = any(s in new_network for s in new_device)
    privileged = bool(context.privileged_roles)
    if not (new_device or new_network or new_country or failed):
        trusted = next((n for n in networks if n and n.startswith("the trusted")), None)
        text += (
            f", on the user's known device, from {trusted or 'a usual network'} and a familiar "
            "country: context, not a verdict on its own"
        )
        return [Finding(TYPE, "low", text + ".", [s.id for s in unusual], context=True)]
    severity: Severity = "low"
    if both:
        text += ", on a device and network the user has not used before"
        severity = "medium"
    else:
        if new_device:
            text += ", on a device the user has not used before"
        if new_network:
            text += ", from a network the user has not used before"
        if new_country:
            text += ", from a country the user has not signed in from"
        if privileged and (new_device or new_network):
            text += " (a privileged account: at least medium)"
            severity = "medium"
    if failed:
        text += f", within an hour after {wording.count(failed, 'failed password attempt')}"
    return [Finding(TYPE, severity, text + ".", [s.id for s in unusual],
                    got_in=severity == "medium")]


def _after_failures(sign_ins: Sequence[SignIn], unusual: list[SignIn],
                    context: DetectionContext, baseline: BaselineProfile) -> int:
    """Credential failures from an unfamiliar device and network in the hour before any of the
    odd-hour sign-ins (a typo on the user's own laptop at home is not one)."""
    failures = [s.created_date_time for s in sign_ins
                if s.status is not None and s.status.error_code in FAILURE_CODES
                and not (known_device(s, baseline) or known_network(s, context))]
    if not failures:
        return 0
    return sum(
        1 for moment in failures
        if any(timedelta(0) <= u.created_date_time - moment <= _FAILURES_BEFORE for u in unusual)
    )
