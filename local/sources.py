"""The sample tenant's sign-ins behind the source a local run reads: Graph (the emulator, always
loaded), the diagnostic-settings archive written into Azurite, or the Log Analytics emulator.

`sign_in_source(name, tenant, storage, token)` is a context manager that prepares the source
and yields the settings that select it. The archive leaves one hour without a blob (a quiet one,
so verdicts still match Graph's) and keeps every other hour, empty or not.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from local.archive import SAMPLE_TENANT_ID, quiet_hour, write_archive, write_audit_archive
from local.log_analytics_emulator import LogAnalyticsEmulator

if TYPE_CHECKING:
    from local.tenant import Tenant


@contextmanager
def sign_in_source(name: str, tenant: Tenant, storage: str, token: str, *,
                   history: bool = True, row_limit: int | None = None,
                   tenant_id: str = SAMPLE_TENANT_ID) -> Iterator[dict[str, str]]:
    """Prepare source `name` with the tenant's sign-ins (the archive: only the window's hours
    unless `history`); yields its settings."""
    if name == "graph":
        yield {"SIGNIN_SOURCE": "graph"}
    elif name == "archive":
        missing = quiet_hour(tenant.sign_ins, tenant.window.start, tenant.window.end)
        write_archive(storage, tenant.sign_ins, tenant_id=tenant_id, until=tenant.window.end,
                      since=None if history else tenant.window.start,
                      missing=[missing] if missing else [])
        write_audit_archive(storage, tenant.directory_audits, tenant_id=tenant_id)
        yield {"SIGNIN_SOURCE": "archive", "ARCHIVE_CONNECTION_STRING": storage,
               "ARCHIVE_TENANT_ID": tenant_id}
    elif name == "log-analytics":
        emulator = LogAnalyticsEmulator(token=token)
        if row_limit is not None:
            emulator.row_limit = row_limit
        emulator.load(tenant.sign_ins)
        emulator.load_audits(tenant.directory_audits)
        with emulator:
            yield {"SIGNIN_SOURCE": "log-analytics", "LOG_ANALYTICS_ENDPOINT": emulator.endpoint,
                   "LOG_ANALYTICS_WORKSPACE_ID": emulator.workspace_id}
    else:
        raise ValueError(f"unknown sign-in source {name!r}")
