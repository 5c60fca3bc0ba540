"""What followed the window's sign-ins, for the run: read once, kept as evidence, handed to the
`persistence` detection user by user (docs/persistence.md).

- The directory audit log is read once per run, from the window's start until the review runs
  (reports budget: the sign-in limiter), its raw pages written to write-once evidence with their
  SHA-256 (`runs/{run}/audit/NNNN.json`) and the rows that matter kept in the scoring context,
  itself evidence. A one-user review reads the rows the user initiated (initiatedBy/user/id eq,
  directoryaudit-list example 2).
- A user's authentication methods, inbox rules and delegated grants are read only for users at
  low or above after a first scoring, and go into that user's evidence bundle (write-once,
  SHA-256 in the verdict) before the user is scored again with them: nothing is remediated on
  objects that are not evidence.
- Authentication methods spend the reports budget that signIns and directoryAudits spend (5
  requests per 10 s per app per tenant: Graph throttling limits, "Identity and access reports
  service limits"), one request per user: 540 users at low or above are 18 minutes of it. A
  method registered, changed or deleted after the suspicious sign-in is logged as security-info
  activity for the user ("User registered security info", "Admin registered security info", ...;
  shared/persistence/activities.py), and the run's audit log covers the window's start until
  the review. So a user's methods are read only when that log shows security-info activity for
  them, or when the log is not complete (not read, a gap, lines set aside, a read filtered to
  one initiator): then they are read as before, never assumed. A user left unread has the reason
  in their evidence (`unread["methods"]`) and their report entry.
- Inbox rules and grants are not on the reports budget: rules are Outlook's (10,000 requests per
  10 minutes per app per mailbox, 4 at a time), grants the directory's (3,500 to 8,000 resource
  units per 10 s per app and tenant, an unlisted GET costing 1); one request per user each is
  far inside both
  (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits,
  #identity-and-access-service-limits). They are read for every user at low or above.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from shared.detect.context import DetectionSettings
from shared.errors import GraphError
from shared.graph import odata
from shared.graph.persistence import AuditRead, UserObjects, directory_audits, user_objects
from shared.logs import event
from shared.model import DataSource, UserVerdict
from shared.persistence.activities import SECURITY_INFO, kind_of
from shared.persistence.records import AuditEvent, Followed
from shared.services import Services
from shared.sources.audit_archive import read_archived_audit
from shared.sources.audit_log_analytics import read_queried_audit
from shared.store import JSON, EvidenceRef


def audit_page_name(run_id: str, n: int) -> str:
    return f"runs/{run_id}/audit/{n:04d}.json"


class AuditLogRead(NamedTuple):
    """The directory audit log as a run read it."""

    events: list[AuditEvent] | None  # the rows that matter; None when it could not be read
    pages: list[EvidenceRef]  # the raw pages, as evidence
    source: DataSource  # how the report lists it
    # every row of the span, whoever initiated it: no hour missing, no line set aside, not
    # filtered to one initiator
    complete: bool
    # read from Graph: the end of its query, asked as the read began; the log then holds every
    # change older than AUDIT_LATENCY before it. None for the archive and a workspace, whose
    # export and ingestion lags come on top and are not bounded here.
    until: datetime | None = None


def read_audit_log(services: Services, run_id: str, start: datetime, end: datetime,
                   user: str | None = None, source: str | None = None) -> AuditLogRead:
    """The audit log from `start` to `end`. A run reading sign-ins from the archive or a Log
    Analytics workspace reads it there when the AuditLogs category is exported
    (shared/sources/audit_archive.py, audit_log_analytics.py), else from Graph."""
    if source == "archive":
        archived = read_archived_audit(services.settings, start, end)
        if archived is not None:
            refs = [services.store.evidence.put_or_adopt(audit_page_name(run_id, n), body,
                                                         content_type=JSON)[0]
                    for n, (_, body) in enumerate(archived.blobs)]
            events = archived.events
            if user is not None:
                keys = frozenset({user.lower()})
                events = [e for e in events if e.concerns(keys)]
            complete = user is None and not archived.missing_hours and not archived.unreadable
            return AuditLogRead(events, refs,
                                DataSource("directoryAudits", True, archived.detail()), complete)
    if source == "log-analytics":
        queried = read_queried_audit(services.settings, start, end)
        if queried is not None:
            ref = services.store.evidence.put_or_adopt(audit_page_name(run_id, 0), queried.body,
                                                       content_type=JSON)[0]
            events = queried.events
            if user is not None:
                keys = frozenset({user.lower()})
                events = [e for e in events if e.concerns(keys)]
            workspace = services.settings.log_analytics_workspace_id or ""
            complete = user is None and not queried.unreadable
            return AuditLogRead(events, [ref],
                                DataSource("directoryAudits", True, queried.detail(workspace)),
                                complete)

    async def read() -> tuple[AuditRead | None, DataSource]:
        async with services.graph() as graph:
            try:
                found = await directory_audits(graph, start, end, initiator=user)
            except GraphError as exc:
                return None, DataSource("directoryAudits", False, f"unavailable: {exc.message}")
            return (found.value if found.available else None), found.source("directoryAudits")

    audit, described = asyncio.run(read())
    if audit is None:
        event("score.audit_unavailable", detail=described.detail)
        return AuditLogRead(None, [], described, False)
    refs = [services.store.evidence.put_or_adopt(audit_page_name(run_id, n), page,
                                                 content_type=JSON)[0]
            for n, page in enumerate(audit.pages)]
    return AuditLogRead(audit.events, refs, described, user is None, until=end)


def followed_of(audit: Sequence[AuditEvent] | None, user_id: str, upn: str | None,
                objects: UserObjects | None = None, *, domains: Sequence[str] = ()
                ) -> Followed | None:
    """What followed for one user: the audit rows that concern them (None when the log was not
    read and no objects were either) and, when read, their methods, rules and grants. The
    organisation's domains: the tenant's verified `domains` and the user's own UPN domain."""
    if audit is None and objects is None:
        return None
    keys = frozenset({user_id.lower(), (upn or "").lower()} - {""})
    domain = (upn or "").rpartition("@")[2].lower()
    found = Followed(audit_events=[e for e in audit or () if e.concerns(keys)],
                     audit_read=audit is not None,
                     tenant_domains=sorted({*domains, *([domain] if domain else [])}))
    if objects is not None:
        found.methods = objects.methods.value if objects.methods.available else None
        found.rules = objects.rules.value if objects.rules.available else None
        found.grants = objects.grants.value if objects.grants.available else None
        found.unread = objects.unread()
    return found


def needs_objects(verdict: UserVerdict) -> bool:
    """Users whose methods, rules and grants are read: those at low or above."""
    return verdict.verdict != "none"


# How late a directory audit row may reach the log: Microsoft's report-latency page gives p99
# about 5 minutes for sign-ins (REFERENCE.md, "Sign-in latency"), rows can come much later in an
# incident; this margin is generous on purpose.
AUDIT_LATENCY = timedelta(minutes=30)


def methods_unread_reason(audit: Sequence[AuditEvent] | None, complete: bool, user_id: str,
                          upn: str | None, since: datetime, *, window_end: datetime,
                          last_sign_in: datetime | None, audit_until: datetime | None = None
                          ) -> str | None:
    """Why the user's authentication methods need not be read (None: read them): the audit log,
    complete from `since`, shows no security-info activity for the user, whatever its result. A
    log not read or not complete leaves them to be read, and so does a successful sign-in (what
    the detection ties a change to; `last_sign_in` is the latest) so close to the
    window's end (the audit read ends later still) that a method created within the persistence
    tie time after it may not be in the log yet (the detection ties a method by its creation
    time alone only within that time). Measured from `audit_until`, when Graph's log was read
    (`AuditLogRead.until`, never before the window's end), rather than the window's end: a run
    whose fetch took half an hour reads that much fewer users for it."""
    if audit is None or not complete:
        return None
    tie = timedelta(minutes=DetectionSettings().persistence_tie_minutes)
    settled = max(window_end, audit_until) if audit_until is not None else window_end
    if last_sign_in is not None and last_sign_in >= settled - tie - AUDIT_LATENCY:
        return None
    keys = frozenset({user_id.lower(), (upn or "").lower()} - {""})
    if any(kind_of(e) in SECURITY_INFO and e.concerns(keys) for e in audit):
        return None
    return f"no security-info change in the directory audit log since {since:%Y-%m-%d %H:%M} UTC"


def read_objects(services: Services, user_ids: Sequence[str],
                 skip_methods: Mapping[str, str] | None = None) -> dict[str, UserObjects]:
    """Each user's methods, rules and grants now (object ids only: Graph addresses users by id
    or UPN, and the review keys users by object id); the methods of a user in `skip_methods`
    are not read, its value recorded as why."""
    wanted = [u for u in user_ids if odata.is_guid(u)]
    skipped = skip_methods or {}

    async def read() -> dict[str, UserObjects]:
        async with services.graph() as graph:
            return {user: await user_objects(graph, user, skip_methods=skipped.get(user))
                    for user in wanted}

    return asyncio.run(read()) if wanted else {}
