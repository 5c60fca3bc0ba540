"""How a sign-in authenticated: legacy protocols (no MFA possible) and the device code flow, as
helpers other modules share and two detections.

Legacy protocols: `clientAppUsed` values Microsoft lists as legacy authentication clients
(Conditional Access conditions, "Legacy authentication clients":
https://learn.microsoft.com/en-us/entra/identity/conditional-access/concept-conditional-access-conditions#legacy-authentication-clients
and "Block legacy authentication":
https://learn.microsoft.com/en-us/entra/identity/conditional-access/policy-block-legacy-authentication).
They carry a password and nothing else: a success over one asked for no MFA.

Device code flow: Graph beta's signIn `authenticationProtocol` is `deviceCode`, or its
`originalTransferMethod` is `deviceCodeFlow`
(https://learn.microsoft.com/en-us/graph/api/resources/signin?view=graph-rest-beta). Device code
phishing has the victim enter an attacker's code on the real sign-in page: the real MFA is
passed, the attacker's poller receives the tokens and uses them from its own infrastructure
(Microsoft Threat Intelligence, "Storm-2372 conducts device code phishing campaign", February
2025: https://www.microsoft.com/en-us/security/blog/2025/02/13/storm-2372-conducts-device-code-phishing-campaign/).
Only the sign-in logs show it.

- `legacy_protocol`: a success over a legacy protocol from a network the user's baseline does
  not hold (its /24 or /48, or its ASN in one of the user's countries; legacy clients send no
  device detail): `medium` (the password alone got in, no MFA was asked), and it
  says so; with another medium finding on the same user the verdict rises to `high`. Without a
  baseline: `low` when the tenant's users rarely or never sign in from its country or network
  (`shared.detect.tenant_baseline`), else nothing (no yardstick, or an ordinary place). From the
  user's own networks (an old mail client at home, a printer's SMTP at the office) or a trusted
  named location: nothing.
- `device_code`: a device-code sign-in that succeeded from a source the user does not use, or
  followed within `DEVICE_CODE_FOLLOW_HOURS` by a successful sign-in of the same application
  (a non-interactive one when the application is not named) from such a source (the tokens used
  elsewhere): `high`. A conference-room
  device signing in by code from the office, its tokens used there: nothing. Without a baseline:
  `low` (worth a glance; nothing says whose sources these are), unless from a trusted location or
  from a country and network the tenant's users sign in from.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from shared.baseline import network_prefix
from shared.detect import wording
from shared.detect.context import DetectionContext
from shared.detect.familiar import own_source
from shared.model import Finding, Severity, SignIn

LEGACY_TYPE = "legacy_protocol"
DEVICE_CODE_TYPE = "device_code"

LEGACY_CLIENTS = frozenset(name.lower() for name in (
    "Authenticated SMTP", "AutoDiscover", "Exchange ActiveSync", "Exchange Online PowerShell",
    "Exchange Web Services", "IMAP4", "MAPI Over HTTP", "Offline Address Book", "Other clients",
    "Outlook Anywhere (RPC over HTTP)", "POP3", "Reporting Web Services", "Universal Outlook",
))
DEVICE_CODE_FOLLOW_HOURS = 24.0


def is_legacy(sign_in: SignIn) -> bool:
    """Whether the sign-in used a legacy authentication client (no MFA possible)."""
    client = sign_in.client_app_used
    return bool(client) and client.strip().lower() in LEGACY_CLIENTS  # type: ignore[union-attr]


def is_device_code(sign_in: SignIn) -> bool:
    """Whether the sign-in used the device code flow (Graph beta fields; v1.0 cannot say)."""
    return (sign_in.authentication_protocol or "").lower() == "devicecode" or \
        (sign_in.original_transfer_method or "").lower() == "devicecodeflow"


def _code(sign_in: SignIn) -> int:
    status = sign_in.status
    return status.error_code if status is not None else 0


def _stranger(sign_in: SignIn, context: DetectionContext) -> bool:
    """Not from the user's own network and device, nor from a trusted named location."""
    if context.trusted.range_of(sign_in.ip_address):
        return False
    return not own_source(sign_in, context.baseline)


def _usual_network(sign_in: SignIn, context: DetectionContext) -> bool:
    """Legacy clients send no device detail: a network the baseline holds (its /24 or /48, or
    its ASN in a country the user signs in from) is the user's own."""
    baseline = context.baseline
    if baseline is None:
        return False
    asn, country = sign_in.autonomous_system_number, sign_in.country
    return network_prefix(sign_in.ip_address) in baseline.prefixes or bool(
        asn and asn in baseline.networks and country and country in baseline.countries)


def _rare_for_tenant(sign_in: SignIn, context: DetectionContext) -> bool:
    """For a user without a baseline: a country or network the tenant's users rarely or never
    sign in from (False without a tenant baseline: nothing to judge by)."""
    tenant = context.tenant_baseline
    if tenant is None:
        return False
    country = sign_in.country
    return bool(country and tenant.rare_country(country)) or tenant.rare_network(sign_in)


def detect_legacy(sign_ins: Sequence[SignIn], context: DetectionContext) -> list[Finding]:
    has_baseline = context.baseline is not None and context.baseline.sign_ins > 0
    found = [s for s in sign_ins if _code(s) == 0 and is_legacy(s) and _stranger(s, context)
             and (not _usual_network(s, context) if has_baseline
                  else _rare_for_tenant(s, context))]
    if not found:
        return []
    severity: Severity = "medium" if has_baseline else "low"
    first = found[0]
    clients = sorted({s.client_app_used or "" for s in found})
    text = (
        f"{wording.count(len(found), 'successful sign-in')} over a legacy protocol "
        f"({wording.listing(clients)}), the first at {wording.when(first.created_date_time)} "
        f"from {wording.origin(first)}, "
        + ("a network the user's baseline does not hold" if has_baseline
           else "a country or network the tenant's users rarely sign in from (the user has no "
           "baseline)")
        + ": legacy protocols ask for no MFA, so the password alone got in"
    )
    return [Finding(LEGACY_TYPE, severity, text + ".", [s.id for s in found], got_in=True)]


def detect_device_code(sign_ins: Sequence[SignIn], context: DetectionContext) -> list[Finding]:
    findings = []
    follow = timedelta(hours=DEVICE_CODE_FOLLOW_HOURS)
    has_baseline = context.baseline is not None and context.baseline.sign_ins > 0
    for code_sign_in in sign_ins:
        if _code(code_sign_in) != 0 or not is_device_code(code_sign_in):
            continue
        at = code_sign_in.created_date_time
        if not has_baseline:
            usual_here = context.tenant_baseline is not None and \
                not _rare_for_tenant(code_sign_in, context)
            if not context.trusted.range_of(code_sign_in.ip_address) and not usual_here:
                findings.append(_unjudged(code_sign_in))
            continue
        used = [
            s for s in sign_ins
            if at < s.created_date_time <= at + follow and _code(s) == 0
            and (s.app_id == code_sign_in.app_id if code_sign_in.app_id
                 else s.is_interactive is False)
            and not is_device_code(s) and _stranger(s, context)
        ]
        stranger = _stranger(code_sign_in, context)
        if not stranger and not used:
            continue
        app = code_sign_in.app_display_name or code_sign_in.app_id or "an application"
        text = (f"Signed in to {app} by device code at {wording.when(at)} from "
                f"{wording.origin(code_sign_in)}")
        if stranger:
            text += ", a source the user does not use"
        if used:
            text += (f"; its tokens were then used from {wording.origin(used[0])} at "
                     f"{wording.when(used[0].created_date_time)}, a source the user does not use")
        text += ": the flow device code phishing takes over (the user passes the real MFA for "
        text += "the attacker's code)"
        findings.append(Finding(DEVICE_CODE_TYPE, "high", text + ".",
                                [code_sign_in.id, *(s.id for s in used)], got_in=True))
    return findings


def _unjudged(sign_in: SignIn) -> Finding:
    """A device-code sign-in of a user without a baseline: nothing says whose sources these are."""
    app = sign_in.app_display_name or sign_in.app_id or "an application"
    text = (f"Signed in to {app} by device code at {wording.when(sign_in.created_date_time)} "
            f"from {wording.origin(sign_in)}, the flow device code phishing takes over; the user "
            "has no baseline to say whether that source, or where its tokens were used, is the "
            "user's own")
    return Finding(DEVICE_CODE_TYPE, "low", text + ".", [sign_in.id], got_in=True)
