"""off_hours: successful interactive sign-ins at hours of the week the user's baseline never has.

Why it matters: the review exists for compromise "while nobody was watching": an attacker using a
stolen session at 03:00 on a Sunday stands out against a user who works weekdays.

Cautions honoured:
- Judged against the user's own hours-of-week histogram (UTC), not a tenant-wide clock, and only
  when the baseline holds at least `off_hours_min_history` interactive sign-ins; neighbouring
  hours (`off_hours_tolerance_hours`) count as usual.
- Non-interactive sign-ins (token refreshes by the user's devices) run at all hours: ignored.
Severity: `low` on a known device or network (worth a glance), `medium` when neither the device
nor the network is in the baseline.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.baseline import HOURS_OF_WEEK, hour_of_week, network_prefix
from shared.detect import wording
from shared.detect.context import DetectionContext
from shared.model import Finding, SignIn

TYPE = "off_hours"
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _known_device_or_network(sign_in: SignIn, context: DetectionContext) -> bool:
    baseline = context.baseline
    if baseline is None:
        return False
    device = sign_in.device_id
    if device and device in baseline.devices:
        return True
    asn = sign_in.autonomous_system_number
    if asn and asn in baseline.networks:
        return True
    return network_prefix(sign_in.ip_address) in baseline.prefixes


def detect(sign_ins: Sequence[SignIn], context: DetectionContext) -> list[Finding]:
    baseline = context.baseline
    s = context.settings
    if baseline is None or baseline.interactive < s.off_hours_min_history:
        return []
    hours = baseline.hours
    tolerance = s.off_hours_tolerance_hours
    unusual: list[SignIn] = []
    for sign_in in sign_ins:
        status = sign_in.status
        if (status is not None and status.error_code != 0) or sign_in.is_interactive is False:
            continue
        slot = hour_of_week(sign_in.created_date_time)
        if not any(
            hours[(slot + step) % HOURS_OF_WEEK] for step in range(-tolerance, tolerance + 1)
        ):
            unusual.append(sign_in)
    if not unusual:
        return []
    known = all(_known_device_or_network(sign_in, context) for sign_in in unusual)
    slots = sorted({hour_of_week(sign_in.created_date_time) for sign_in in unusual})
    named = [f"{_DAYS[slot // 24]} {slot % 24:02d}:00" for slot in slots]
    text = (
        f"{wording.count(len(unusual), 'successful interactive sign-in')} at hours the user's "
        f"{baseline.interactive:,} earlier interactive sign-ins never show "
        f"({wording.listing(named)} UTC), the first at "
        f"{wording.when(unusual[0].created_date_time)} from {wording.origin(unusual[0])}"
    )
    text += (
        ", on a known device or network" if known
        else ", on a device and network the user has not used before"
    )
    return [Finding(TYPE, "low" if known else "medium", text + ".", [s.id for s in unusual],
                    got_in=not known)]
