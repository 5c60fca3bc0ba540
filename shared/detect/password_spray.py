"""password_spray: the user was among the accounts a spraying source tried in the window.

Why it matters: spraying tries one or two common passwords against many accounts, staying under
each account's lockout; per-user counts never see it, the tenant-wide pass does. Sprays also go
slowly on purpose, so a source is judged over the whole window (`shared.detect.campaigns`): once
it is known to be spraying, every account it tried is among its targets, and the finding states
the campaign's extent (first and last attempt, accounts tried, accounts where it succeeded).

Thresholds: one IP failing >= 5 distinct users within 20 minutes, or a network (ASN) spreading
over several IPs >= 10 (established spray rules; `spray_*`); or, over the whole window, an IP
failing >= 6 accounts, a network >= 10, a cluster of addresses sharing one user agent and timing
>= 10 (`campaign_*`). Failed accounts must outnumber those that signed in from the source (a busy
office NAT is not a sprayer), and trusted named locations are never a source.
Severity: `high` when this user then signed in, or had the password validated, from the spraying
source (the spray worked) on a network or device the user's baseline does not hold; `low` when
the user was only targeted and nothing succeeded, or succeeded only from the user's own network
and device. No finding when the user's failures and successes from the source all came from the
user's own network and device (`shared.detect.familiar`): people mistyping at home are not a
spray's targets, however many of them share an address or a browser build.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.detect import wording
from shared.detect.campaigns import Campaign
from shared.detect.codes import FAILURE_CODES, password_known
from shared.detect.context import DetectionContext
from shared.detect.familiar import own_source
from shared.model import Finding, SignIn

TYPE = "password_spray"


def _code(sign_in: SignIn) -> int:
    status = sign_in.status
    return status.error_code if status is not None else 0


def extent(campaign: Campaign) -> str:
    """"AS64500 (5 addresses) tried 40 accounts between ... and ..., succeeding on 1"."""
    where = campaign.label
    if campaign.kind == "network":
        where += f" ({wording.count(len(campaign.ips), 'address', 'addresses')})"
    won = len(campaign.succeeded_users)
    return (
        f"a password spray from {where} tried {wording.count(campaign.accounts, 'account')} "
        f"{wording.span(campaign.first, campaign.last)} (first and last attempt) and got in on "
        f"{won if won else 'none'} of them"
    )


def detect(sign_ins: Sequence[SignIn], context: DetectionContext) -> list[Finding]:
    user = context.user_id or (sign_ins[0].user_key if sign_ins else "")
    findings = []
    for campaign in context.tenant.campaigns_for(user):
        ips = set(campaign.ips)
        mine = [sign_in for sign_in in sign_ins if sign_in.ip_address in ips]
        failures = [sign_in for sign_in in mine if _code(sign_in) in FAILURE_CODES]
        wins = [
            sign_in for sign_in in mine
            if password_known(_code(sign_in)) and sign_in.created_date_time >= campaign.first
        ]
        baseline = context.baseline
        if (failures or wins) and all(own_source(s, baseline) for s in [*failures, *wins]):
            continue  # its failures and success come from its own network and device
        at_home = [sign_in for sign_in in wins if own_source(sign_in, baseline)]
        wins = [sign_in for sign_in in wins if not own_source(sign_in, baseline)]
        text = extent(campaign)
        text = text[0].upper() + text[1:]
        text += f"; this user was among them ({wording.count(len(failures), 'failure')})"
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
        elif at_home:
            text += ("; this user's sign-ins from it came from the user's own network and "
                     "device, so it did not get in here")
            findings.append(Finding(TYPE, "low", text + ".", ids))
        else:
            text += "; no sign-in from it succeeded as this user, so it did not get in here"
            findings.append(Finding(TYPE, "low", text + ".", ids))
    return findings
