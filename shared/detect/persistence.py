"""persistence: what the attacker changed after a suspicious sign-in, tied to it.

What it catches: after getting in, attackers register their own authenticator (AiTM kits do it
within minutes, automatically), consent a mail-reading app, add a forwarding or deleting inbox
rule, reset the password or register a device. A password reset with the attacker's
authenticator still registered hands the account back through self-service reset, so the
verdict and the containment must name these changes. Microsoft Sentinel ships "Suspicious
sign-in followed by MFA modification"; Entra ID Protection raises "Suspicious inbox
manipulation rules"; CIPP's alerts poll the audit log for "User registered security info".

How a change is tied to a suspicious sign-in (a successful sign-in that another finding cites):
- made from the same address as that sign-in: tied, `high` (what, when, from where, how long
  after);
- made from an address outside the user's familiar networks (baseline /24 or /48 prefixes,
  the tenant's trusted named locations) within `persistence_tie_minutes` (60) after it: tied by
  time, `medium`;
- made from the user's familiar network: context, not a finding (a new phone set up at the
  office the morning after is the user's own);
- inbox rules carry no creation time in Graph: a rule that forwards outside the organisation is
  `high` and one that deletes or hides mail `medium` for a user with a suspicious sign-in;
  without one, `low` (worth a glance).
A method whose own creation time (microsoftAuthenticator, fido2 ...) falls within the tie time
of the suspicious sign-in counts even when the audit log was not read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from shared.baseline import network_prefix
from shared.detect import wording
from shared.detect.context import DetectionContext
from shared.model import Finding, ObjectRef, Severity, SignIn
from shared.persistence.activities import DESCRIBED, Kind, kind_of, method_named
from shared.persistence.records import AuditEvent, AuthMethod, Followed
from shared.persistence.rules import suspicion

TYPE = "persistence"
# A method created this close to a tied "registered security info" row is the method it added.
METHOD_MATCH = timedelta(minutes=5)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def suspicious_sign_ins(sign_ins: Sequence[SignIn], findings: Sequence[Finding]
                        ) -> list[SignIn]:
    """Successful sign-ins that a finding (not context, not persistence) cites, in time order."""
    cited = {i for f in findings if not f.context and f.type != TYPE for i in f.sign_in_ids}
    return [s for s in sign_ins if s.id in cited and s.error_code == 0]


def familiar(ip: str | None, context: DetectionContext) -> bool:
    """Whether an address is one of the user's usual networks or a trusted named location."""
    if not ip:
        return False
    if context.trusted.range_of(ip):
        return True
    baseline = context.baseline
    prefix = network_prefix(ip)
    return bool(baseline is not None and prefix and prefix in baseline.prefixes)


def _tie(moment: datetime, ip: str | None, suspicious: list[SignIn],
         context: DetectionContext) -> tuple[SignIn, str] | None:
    """The suspicious sign-in a change at `moment` from `ip` follows, and how ("address" or
    "time"); None when nothing ties it or it came from a familiar network."""
    before = [s for s in suspicious if _utc(s.created_date_time) <= moment]
    if not before:
        return None
    same = [s for s in before if ip and s.ip_address == ip]
    if same:
        return same[-1], "address"
    if familiar(ip, context):
        return None
    limit = timedelta(minutes=context.settings.persistence_tie_minutes)
    close = [s for s in before if moment - _utc(s.created_date_time) <= limit]
    return (close[-1], "time") if close else None


def _after(moment: datetime, sign_in: SignIn) -> str:
    return wording.duration((moment - _utc(sign_in.created_date_time)).total_seconds())


def _what(event: AuditEvent, kind: Kind) -> str:
    described = DESCRIBED[kind]
    if kind in ("method_added", "method_removed"):
        method = method_named(event)
        return f"{described} ({method})" if method else described
    if kind in ("consent", "grant"):
        app = event.app_name()
        return f"{described} ({app})" if app else described
    return described


def _methods_near(moment: datetime, methods: list[AuthMethod]) -> list[AuthMethod]:
    return [m for m in methods if m.created_date_time is not None and m.kind != "password"
            and abs(_utc(m.created_date_time) - moment) <= METHOD_MATCH]


def _objects(event: AuditEvent, kind: Kind, followed: Followed) -> list[ObjectRef]:
    moment = _utc(event.activity_date_time)
    if kind == "method_added":
        return [ObjectRef("method", m.id, m.label)
                for m in _methods_near(moment, followed.methods or [])]
    if kind in ("consent", "grant"):
        target = event.app_target_id()
        if not target:
            return []
        name = event.app_name() or target
        if followed.grants is None:  # not read: the application is named, not a grant id
            return [ObjectRef("grant", target, name)]
        return [ObjectRef("grant", g.id, f"{name} ({g.scope.strip()})" if g.scope else name)
                for g in followed.grants
                if g.client_id.lower() == target.lower() and g.consent_type == "Principal"]
    return []


def _event_finding(event: AuditEvent, kind: Kind, sign_in: SignIn, how: str,
                   followed: Followed) -> Finding:
    moment = _utc(event.activity_date_time)
    where = event.ip_address
    who = event.initiator_user
    by = f" by {who.user_principal_name}" if who is not None and who.user_principal_name else ""
    if how == "address":
        severity: Severity = "high"
        tie = f"from the same address ({where})"
    else:
        severity = "medium"
        tie = (f"from {where}, an address outside the user's usual networks" if where
               else "from an unrecorded address")
    summary = (
        f"{_upper(_what(event, kind))} at {wording.when(moment)}{by}, {_after(moment, sign_in)} "
        f"after the suspicious sign-in at {wording.when(sign_in.created_date_time)} from "
        f"{wording.origin(sign_in)}, {tie} ({event.activity_display_name})."
    )
    if kind == "method_added":
        summary = summary[:-1] + ": an attacker's method survives a password reset."
    return Finding(type=TYPE, severity=severity, summary=summary, sign_in_ids=[sign_in.id],
                   got_in=True, objects=_objects(event, kind, followed))


def _upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def _context_finding(event: AuditEvent, kind: Kind) -> Finding:
    moment = _utc(event.activity_date_time)
    return Finding(
        type=TYPE, severity="low", context=True, sign_in_ids=[],
        summary=(f"{_upper(_what(event, kind))} at {wording.when(moment)} from "
                 f"{event.ip_address}, one of the user's usual networks or a trusted location: "
                 "a change from there is shown for context, not judged."),
    )


def _audit_findings(suspicious: list[SignIn], followed: Followed,
                    context: DetectionContext) -> tuple[list[Finding], set[str]]:
    findings: list[Finding] = []
    matched: set[str] = set()  # methods an audit row already explains
    for event in sorted(followed.audit_events, key=lambda e: e.activity_date_time):
        kind = kind_of(event)
        if kind is None or not event.succeeded:
            continue
        moment = _utc(event.activity_date_time)
        tie = _tie(moment, event.ip_address, suspicious, context)
        if tie is None:
            if familiar(event.ip_address, context) and suspicious \
                    and moment >= _utc(suspicious[0].created_date_time):
                findings.append(_context_finding(event, kind))
            continue
        finding = _event_finding(event, kind, tie[0], tie[1], followed)
        matched.update(o.id for o in finding.objects if o.kind == "method")
        findings.append(finding)
    return findings, matched


def _method_findings(suspicious: list[SignIn], followed: Followed, matched: set[str],
                     context: DetectionContext) -> list[Finding]:
    """Methods whose creation time ties them to a suspicious sign-in, not already explained by
    an audit row (the audit log not read or not exported)."""
    findings = []
    limit = timedelta(minutes=context.settings.persistence_tie_minutes)
    explained = {e.activity_date_time for e in followed.audit_events
                 if kind_of(e) == "method_added"}
    for method in followed.methods or []:
        if method.id in matched or method.created_date_time is None or method.kind == "password":
            continue
        moment = _utc(method.created_date_time)
        if any(abs(_utc(t) - moment) <= METHOD_MATCH for t in explained):
            continue  # an audit row covers it and did not tie it: its address was judged there
        close = [s for s in suspicious
                 if timedelta(0) <= moment - _utc(s.created_date_time) <= limit]
        if not close:
            continue
        sign_in = close[-1]
        findings.append(Finding(
            type=TYPE, severity="medium", got_in=True, sign_in_ids=[sign_in.id],
            objects=[ObjectRef("method", method.id, method.label)],
            summary=(f"The authentication method {method.label} was created at "
                     f"{wording.when(moment)}, {_after(moment, sign_in)} after the suspicious "
                     f"sign-in at {wording.when(sign_in.created_date_time)} from "
                     f"{wording.origin(sign_in)}; no audit row says from where."),
        ))
    return findings


def _rule_findings(suspicious: list[SignIn], followed: Followed) -> list[Finding]:
    findings = []
    ids = [s.id for s in suspicious]
    for rule in followed.rules or []:
        found = suspicion(rule, followed.tenant_domains)
        if found is None:
            continue
        why, external = found
        name = rule.display_name or rule.id
        if suspicious:
            first = suspicious[0]
            severity: Severity = "high" if external else "medium"
            summary = (f"The inbox rule '{name}' {why}; found after the suspicious sign-in at "
                       f"{wording.when(first.created_date_time)} from {wording.origin(first)} "
                       "(Graph gives a rule no creation time).")
        else:
            severity = "low"
            summary = (f"The inbox rule '{name}' {why}; no suspicious sign-in ties it to an "
                       "attacker: worth a glance.")
        findings.append(Finding(type=TYPE, severity=severity, summary=summary,
                                sign_in_ids=ids[:1], got_in=bool(suspicious),
                                objects=[ObjectRef("rule", rule.id, name)]))
    return findings


def detect(sign_ins: Sequence[SignIn], context: DetectionContext,
           findings: Sequence[Finding]) -> list[Finding]:
    """Persistence findings for one user, given the other detections' findings."""
    followed = context.followed
    if followed is None:
        return []
    suspicious = suspicious_sign_ins(sign_ins, findings)
    found, matched = _audit_findings(suspicious, followed, context)
    found += _method_findings(suspicious, followed, matched, context)
    found += _rule_findings(suspicious, followed)
    return found
