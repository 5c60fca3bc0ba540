"""unfamiliar_location: a country or network (ASN) the user's baseline has never seen, with a
successful or password-validated sign-in.

Why it matters: an attacker with a phished or bought password signs in from their own
infrastructure, rarely from the user's country and never from the user's devices.

Cautions honoured (the design notes' Detections and Baselines sections):
- Empty locations (Microsoft-internal IPs, many non-interactive sign-ins) are never new countries.
- Failures prove nothing about where the user is: only successes and password-validated sign-ins
  (blocked by MFA or Conditional Access after the password) count.
- A traveller keeps their devices: a new country seen with a device id the baseline knows is
  `low`; with a known OS/browser pair only, `medium` (unexplained); with neither, `high`.
  A password validated but stopped by MFA/CA from a new country is `medium`.
- A new network inside a familiar country is at most `low` (hotel Wi-Fi, a new carrier).
- No baseline at all: familiar countries are those the user signed in from successfully on at
  least `unfamiliar_fallback_min_days` days of the window, or the one with most successes;
  findings are then capped at `medium` and say so.
- A sign-in that only reached a prompt (MFA required, keep me signed in, device or CA prompts:
  `codes.PROMPT_CODES`) completed nothing: alone it never says anyone got in, and without a
  baseline it is at most `low` (the real user meets these prompts daily).
- The tenant's trusted named locations are familiar to everyone: a sign-in from a trusted range
  (a VPN egress abroad, an office) or a trusted country is never unfamiliar.
- No baseline but a tenant baseline (`shared.detect.tenant_baseline`): the user is judged against
  the tenant's users instead of the user's own window (any user's only sign-in is "new in this
  window"): routine interrupts from the tenant's usual countries and networks are nothing; a
  success from a country or network the tenant rarely or never sees is a finding whose level
  rises with failures before it, with an hour the tenant does not work and with a hosting network
  (`shared.detect.hosting`: a cloud or VPS provider the tenant's users do not use routinely), and
  says so (against a baseline learned from the window alone, only after failures or from a
  hosting network). A success from such a hosting network is a finding even in the tenant's
  usual country.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.baseline import platform_of
from shared.detect import wording
from shared.detect.codes import FAILURE_CODES, is_prompt, password_validated
from shared.detect.context import DetectionContext
from shared.detect.tenant_baseline import TenantBaseline
from shared.model import Finding, Severity, SignIn

TYPE = "unfamiliar_location"


def _code(sign_in: SignIn) -> int:
    status = sign_in.status
    return status.error_code if status is not None else 0


def _fallback_countries(sign_ins: Sequence[SignIn], min_days: int) -> set[str]:
    days: dict[str, set[object]] = {}
    successes: dict[str, int] = {}
    for sign_in in sign_ins:
        country = sign_in.country
        if country and _code(sign_in) == 0:
            days.setdefault(country, set()).add(sign_in.created_date_time.date())
            successes[country] = successes.get(country, 0) + 1
    familiar = {country for country, seen in days.items() if len(seen) >= min_days}
    if successes:
        familiar.add(max(successes, key=lambda country: successes[country]))
    return familiar


def _device_severity(sign_in: SignIn, context: DetectionContext) -> Severity:
    baseline = context.baseline
    if baseline is None:
        return "high"
    device = sign_in.device_id
    if device and device in baseline.devices:
        return "low"
    platform = platform_of(sign_in)
    if platform and platform in baseline.platforms:
        return "medium"
    return "high"


def detect(sign_ins: Sequence[SignIn], context: DetectionContext) -> list[Finding]:
    baseline = context.baseline
    has_baseline = baseline is not None and baseline.sign_ins > 0
    if not has_baseline and context.tenant_baseline is not None:
        return _against_tenant(sign_ins, context, context.tenant_baseline)
    familiar = (
        set(baseline.countries) if baseline is not None and has_baseline
        else _fallback_countries(sign_ins, context.settings.unfamiliar_fallback_min_days)
    )
    networks = baseline.networks if baseline is not None and has_baseline else {}
    new_countries: dict[str, list[SignIn]] = {}
    new_networks: dict[int, list[SignIn]] = {}
    trusted = context.trusted if context.trusted else None
    for sign_in in sign_ins:
        location = sign_in.location
        if location is None or not location.country_or_region:
            continue
        code = _code(sign_in)
        if code != 0 and not password_validated(code):
            continue
        if trusted is not None and (
            trusted.range_of(sign_in.ip_address) or trusted.country_of(location.country_or_region)
        ):
            continue
        country = location.country_or_region
        if country not in familiar:
            new_countries.setdefault(country, []).append(sign_in)
        elif networks and sign_in.autonomous_system_number and code == 0 \
                and sign_in.autonomous_system_number not in networks:
            new_networks.setdefault(sign_in.autonomous_system_number, []).append(sign_in)
    findings = [
        _country_finding(country, seen, context, has_baseline)
        for country, seen in new_countries.items()
    ]
    findings.extend(_network_finding(asn, seen) for asn, seen in new_networks.items())
    return findings


def _country_finding(
    country: str, seen: list[SignIn], context: DetectionContext, has_baseline: bool
) -> Finding:
    successes = [sign_in for sign_in in seen if _code(sign_in) == 0]
    prompts_only = not successes and all(is_prompt(_code(sign_in)) for sign_in in seen)
    ranked = {"low": 0, "medium": 1, "high": 2}
    severity: Severity
    if successes:
        severity = max(
            (_device_severity(s, context) for s in successes), key=lambda level: ranked[level]
        )
    else:
        severity = "low" if prompts_only and not has_baseline else "medium"
    if not has_baseline and severity == "high":
        severity = "medium"
    first = successes[0] if successes else seen[0]
    where = wording.origin(first)
    if first.coordinates is None and not first.city:
        where += " (coarse evidence: country only)"
    if successes:
        text = (
            f"{wording.count(len(successes), 'successful sign-in')} from {country}, a country "
            f"{'the baseline has never seen' if has_baseline else 'new in this window'}, "
            f"the first at {wording.when(first.created_date_time)} from {where}"
        )
        if has_baseline:
            text += {
                "low": " on a device the user has used before",
                "medium": " on an unfamiliar device with the user's usual system and browser",
                "high": " on a device and browser the user has never used",
            }[_device_severity(first, context)]
    elif prompts_only:
        codes = sorted({_code(sign_in) for sign_in in seen})
        text = (
            f"{wording.count(len(seen), 'sign-in attempt')} from {country}, a country "
            f"{'the baseline has never seen' if has_baseline else 'new in this window'}, "
            f"stopped at a prompt ({', '.join(map(str, codes))}; the first at "
            f"{wording.when(first.created_date_time)} from {where}) and none completed"
        )
    else:
        text = (
            f"The password was validated from {country} "
            f"({wording.count(len(seen), 'sign-in')}, the first at "
            f"{wording.when(first.created_date_time)} from {where}) but MFA or Conditional Access "
            "stopped it"
        )
    if not has_baseline:
        text += "; no baseline exists, so this compares with the user's own window"
    return Finding(TYPE, severity, text + ".", [s.id for s in seen], got_in=not prompts_only)


def _network_finding(asn: int, seen: list[SignIn]) -> Finding:
    first = seen[0]
    text = (
        f"{wording.count(len(seen), 'successful sign-in')} from network AS{asn}, new for this "
        f"user in a familiar country, the first at {wording.when(first.created_date_time)} "
        f"from {wording.origin(first)}."
    )
    return Finding(TYPE, "low", text, [s.id for s in seen], got_in=True)


_LEVELS: tuple[Severity, ...] = ("low", "medium", "high")


def _against_tenant(sign_ins: Sequence[SignIn], context: DetectionContext,
                    tenant: TenantBaseline) -> list[Finding]:
    """A user without a history, judged against the tenant's baseline: a success (or a
    validated password) from a country the tenant rarely or never sees, or from a network
    (ASN) it rarely sees, is a finding; `low`, `medium` when the tenant has never seen the
    country, one level more for each of: credential failures before it in the window, an hour
    the tenant's users do not work at, a hosting network the tenant does not use routinely (which
    alone makes a finding, `medium`, in any country). Prompts alone from such a place are `low`;
    anything else from the tenant's usual countries and networks is nothing. Against a baseline
    learned from the window alone (no history anywhere), a rare place is a finding only after
    failures or from a hosting network."""
    trusted = context.trusted if context.trusted else None
    seen: dict[str, list[SignIn]] = {}
    failed_before: float | None = None
    own: dict[str, int] = {}  # learned from the window, the tenant's counts hold the user's own
    own_networks: dict[int, int] = {}
    if tenant.from_window:
        for sign_in in sign_ins:
            if _code(sign_in) == 0 and sign_in.country:
                own[sign_in.country] = own.get(sign_in.country, 0) + 1
            if _code(sign_in) == 0 and (asn := sign_in.autonomous_system_number):
                own_networks[asn] = own_networks.get(asn, 0) + 1
    own_total = sum(own.values())
    hosting: dict[str, str] = {}  # where -> the hosting provider a sign-in there came from
    for sign_in in sign_ins:
        code = _code(sign_in)
        if code in FAILURE_CODES and failed_before is None:
            failed_before = sign_in.created_date_time.timestamp()
        if code != 0 and not password_validated(code):
            continue
        country = sign_in.country
        if trusted is not None and (trusted.range_of(sign_in.ip_address)
                                    or (country and trusted.country_of(country))):
            continue
        rare_country = bool(country) and tenant.rare_country(
            country or "", own.get(country or "", 0), own_total)
        asn = sign_in.autonomous_system_number
        provider = tenant.unusual_hosting(sign_in, own_networks.get(asn or 0, 0))
        rare = rare_country or tenant.rare_network(sign_in)
        if provider and not rare and is_prompt(code):
            continue  # a prompt completed nothing: from the tenant's usual places, nothing
        if rare or provider:
            key = country if rare_country and country else f"AS{asn}"
            seen.setdefault(key, []).append(sign_in)
            if provider:
                hosting.setdefault(key, f"{provider}, AS{asn}")
    found = (_tenant_finding(where, rows, tenant, failed_before, hosting.get(where))
             for where, rows in seen.items())
    return [finding for finding in found if finding is not None]


def _tenant_finding(where: str, seen: list[SignIn], tenant: TenantBaseline,
                    failed_before: float | None, hosting: str | None = None) -> Finding | None:
    successes = [sign_in for sign_in in seen if _code(sign_in) == 0]
    first = successes[0] if successes else seen[0]
    prompts_only = not successes and all(is_prompt(_code(sign_in)) for sign_in in seen)
    is_country = not where.startswith("AS")
    # learned from the window, the tenant's count includes this user's own successes there
    own = len(successes) if tenant.from_window else 0
    never = is_country and tenant.countries.get(where, 0) <= own
    why = []
    if failed_before is not None and failed_before <= first.created_date_time.timestamp():
        why.append("after credential failures")
    if tenant.night(first.created_date_time.hour):
        why.append(f"at {first.created_date_time:%H}:00 UTC, when the tenant's users do not "
                   "work")
    if hosting:
        why.append(f"from a hosting network ({hosting}: rented servers)")
    if tenant.from_window and not why:
        return None  # a window alone is a weak yardstick: a rare place needs failures before it
    level = 0 if prompts_only else min(len(_LEVELS) - 1, int(never) + len(why))
    rarely = "rarely" if tenant.rare_network(first) else "seldom"
    place = (f"{where}, a country the tenant's users {'never' if never else 'rarely'} sign in "
             "from" if is_country else f"network {where}, which the tenant's users {rarely} sign "
             "in from")
    if successes:
        text = (f"{wording.count(len(successes), 'successful sign-in')} from {place}, the first "
                f"at {wording.when(first.created_date_time)} from {wording.origin(first)}")
    elif prompts_only:
        text = (f"{wording.count(len(seen), 'sign-in attempt')} from {place}, stopped at a prompt "
                f"(the first at {wording.when(first.created_date_time)} from "
                f"{wording.origin(first)}) and none completed")
    else:
        text = (f"The password was validated from {place} (the first at "
                f"{wording.when(first.created_date_time)} from {wording.origin(first)}) but MFA "
                "or Conditional Access stopped it")
    if why and not prompts_only:
        text += ", " + " and ".join(why)
    learned = "this window's sign-ins" if tenant.from_window else "their history"
    text += (f"; the user has no history, so this was judged against the tenant's "
             f"{tenant.users:,} users ({learned})")
    return Finding(TYPE, _LEVELS[level], text + ".", [s.id for s in seen],
                   got_in=not prompts_only)
