"""Test switches: throttling, a tenant without premium licences, missing permissions, injected
5xx, dropped connections and slow answers. All off by default; `GraphEmulator.configure(**switches)`
(or POST /_emulator/configure with a JSON object) sets them, `reset()` turns them all off.

Deterministic faults (what tests should use: they hold however fast or slow the client is):

    fail_next=(503, 500)        the next matching requests answer these statuses, in order
    fail_path="/v1.0/auditLogs/signIns"   which requests fail_next counts (None: every request)
    throttle_at=(3, 5)          the 3rd and 5th matching request answer 429 TooManyRequests
    throttle_at={2: "2.128", 4: None}     ... with this Retry-After ("2.128" sent as is; None: no
                                header); a number without a value sends what its endpoint family
                                sends (signIns "1", Identity Protection none)
    throttle_at=range(n + 1, n + 1 + k)   "after n requests, throttle the next k"
    throttle_path="/auditLogs/signIns"    which requests throttle_at counts (None: every request)
    drop_next=2                 the next 2 requests lose their connection before any answer
    delay_s=0.05                every answer waits this long first
    hold_path="/auditLogs/signIns"  matching requests get no answer until `release_held()` (or
                                reset()); `held` is set once one waits: a worker can be killed
                                mid-request. Graph does this to long filtered signIns queries,
                                which often get no answer within ~300 s (msgraph-sdk-powershell
                                issues #3146 and #2941; REFERENCE.md)

throttle_at counts, from the moment it (or throttle_path) is set, every request on
throttle_path that passes the token check, whatever it is then answered; dropped connections
are not counted. It is checked before fail_next and the switches below.

Wall-clock switches (real Graph behaviour; whether a client meets them depends on its speed, so a
test may assert only what holds on any machine, e.g. "no 429 while pacing at the limit"):

    signin_rate=(5, 10)         signIns: at most 5 requests per sliding 10 s, then 429 with a
                                whole-second Retry-After
    risk_rate=(1, 1)            identityProtection and conditionalAccess (namedLocations): at
                                most 1 per second, then 429 without one
    premium=False, forbidden_paths=("/roleManagement",)   licence and permission 403s

Sources: Microsoft Graph throttling guidance (learn.microsoft.com/graph/throttling): a throttled
request gets 429 with a suggested wait in Retry-After, body code `TooManyRequests`; the service
limits page (learn.microsoft.com/graph/throttling-limits) gives identity and access reports 5
requests per 10 s per app and tenant, and Identity Protection 1 request per second per tenant,
answered with 429 and no Retry-After. The guidance's sample response once carried
`Retry-After: 2.128` (microsoftgraph/microsoft-graph-docs issue #17442), so a client must read a
fractional value.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field, fields, replace
from typing import Any

from local.graph_emulator.responses import GraphFault
from local.graph_emulator.tenancy import (
    TENANCY_SWITCHES,
    audit_log_fault,
    identity_protection_fault,
    licence_fault,
    retry_after,
    slow_query_fault,
    tenancy_value,
    tier_refuses,
)

SIGN_INS = "auditlogs/signins"
IDENTITY_PROTECTION = "identityprotection/"
# Conditional Access shares Identity Protection's limit: "Identity protection and conditional
# access", 1 request per second per tenant, 429s possibly without Retry-After (Graph docs,
# includes/throttling-identityprotection-ca.md; REFERENCE.md).
CONDITIONAL_ACCESS = "identity/conditionalaccess/"

FAILURE_CODES = {
    500: ("generalException", "General exception while processing."),
    502: ("badGateway", "The server received an invalid response from an upstream server."),
    503: ("serviceNotAvailable", "The service is temporarily unavailable. Try again later."),
    504: ("gatewayTimeout", "The server did not receive a timely response from upstream."),
    429: ("TooManyRequests", "Too many requests."),
}


@dataclass(frozen=True)
class Switches:
    signin_rate: tuple[int, float] | None = None   # (requests, period in seconds)
    risk_rate: tuple[int, float] | None = None
    premium: bool = True
    forbidden_paths: tuple[str, ...] = ()
    fail_next: tuple[int, ...] = ()
    fail_path: str | None = None
    drop_next: int = 0
    delay_s: float = 0.0
    hold_path: str | None = None
    # (request number, Retry-After) pairs, sorted; FAMILY_DEFAULT: what the endpoint sends.
    throttle_at: tuple[tuple[int, str | None], ...] = ()
    throttle_path: str | None = None
    # What real tenants do (REFERENCE.md "What real tenants do"; sources cited in tenancy.py).
    tier: str = "P2"                       # "P2", or "P1": risk detections but no risky users
    lowercase_next_link: bool = True       # signIns nextLinks say /auditLogs/signins
    fractional_retry_after: bool = False   # Retry-After: 2.128 instead of whole seconds
    flaky_licence_next: int = 0            # next N signIns answer the licence 403 despite P1
    audit_log_permission: bool = True      # False: 403 Authentication_MSGraphPermissionMissing
    slow_query_hours: float | None = None  # signIns windows longer than this answer 504
    expire_skiptokens: int = 0             # next N requests with a $skiptoken answer 400
    lowercase_upns: bool = False           # sign-ins carry lower-case UPNs, guests' home UPNs
    caller_roles: tuple[str, ...] = ("User Administrator",)  # the remediator's directory roles
    silent_slow_query: bool = False        # slow_query_hours windows get no answer, not a 504
    empty_page_loop: bool = False          # signIns pages after the first: empty, link to self
    repeat_pages: int = 0                  # next N signIns pages are served twice
    next_link_base: str | None = None      # nextLinks point at this origin instead of ours
    history_since: str | None = None       # an upgraded tenant: no sign-ins before this time


SWITCH_NAMES = frozenset(f.name for f in fields(Switches))
FAMILY_DEFAULT = "family default"


def _rate(name: str, value: Any) -> tuple[int, float] | None:
    if value is None:
        return None
    try:
        requests, period = value
        rate = (int(requests), float(period))
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be (requests, period_s), got {value!r}") from None
    if rate[0] < 1 or rate[1] <= 0:
        raise ValueError(f"{name} needs at least 1 request over a positive period")
    return rate


def _throttle_at(value: Any) -> tuple[tuple[int, str | None], ...]:
    """Request numbers (a sequence) or numbers -> Retry-After (a mapping; JSON keys may be text)."""
    if isinstance(value, dict):
        items = [(k, None if v is None else str(v)) for k, v in value.items()]
    else:
        items = [(k, FAMILY_DEFAULT) for k in value or ()]
    try:
        pairs = sorted((int(k), v) for k, v in items)
    except (TypeError, ValueError):
        raise ValueError(f"throttle_at needs request numbers, got {value!r}") from None
    if any(n < 1 for n, _ in pairs):
        raise ValueError("throttle_at counts requests from 1")
    return tuple(pairs)


def checked(current: Switches, changes: dict[str, Any]) -> Switches:
    """`current` with `changes` applied; unknown names raise TypeError, bad values ValueError."""
    unknown = set(changes) - SWITCH_NAMES
    if unknown:
        raise TypeError(f"unknown emulator switch(es): {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if name in TENANCY_SWITCHES:
            values[name] = tenancy_value(name, value)
        elif name in ("signin_rate", "risk_rate"):
            values[name] = _rate(name, value)
        elif name == "premium":
            values[name] = bool(value)
        elif name == "forbidden_paths":
            values[name] = tuple(str(p) for p in value or ())
        elif name == "fail_next":
            values[name] = tuple(int(s) for s in value or ())
        elif name in ("fail_path", "throttle_path", "hold_path"):
            values[name] = None if value is None else str(value)
        elif name == "throttle_at":
            values[name] = _throttle_at(value)
        elif name == "drop_next":
            values[name] = max(0, int(value))
        else:
            values[name] = max(0.0, float(value))
    return replace(current, **values)


def matches(prefix: str, version: str, rel_path: str) -> bool:
    """Whether a path prefix from a switch names this request ("/beta/users", "auditLogs")."""
    want = prefix.strip("/").lower()
    head, _, rest = want.partition("/")
    if head in ("v1.0", "beta"):
        if head != version.lower():
            return False
        want = rest
    return rel_path.strip("/").lower().startswith(want)


def on_path(prefix: str | None, version: str, rel_path: str) -> bool:
    """Whether a switch limited to `prefix` (None: every request) counts this request."""
    return prefix is None or matches(prefix, version, rel_path)


@dataclass
class _Window:
    """Sliding-window log of accepted requests for one throttled family of endpoints."""

    times: deque[float] = field(default_factory=deque)
    admitted: list[float] = field(default_factory=list)  # every admission, for tests

    def admit(self, now: float, requests: int, period: float) -> float:
        """0 when the request may go ahead (and is counted), else seconds until it may."""
        while self.times and self.times[0] <= now - period:
            self.times.popleft()
        if len(self.times) < requests:
            self.times.append(now)
            self.admitted.append(now)
            return 0.0
        return self.times[0] + period - now


class Faults:
    """The switches in force and the counters they consume; safe across server threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.switches = Switches()
        self._signins = _Window()
        self._risk = _Window()
        self._throttle_seen = 0  # requests counted for throttle_at since it was set
        self.held = threading.Event()  # a request on hold_path is waiting
        self._release = threading.Event()

    def configure(self, changes: dict[str, Any]) -> None:
        with self._lock:
            self.switches = checked(self.switches, changes)
            if {"throttle_at", "throttle_path"} & set(changes):
                self._throttle_seen = 0
            if "hold_path" in changes:
                self._release_held()

    def _release_held(self) -> None:
        self._release.set()  # whatever waits now goes on
        self._release = threading.Event()
        self.held = threading.Event()

    def release_held(self) -> None:
        """Answer the requests hold_path is holding (and hold no more)."""
        with self._lock:
            self.switches = replace(self.switches, hold_path=None)
            self._release_held()

    def hold(self, version: str, rel_path: str, guard_s: float = 600.0) -> None:
        """Wait, unanswered, while hold_path matches this request (`guard_s`: a hang guard)."""
        with self._lock:
            prefix = self.switches.hold_path
            if prefix is None or not on_path(prefix, version, rel_path):
                return
            release, held = self._release, self.held
        held.set()
        release.wait(guard_s)

    def reset(self) -> None:
        with self._lock:
            self._release_held()
            self.switches = Switches()
            self._signins = _Window()
            self._risk = _Window()
            self._throttle_seen = 0

    def take_drop(self) -> bool:
        with self._lock:
            if self.switches.drop_next <= 0:
                return False
            self.switches = replace(self.switches, drop_next=self.switches.drop_next - 1)
            return True

    def delay(self) -> float:
        return self.switches.delay_s

    def take_injected(self, version: str, rel_path: str) -> GraphFault | None:
        """The deterministic fault this request is answered with, if any: throttle_at, then
        fail_next."""
        throttled = self.take_throttle(version, rel_path)
        if throttled is not None:
            return throttled
        status = self.take_failure(version, rel_path)
        return None if status is None else failure(status, rel_path)

    def take_throttle(self, version: str, rel_path: str) -> GraphFault | None:
        with self._lock:
            sw = self.switches
            if not sw.throttle_at or not on_path(sw.throttle_path, version, rel_path):
                return None
            self._throttle_seen += 1
            number = self._throttle_seen
        chosen = dict(sw.throttle_at)
        if number not in chosen:
            return None
        retry_after = chosen[number]
        if retry_after == FAMILY_DEFAULT:
            return failure(429, rel_path)
        headers = {} if retry_after is None else {"Retry-After": retry_after}
        return GraphFault(429, *FAILURE_CODES[429], headers)

    def take_failure(self, version: str, rel_path: str) -> int | None:
        with self._lock:
            sw = self.switches
            if not sw.fail_next or not on_path(sw.fail_path, version, rel_path):
                return None
            self.switches = replace(sw, fail_next=sw.fail_next[1:])
            return sw.fail_next[0]

    def admitted_sign_ins(self) -> list[float]:
        """When each signIns request was admitted under `signin_rate` (monotonic seconds)."""
        with self._lock:
            return list(self._signins.admitted)

    def take(self, name: str) -> bool:
        """Consume one of a counting switch (flaky_licence_next, expire_skiptokens)."""
        with self._lock:
            left = getattr(self.switches, name)
            if left <= 0:
                return False
            self.switches = replace(self.switches, **{name: left - 1})
            return True

    def check(self, version: str, rel_path: str) -> None:
        """Raise the fault a request meets before it is served: permission, licence, throttle."""
        sw = self.switches
        rel = rel_path.strip("/").lower()
        if any(matches(prefix, version, rel) for prefix in sw.forbidden_paths):
            if rel.startswith(IDENTITY_PROTECTION):
                raise identity_protection_fault(licence=False)
            raise GraphFault(403, "Authorization_RequestDenied",
                             "Insufficient privileges to complete the operation.")
        if rel.startswith(SIGN_INS):
            self._check_sign_ins(sw)
        if rel.startswith(IDENTITY_PROTECTION) and (not sw.premium or tier_refuses(sw, rel)):
            raise identity_protection_fault(licence=True)
        if sw.risk_rate and rel.startswith((IDENTITY_PROTECTION, CONDITIONAL_ACCESS)):
            with self._lock:
                wait = self._risk.admit(time.monotonic(), *sw.risk_rate)
            if wait > 0:
                raise GraphFault(429, "TooManyRequests", "Too many requests.")

    def check_query(self, rel_path: str, options: dict[str, str]) -> None:
        """Faults that depend on the query: an expired skip token, a signIns window too slow
        to answer (504 after Graph's own ~300 s)."""
        if "skiptoken" in options and self.take("expire_skiptokens"):
            raise GraphFault(400, "BadRequest",
                             "The $skiptoken has expired; start the query again.")
        if rel_path.strip("/").lower().startswith(SIGN_INS) and "skiptoken" not in options:
            slow = slow_query_fault(self.switches, options.get("filter"))
            if slow is not None:
                raise slow

    def _check_sign_ins(self, sw: Switches) -> None:
        refused = audit_log_fault(sw)
        if refused is not None:
            raise refused
        if not sw.premium or self.take("flaky_licence_next"):
            raise licence_fault()
        if sw.signin_rate:
            with self._lock:
                wait = self._signins.admit(time.monotonic(), *sw.signin_rate)
            if wait > 0:
                raise GraphFault(429, "TooManyRequests", "Too many requests.",
                                 {"Retry-After": retry_after(wait, sw)})


def failure(status: int, rel_path: str) -> GraphFault:
    """The fault an injected status is answered with, with Graph's code for it."""
    code, message = FAILURE_CODES.get(status, ("UnknownError", f"Injected status {status}."))
    headers = {}
    if status == 429 and not rel_path.strip("/").lower().startswith(
            (IDENTITY_PROTECTION, CONDITIONAL_ACCESS)):
        headers["Retry-After"] = "1"
    return GraphFault(status, code, message, headers)
