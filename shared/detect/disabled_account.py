"""disabled_account: sign-in attempts against a disabled account (error 50057).

Why it matters: a disabled account (a leaver, a suspended admin) has no legitimate user; whoever
keeps trying it has an old password list or a foothold elsewhere. The IPs are worth checking
against the rest of the tenant (Sentinel's rule "sign-ins from IPs that attempt sign-ins to
disabled accounts").
Severity: `low` (the account is disabled, nobody got in); `medium` from
`disabled_account_medium_attempts` attempts on; `high` if a sign-in later succeeded from one of
the same IPs (the account was re-enabled and the same source walked in).
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.detect import wording
from shared.detect.context import DetectionContext
from shared.model import Finding, Severity, SignIn

TYPE = "disabled_account"
DISABLED = 50057


def _code(sign_in: SignIn) -> int:
    status = sign_in.status
    return status.error_code if status is not None else 0


def detect(sign_ins: Sequence[SignIn], context: DetectionContext) -> list[Finding]:
    attempts = [sign_in for sign_in in sign_ins if _code(sign_in) == DISABLED]
    if not attempts:
        return []
    ips = {sign_in.ip_address for sign_in in attempts if sign_in.ip_address}
    later = [
        sign_in for sign_in in sign_ins
        if _code(sign_in) == 0 and sign_in.ip_address in ips
        and sign_in.created_date_time > attempts[0].created_date_time
    ]
    severity: Severity = "low"
    if len(attempts) >= context.settings.disabled_account_medium_attempts:
        severity = "medium"
    places = sorted({wording.origin(sign_in) for sign_in in attempts})
    text = (
        f"{wording.count(len(attempts), 'sign-in attempt')} against the disabled account "
        f"{wording.span(attempts[0].created_date_time, attempts[-1].created_date_time)} "
        f"from {wording.listing(places)}"
    )
    ids = [sign_in.id for sign_in in attempts]
    if later:
        severity = "high"
        text += (
            f"; a sign-in then succeeded from the same IP at "
            f"{wording.when(later[0].created_date_time)}"
        )
        ids.append(later[0].id)
    else:
        text += "; the account being disabled, nobody got in"
    return [Finding(TYPE, severity, text + ".", ids, got_in=bool(later))]
