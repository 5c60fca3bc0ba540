"""Microsoft Graph access: client factory, the sign-in stream, directory and risk data,
remediation calls, OData safety.

Importing this package does not import msgraph-sdk or kiota: they load on the first call that
needs them, so the function app's cold start does not pay for them.

    async with connect(settings) as graph:
        async for page in stream_sign_ins(graph, window):
            store(page.body); use(page.sign_ins); remember(page.next_link)
"""

from shared.graph.client import GraphConnection, GraphStats, StaticTokenCredential, connect
from shared.graph.directory import (
    PRIVILEGED_ROLES,
    DirectoryResult,
    directory_roles,
    privileged_role_members,
    privileged_roles_of,
    risk_detections,
    risky_users,
    synced_users,
)
from shared.graph.domains import verified_domains
from shared.graph.limiter import RequestLimiter
from shared.graph.named_locations import trusted_networks
from shared.graph.remediation import (
    ActionOutcome,
    confirm_compromised,
    disable_account,
    force_password_reset,
    revoke_sessions,
)
from shared.graph.signins import (
    FetchedPage,
    decode_page,
    sign_in_filter,
    sign_in_source,
    stream_sign_ins,
)

__all__ = [
    "PRIVILEGED_ROLES",
    "ActionOutcome",
    "DirectoryResult",
    "FetchedPage",
    "GraphConnection",
    "GraphStats",
    "RequestLimiter",
    "StaticTokenCredential",
    "confirm_compromised",
    "connect",
    "decode_page",
    "directory_roles",
    "disable_account",
    "force_password_reset",
    "privileged_role_members",
    "privileged_roles_of",
    "revoke_sessions",
    "risk_detections",
    "risky_users",
    "sign_in_filter",
    "sign_in_source",
    "stream_sign_ins",
    "synced_users",
    "trusted_networks",
    "verified_domains",
]
