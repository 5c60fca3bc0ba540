"""How one privileged account was used over a period: pure counts over its sign-ins.

- Single-factor: a successful interactive sign-in whose `authenticationRequirement` is
  `singleFactorAuthentication` (Graph beta signIn; Log Analytics' SigninLogs column of the same
  name). Non-interactive sign-ins (token refreshes) are left out: they renew a session and need
  no factor of their own, so they show single-factor whatever the session's sign-in satisfied.
  Sources without the field cannot say, and count none.
- Legacy protocols: the `clientAppUsed` values Microsoft lists as legacy authentication clients
  (shared.detect.protocols, with its sources). Attempts count, failed ones included: a password
  tried over IMAP is the exposure the reviewer must see.
- Unmanaged device: `deviceDetail.isManaged` and `deviceDetail.isCompliant` both false (Graph's
  deviceDetail resource). Where the source carries neither, the sign-in is counted as unknown.
- Failures: credential failures and lockouts (shared.detect.codes); lockouts alone as well.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from shared.detect.codes import FAILURE_CODES, LOCKOUT_CODES
from shared.detect.protocols import is_legacy  # one list of legacy clients for both
from shared.model import MonthCount, SignIn

SINGLE_FACTOR = "singleFactorAuthentication"
SHOWN = 20  # most frequent countries, networks, devices and applications kept per account


def device_state(sign_in: SignIn) -> bool | None:
    """True when the device is managed or compliant, False when it is neither, None unknown."""
    device = sign_in.device_detail
    if device is None or (device.is_managed is None and device.is_compliant is None):
        return None
    return bool(device.is_managed) or bool(device.is_compliant)


class Usage:
    """Counts over one account's sign-ins, fed in any order."""

    def __init__(self) -> None:
        self.sign_ins = 0
        self.successes = 0
        self.months: Counter[str] = Counter()
        self.month_successes: Counter[str] = Counter()
        self.last_success: datetime | None = None
        self.countries: Counter[str] = Counter()
        self.networks: Counter[str] = Counter()
        self.devices: Counter[str] = Counter()
        self.applications: Counter[str] = Counter()
        self.single_factor = 0
        self.legacy: Counter[str] = Counter()
        self.unmanaged = 0
        self.device_unknown = 0
        self.failures = 0
        self.lockouts = 0

    def add_all(self, sign_ins: Sequence[SignIn]) -> None:
        for sign_in in sign_ins:
            self.add(sign_in)

    def add(self, sign_in: SignIn) -> None:
        self.sign_ins += 1
        month = sign_in.created_date_time.strftime("%Y-%m")
        self.months[month] += 1
        code = sign_in.error_code
        if code == 0:
            self.successes += 1
            self.month_successes[month] += 1
            if self.last_success is None or sign_in.created_date_time > self.last_success:
                self.last_success = sign_in.created_date_time
            if sign_in.authentication_requirement == SINGLE_FACTOR and \
                    sign_in.is_interactive is not False:
                self.single_factor += 1
        elif code in FAILURE_CODES:
            self.failures += 1
            self.lockouts += code in LOCKOUT_CODES
        if sign_in.country:
            self.countries[sign_in.country] += 1
        if sign_in.autonomous_system_number:
            self.networks[f"AS{sign_in.autonomous_system_number}"] += 1
        elif sign_in.ip_address:
            self.networks[sign_in.ip_address] += 1
        device = sign_in.device_detail
        name = device and (device.display_name or device.device_id)
        if name:
            self.devices[name] += 1
        if sign_in.app_display_name or sign_in.app_id:
            self.applications[sign_in.app_display_name or sign_in.app_id or ""] += 1
        if is_legacy(sign_in):
            self.legacy[(sign_in.client_app_used or "").strip()] += 1
        state = device_state(sign_in)
        if state is None:
            self.device_unknown += 1
        elif not state:
            self.unmanaged += 1

    def by_month(self, months: Sequence[str]) -> list[MonthCount]:
        """One entry per month of the period, months without sign-ins included."""
        return [MonthCount(month=m, sign_ins=self.months[m],
                           successful_sign_ins=self.month_successes[m]) for m in months]


def most_common(counter: Counter[str]) -> list[str]:
    """The SHOWN most frequent values, most frequent first (ties by name)."""
    return [name for name, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:SHOWN]]


def months_of(start: datetime, end: datetime) -> list[str]:
    """The months a period touches, "YYYY-MM", in order."""
    months: list[str] = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months
