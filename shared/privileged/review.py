"""The quarterly review of privileged accounts: one entry per account, what needs a decision first.

Pure: sign-ins (the privileged accounts' only, history before the period included), the period,
and who holds which role in; a `PrivilegedReview` out. Every account that holds a role is listed,
those without a single sign-in too (dormant: the proposal is to remove the assignment or
eligibility). Order: the highest anomaly verdict first, then dormant accounts, then accounts with
the most exposures (single-factor, legacy protocols, unmanaged devices, lockouts), then the rest
by name. Usage counts come from shared.privileged.usage, anomalies from shared.privileged.weeks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import msgspec

from shared.detect import wording
from shared.detect.context import DetectionSettings
from shared.detect.trusted import TrustedNetworks
from shared.model import (
    Level,
    PrivilegedAccount,
    PrivilegedReview,
    RoleHolding,
    SignIn,
    UserVerdict,
    Window,
    level_rank,
)
from shared.privileged.usage import Usage, months_of, most_common
from shared.privileged.weeks import WeeklyJudgement, judge_weeks

Holdings = Mapping[str, Sequence[RoleHolding]]  # object id or UPN (lower case) -> roles held

ACTION_WORDS = {
    "investigate": "investigate the anomalies",
    "revokeSessions": "revoke the sessions",
    "forcePasswordReset": "force a password reset",
    "confirmCompromised": "confirm the account compromised in Identity Protection",
    "disableAccount": "disable the account",
}


def review_privileged(
    sign_ins: Iterable[SignIn], period: Window, holdings: Holdings, *,
    read: Window | None = None, read_detail: str = "",
    settings: DetectionSettings | None = None, trusted: TrustedNetworks | None = None,
    names: Mapping[str, str] | None = None,
) -> PrivilegedReview:
    """The review of every account in `holdings` over `period` (`read`: the part of the period
    the source could read, the whole period when None; `names`: holder key -> UPN, for accounts
    no sign-in names)."""
    return review_with_verdicts(sign_ins, period, holdings, read=read, read_detail=read_detail,
                                settings=settings, trusted=trusted, names=names)[0]


def review_with_verdicts(
    sign_ins: Iterable[SignIn], period: Window, holdings: Holdings, *,
    read: Window | None = None, read_detail: str = "",
    settings: DetectionSettings | None = None, trusted: TrustedNetworks | None = None,
    names: Mapping[str, str] | None = None,
) -> tuple[PrivilegedReview, list[UserVerdict]]:
    """`review_privileged`, plus the verdict of each account with a week that stood out (its
    worst week's, holding the findings of every week), for the weekend report's user sections."""
    keys = {key.lower(): key for key in holdings}
    mine = [s for s in sign_ins if _holder(s, keys) is not None]
    by_holder: dict[str, list[SignIn]] = {}
    upn_of: dict[str, str] = {}
    id_of: dict[str, str] = {}
    for sign_in in mine:
        holder = _holder(sign_in, keys)
        assert holder is not None
        if period.start <= sign_in.created_date_time <= period.end:
            by_holder.setdefault(holder, []).append(sign_in)
        if sign_in.user_principal_name:
            upn_of.setdefault(holder, sign_in.user_principal_name)
        if sign_in.user_id:
            id_of.setdefault(holder, sign_in.user_id)
    roles = _merged_roles(holdings, keys, mine)
    role_names = {key: sorted({h.role for h in held}) or ["privileged role"]
                  for key, held in roles.items()}
    judged = judge_weeks(mine, period, _by_user_key(mine, keys, role_names),
                         settings=settings, trusted=trusted)
    months = months_of(period.start, period.end)
    accounts = []
    verdicts: list[UserVerdict] = []
    for holder, held in roles.items():
        rows = by_holder.get(holder, [])
        user_key = _user_key(rows[0]) if rows else (id_of.get(holder) or holder)
        weekly = judged.get(user_key) or WeeklyJudgement()
        if weekly.verdict is not None:
            verdicts.append(msgspec.structs.replace(weekly.verdict, findings=weekly.findings))
        accounts.append(_account(holder, held, rows, weekly, months,
                                 user_id=id_of.get(holder, holder),
                                 upn=upn_of.get(holder) or (names or {}).get(holder)
                                 or (holder if "@" in holder else None)))
    accounts.sort(key=_order)
    verdicts.sort(key=lambda v: (-level_rank(v.verdict), (v.user_principal_name or v.user_id)))
    return PrivilegedReview(period=period, read=read or period,
                            read_detail=read_detail or "the whole period",
                            accounts=accounts,
                            unreviewed=[a.user_principal_name or a.user_id for a in accounts]
                            ), verdicts


def _user_key(sign_in: SignIn) -> str:
    return sign_in.user_key


def _holder(sign_in: SignIn, keys: Mapping[str, str]) -> str | None:
    """The holdings key (lower case) a sign-in belongs to: its object id first, then its UPN."""
    for key in ((sign_in.user_id or "").lower(), (sign_in.user_principal_name or "").lower()):
        if key and key in keys:
            return key
    return None


def _merged_roles(holdings: Holdings, keys: Mapping[str, str], mine: Sequence[SignIn]
                  ) -> dict[str, list[RoleHolding]]:
    """Holdings keyed once per account: an account listed by id and by UPN is one entry."""
    alias: dict[str, str] = {}
    for sign_in in mine:
        ids = [k for k in ((sign_in.user_id or "").lower(),
                           (sign_in.user_principal_name or "").lower()) if k in keys]
        for key in ids:
            alias.setdefault(key, ids[0])
    merged: dict[str, list[RoleHolding]] = {}
    for key, held in holdings.items():
        into = merged.setdefault(alias.get(key.lower(), key.lower()), [])
        into.extend(h for h in held if h not in into)
    return merged


def _by_user_key(mine: Sequence[SignIn], keys: Mapping[str, str],
                 role_names: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Role names by the key the review groups users by (object id, else UPN)."""
    found: dict[str, list[str]] = {}
    for sign_in in mine:
        holder = _holder(sign_in, keys)
        if holder is not None and holder in role_names:
            found.setdefault(sign_in.user_key, role_names[holder])
    return found


def _account(holder: str, held: list[RoleHolding], rows: list[SignIn], weekly: WeeklyJudgement,
             months: list[str], *, user_id: str, upn: str | None) -> PrivilegedAccount:
    usage = Usage()
    usage.add_all(rows)
    verdict: Level = weekly.verdict.verdict if weekly.verdict else "none"
    dormant = usage.successes == 0
    account = PrivilegedAccount(
        user_id=user_id, user_principal_name=upn, roles=sorted(held, key=lambda h: h.role),
        sign_ins=usage.sign_ins, successful_sign_ins=usage.successes,
        by_month=usage.by_month(months), last_successful_sign_in=usage.last_success,
        dormant=dormant, countries=most_common(usage.countries),
        networks=most_common(usage.networks), devices=most_common(usage.devices),
        applications=most_common(usage.applications),
        single_factor_sign_ins=usage.single_factor,
        legacy_protocol_sign_ins=sum(usage.legacy.values()),
        legacy_protocols=dict(sorted(usage.legacy.items())),
        unmanaged_device_sign_ins=usage.unmanaged,
        device_state_unknown_sign_ins=usage.device_unknown,
        failures=usage.failures, lockouts=usage.lockouts,
        findings=weekly.findings, anomalous_weeks=weekly.weeks, verdict=verdict,
        reasons=list(weekly.verdict.reasons) if weekly.verdict else [],
        attention=[], proposal=[],
    )
    account.attention = _attention(account)
    account.proposal = _proposal(account, weekly)
    return account


def _attention(a: PrivilegedAccount) -> list[str]:
    found: list[str] = []
    if a.verdict != "none":
        found.append(f"{a.verdict} verdict: anomalies in the week"
                     f"{'s' if len(a.anomalous_weeks) > 1 else ''} of "
                     f"{wording.listing(a.anomalous_weeks)}")
    if a.dormant:
        found.append("dormant: no sign-in at all in the period" if not a.sign_ins
                     else "dormant: no successful sign-in in the period")
    if a.single_factor_sign_ins:
        found.append(f"{wording.count(a.single_factor_sign_ins, 'successful sign-in')} with "
                     "single-factor authentication only")
    if a.legacy_protocol_sign_ins:
        found.append(f"{wording.count(a.legacy_protocol_sign_ins, 'sign-in')} over legacy "
                     f"protocols ({wording.listing(list(a.legacy_protocols))})")
    if a.unmanaged_device_sign_ins:
        found.append(f"{wording.count(a.unmanaged_device_sign_ins, 'sign-in')} from devices "
                     "neither managed nor compliant")
    if a.lockouts:
        found.append(f"{wording.count(a.lockouts, 'lockout')}")
    return found


def _proposal(a: PrivilegedAccount, weekly: WeeklyJudgement) -> list[str]:
    proposal: list[str] = []
    if weekly.verdict is not None:
        proposal.extend(ACTION_WORDS.get(action, action)
                        for action in weekly.verdict.proposed_actions)
    if a.dormant:
        for held in a.roles:
            if held.via:  # held through a role-assignable group (eligible for it, or not)
                what = ("eligibility for " if held.assignment == "eligible" else "") + held.role
                proposal.append(f"remove the membership of group {held.via} granting {what}")
                continue
            how = {"eligible": "the eligibility for", "group": "the membership granting"}.get(
                held.assignment, "the assignment of")
            proposal.append(f"remove {how} {held.role}")
    if a.single_factor_sign_ins:
        proposal.append("require multifactor authentication for this account")
    if a.legacy_protocol_sign_ins:
        proposal.append("block legacy authentication for this account")
    if a.unmanaged_device_sign_ins:
        proposal.append("require a managed or compliant device for administration")
    return proposal or ["keep"]


def _order(a: PrivilegedAccount) -> tuple[int, bool, int, str]:
    return (-level_rank(a.verdict), not a.dormant, -len(a.attention),
            (a.user_principal_name or a.user_id).lower())
