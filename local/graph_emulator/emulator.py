"""The emulator object tests and the demo hold: data in, switches, call records, start/stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from local.graph_emulator.faults import Faults
from local.graph_emulator.server import GraphServer
from local.graph_emulator.tenant_data import Directory, SignInTable

# load() keyword -> the tenant generator's file stem (and /_emulator/load key).
DATA_FILES = {
    "sign_ins": "signIns", "users": "users", "risky_users": "riskyUsers",
    "risk_detections": "riskDetections", "role_assignments": "roleAssignments",
    "role_eligibilities": "roleEligibilitySchedules",
    "named_locations": "namedLocations",
    "directory_audits": "directoryAudits", "authentication_methods": "authenticationMethods",
    "message_rules": "messageRules", "permission_grants": "oauth2PermissionGrants",
    "groups": "groups", "domains": "domains",
}


@dataclass(frozen=True)
class Tenant:
    """One loaded data set; replaced whole by load(), so a request sees one consistent set."""

    sign_ins: SignInTable
    directory: Directory
    generation: int


def _empty_tenant(generation: int) -> Tenant:
    return Tenant(SignInTable([]), Directory(users=[], risky_users=[], risk_detections=[],
                                             role_assignments=[]), generation)


class GraphEmulator:
    """A Microsoft Graph stand-in on 127.0.0.1 for the endpoints sign-in review calls."""

    def __init__(self, *, token: str = "local-dev-token",
                 tenant_id: str = "00000000-0000-0000-0000-0000000000aa") -> None:
        self.token = token
        self.tenant_id = tenant_id
        self.base_url = ""
        self.calls: list[dict[str, Any]] = []
        self.remediation_calls: list[dict[str, Any]] = []
        self.faults = Faults()
        self.data_lock = threading.Lock()
        self._records_lock = threading.Lock()
        self._tenant = _empty_tenant(0)
        self._server: GraphServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 (a free port unless given) in a background thread; the base URL."""
        if self._server is not None:
            return self.base_url
        self._server = GraphServer(self, port)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="graph-emulator", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> GraphEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- data and switches ------------------------------------------------------------------

    def load(self, *, sign_ins: Iterable[dict[str, Any]] = (),
             users: Iterable[dict[str, Any]] = (), risky_users: Iterable[dict[str, Any]] = (),
             risk_detections: Iterable[dict[str, Any]] = (),
             role_assignments: Iterable[dict[str, Any]] = (),
             role_eligibilities: Iterable[dict[str, Any]] = (),
             named_locations: Iterable[dict[str, Any]] = (),
             directory_audits: Iterable[dict[str, Any]] = (),
             authentication_methods: Iterable[dict[str, Any]] = (),
             message_rules: Iterable[dict[str, Any]] = (),
             permission_grants: Iterable[dict[str, Any]] = (),
             groups: Iterable[dict[str, Any]] = (),
             domains: Iterable[dict[str, Any]] | None = None) -> None:
        """Replace the tenant's data with these Graph JSON dicts (sorted and indexed here).
        Methods and rules carry `_owner`, the user's object id (graph_emulator.persistence);
        groups `_members`, their members' object ids. Without `domains`, the tenant's verified
        domains are its users' UPN domains (tenant_data.Directory)."""
        tenant = Tenant(
            SignInTable(sign_ins),
            Directory(users=users, risky_users=risky_users, risk_detections=risk_detections,
                      role_assignments=role_assignments, role_eligibilities=role_eligibilities,
                      named_locations=named_locations, directory_audits=directory_audits,
                      authentication_methods=authentication_methods,
                      message_rules=message_rules, permission_grants=permission_grants,
                      groups=groups, domains=domains),
            self._tenant.generation + 1,
        )
        with self.data_lock:
            self._tenant = tenant

    def load_files(self, data: Mapping[str, Any]) -> None:
        """load() from a mapping keyed like load()'s arguments or the generator's file stems,
        each a list of dicts or a Graph collection {"value": [...]}."""
        known = set(DATA_FILES) | set(DATA_FILES.values())
        unknown = set(data) - known
        if unknown:
            raise TypeError(f"unknown data set(s): {', '.join(sorted(unknown))}")
        kwargs: dict[str, list[dict[str, Any]]] = {}
        for arg, stem in DATA_FILES.items():
            rows = data.get(arg, data.get(stem, []))
            rows = rows.get("value", []) if isinstance(rows, dict) else rows
            if not isinstance(rows, list):
                raise ValueError(f"{stem} must be a list or {{'value': [...]}}")
            kwargs[arg] = rows
        self.load(**kwargs)

    def tenant(self) -> Tenant:
        return self._tenant

    def configure(self, **switches: Any) -> None:
        """Set fault switches (see faults.Switches); an unknown name raises TypeError."""
        self.faults.configure(switches)

    def release_held(self) -> None:
        """Answer the requests the hold_path switch is holding, and hold no more."""
        self.faults.release_held()

    def reset(self) -> None:
        """Switches back to defaults and call records cleared; the data stays."""
        self.faults.reset()
        with self._records_lock:
            self.calls.clear()
            self.remediation_calls.clear()

    def user(self, key: str) -> dict[str, Any] | None:
        """The stored user (by id or UPN), with any PATCH applied."""
        return self._tenant.directory.user(key)

    # --- records ----------------------------------------------------------------------------

    def record_call(self, method: str, path: str, query: dict[str, str],
                    status: int | None) -> None:
        """Every request received; status None means the connection was dropped on purpose."""
        entry = {"method": method, "path": path, "query": query, "status": status,
                 "time": time.time()}
        with self._records_lock:
            self.calls.append(entry)

    def record_remediation(self, method: str, path: str, user_id: str | None, body: Any,
                           status: int) -> None:
        entry = {"method": method, "path": path, "userId": user_id, "body": body,
                 "status": status, "time": time.time()}
        with self._records_lock:
            self.remediation_calls.append(entry)
