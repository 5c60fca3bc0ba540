"""password_spray: the user was among many accounts failed from one IP or network in a short time.

Why it matters: spraying tries one or two common passwords against many accounts, staying under
each account's lockout; per-user counts never see it, the tenant-wide pass
(`shared.detect.context.TenantSignals`) does.

Thresholds: one IP failing >= 5 distinct users within 20 minutes, kept only when its failed
users outnumber the users who signed in successfully from it (a busy office NAT is not a
sprayer); a network (ASN) spreading over several IPs needs >= 10 users (established spray rules;
`spray_min_users`, `spray_window_minutes`, `spray_network_min_users`).
Severity: `high` when this user then signed in, or had the password validated, from the spraying
source (the spray worked); `low` when the user was only targeted and nothing succeeded.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.detect import wording
from shared.detect.codes import FAILURE_CODES, password_known
from shared.detect.context import DetectionContext, SpraySource
from shared.model import Finding, SignIn

TYPE = "password_spray"


def _code(sign_in: SignIn) -> int:
    status = sign_in.status
    return status.error_code if status is not None else 0


def _from(source: SpraySource, sign_in: SignIn) -> bool:
    if source.kind == "ip":
        return sign_in.ip_address == source.ip
    return sign_in.autonomous_system_number == source.network


def detect(sign_ins: Sequence[SignIn], context: DetectionContext) -> list[Finding]:
    user = context.user_id or (sign_ins[0].user_key if sign_ins else "")
    findings = []
    for source in context.tenant.sources_for(user):
        mine = [sign_in for sign_in in sign_ins if _from(source, sign_in)]
        failures = [sign_in for sign_in in mine if _code(sign_in) in FAILURE_CODES]
        wins = [
            sign_in for sign_in in mine
            if password_known(_code(sign_in)) and sign_in.created_date_time >= source.first
        ]
        text = (
            f"{source.label} failed {wording.count(len(source.failed_users), 'account')} "
            f"{wording.span(source.first, source.last)}, this user among them"
            f" ({wording.count(len(failures), 'failure')})"
        )
        ids = [sign_in.id for sign_in in failures]
        if wins:
            first = wins[0]
            got = "signed in" if _code(first) == 0 else "had the password validated"
            text += (
                f"; the same source then {got} as this user at "
                f"{wording.when(first.created_date_time)}: the spray worked"
            )
            ids.extend(sign_in.id for sign_in in wins)
            findings.append(Finding(TYPE, "high", text + ".", ids, got_in=True))
        else:
            text += "; no sign-in from it succeeded, so the attacker did not get in"
            findings.append(Finding(TYPE, "low", text + ".", ids))
    return findings
