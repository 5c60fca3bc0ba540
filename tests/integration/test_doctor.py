"""`signin-review doctor` against Azurite and the Graph emulator, in each failure mode: one line
per check (ok / missing / wrong / note), exit 0 only when everything required is there."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local.graph_emulator import GraphEmulator
from shared import services as services_module
from shared.cli import main
from shared.preflight import (
    READER_OPTIONAL,
    READER_PERMISSIONS,
    REMEDIATOR_PERMISSIONS,
    Check,
    run_checks,
)
from shared.services import Services
from tests.fixtures.pipeline import local_settings

REMEDIATOR_OID = "7e0a0000-0000-4000-8000-00000000e001"
USER_ADMINISTRATOR = "fe930be7-5e62-47db-91af-98c3a49a38b1"
PRIVILEGED_AUTH_ADMIN = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"


def jwt(claims: dict[str, Any]) -> str:
    """A token shaped like Entra ID's (the emulator checks equality, the doctor reads claims)."""
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


READER = jwt({"appid": "reader-app", "oid": "7e0a0000-0000-4000-8000-00000000d001",
              "roles": [*READER_PERMISSIONS, *READER_OPTIONAL]})
REMEDIATOR = jwt({"appid": "remediator-app", "oid": REMEDIATOR_OID,
                  "roles": list(REMEDIATOR_PERMISSIONS)})
GOOD = {"APPROVAL_WEBHOOK_URL": "https://prod-01.westeurope.logic.azure.com/workflows/x?sig=s",
        "AUTH_TENANT_ID": "00000000-0000-0000-0000-0000000000aa",
        "AUTH_AUDIENCE": "api://signin-review",
        "REMEDIATION_ALLOWED_CALLERS": "10c1a000-0000-4000-8000-00000000a991",
        "GRAPH_LOCAL_REMEDIATOR_TOKEN": REMEDIATOR}


@pytest.fixture
def doctor(graph: GraphEmulator, storage_connection_string: str,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., dict[str, Check]]]:
    """Run the checks with the good configuration changed by keyword arguments; the emulator
    accepts `reader_token` and holds the remediator's role `remediator_role`."""
    made: list[Services] = []

    def run(*, reader_token: str = READER, remediator_role: str | None = USER_ADMINISTRATOR,
            **env: str) -> dict[str, Check]:
        monkeypatch.setattr(graph, "token", reader_token)
        graph.load(role_assignments=[{"id": "ra1", "principalId": REMEDIATOR_OID,
                                      "roleDefinitionId": remediator_role,
                                      "directoryScopeId": "/"}] if remediator_role else [])
        settings = local_settings(storage_connection_string, graph.base_url, reader_token,
                                  **{**GOOD, **env})
        services = Services(settings, store_prefix="d" + uuid.uuid4().hex[:10])
        services.store.ensure_resources()
        made.append(services)
        return {c.name: c for c in run_checks(services)}

    yield run
    for services in made:
        services.store.close()


def statuses(checks: dict[str, Check]) -> dict[str, str]:
    return {name: c.status for name, c in checks.items()}


def test_everything_in_place(doctor: Callable[..., dict[str, Check]]) -> None:
    checks = doctor()
    assert statuses(checks) == {
        "storage": "ok", "evidence immutability": "note", "reader token": "ok",
        "reader permissions": "ok", "reader permissions (optional)": "ok",
        "remediator token": "ok", "remediator permissions": "ok", "licence (signIns)": "ok",
        "Identity Protection": "ok", "remediator directory roles": "ok",
        "approval webhook": "ok", "remediation auth": "ok"}
    assert "Azurite has no immutability" in checks["evidence immutability"].detail
    assert checks["Identity Protection"].detail.startswith("P2")
    assert checks["remediator directory roles"].detail == "User Administrator"
    assert not any(c.failed for c in checks.values())


def test_missing_permissions_are_named(doctor: Callable[..., dict[str, Check]],
                                       graph: GraphEmulator) -> None:
    graph.configure(audit_log_permission=False)
    reader = jwt({"roles": ["Directory.Read.All", "IdentityRiskyUser.Read.All",
                            "IdentityRiskEvent.Read.All"]})
    checks = doctor(reader_token=reader)
    assert checks["reader permissions"].status == "missing"
    assert "AuditLog.Read.All" in checks["reader permissions"].detail
    assert checks["reader permissions (optional)"].status == "missing"
    assert not checks["reader permissions (optional)"].failed  # PIM eligibility is optional
    assert checks["licence (signIns)"].status == "wrong"  # the 403 says permission, not licence
    assert "Authentication_MSGraphPermissionMissing" in checks["licence (signIns)"].detail


def test_no_licence_and_a_p1_tenant(doctor: Callable[..., dict[str, Check]],
                                    graph: GraphEmulator) -> None:
    graph.configure(premium=False)
    checks = doctor()
    assert checks["licence (signIns)"].status == "missing"
    assert "P1 or P2" in checks["licence (signIns)"].fix
    assert checks["Identity Protection"].status == "note"
    graph.reset()
    graph.configure(tier="P1")
    p1 = doctor()["Identity Protection"]
    assert (p1.status, p1.detail[:3]) == ("ok", "P1:")
    graph.reset()
    graph.configure(forbidden_paths=["identityProtection"])
    assert doctor()["Identity Protection"].status == "wrong"


def test_remediator_roles_missing_or_not_as_configured(
    doctor: Callable[..., dict[str, Check]]
) -> None:
    assert doctor(remediator_role=None)["remediator directory roles"].status == "missing"
    claimed = doctor(REMEDIATOR_DIRECTORY_ROLES="Privileged Authentication Administrator")
    assert claimed["remediator directory roles"].status == "wrong"
    held = doctor(remediator_role=PRIVILEGED_AUTH_ADMIN,
                  REMEDIATOR_DIRECTORY_ROLES="Privileged Authentication Administrator")
    assert held["remediator directory roles"].status == "ok"


def test_settings_for_approvals_and_remediation_callers(
    doctor: Callable[..., dict[str, Check]]
) -> None:
    checks = doctor(APPROVAL_WEBHOOK_URL="http://logic.example/x", AUTH_AUDIENCE="",
                    REMEDIATION_ALLOWED_CALLERS="")
    assert checks["approval webhook"].status == "wrong"
    assert checks["remediation auth"].status == "missing"
    assert "REMEDIATION_ALLOWED_CALLERS" in checks["remediation auth"].detail


def test_a_local_token_is_a_note_not_a_pass(doctor: Callable[..., dict[str, Check]]) -> None:
    checks = doctor(reader_token="local-dev-token", GRAPH_LOCAL_REMEDIATOR_TOKEN="")
    assert checks["reader permissions"].status == "note"
    assert checks["remediator directory roles"].status == "note"
    assert checks["licence (signIns)"].status == "ok"


def test_unreachable_storage(doctor: Callable[..., dict[str, Check]], graph: GraphEmulator,
                             storage_connection_string: str) -> None:
    dead = storage_connection_string.replace(storage_connection_string.split("127.0.0.1:")[1]
                                             .split("/")[0], "9")
    settings = local_settings(dead, graph.base_url, READER, **GOOD)
    checks = run_checks(Services(settings, store_prefix="dead"))
    storage = next(c for c in checks if c.name == "storage")
    assert storage.status == "missing" and storage.failed


def test_cli_exit_codes(graph: GraphEmulator, storage_connection_string: str,
                        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
                        ) -> None:
    monkeypatch.setattr(graph, "token", READER)
    graph.load(role_assignments=[{"id": "ra1", "principalId": REMEDIATOR_OID,
                                  "roleDefinitionId": USER_ADMINISTRATOR,
                                  "directoryScopeId": "/"}])
    env = {"AzureWebJobsStorage": storage_connection_string, "GRAPH_BASE_URL": graph.base_url,
           "GRAPH_CREDENTIAL": "local", "GRAPH_LOCAL_TOKEN": READER,
           "STORAGE_NAME_PREFIX": "c" + uuid.uuid4().hex[:10], **GOOD}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(services_module, "_current", None)
    services_module.current().store.ensure_resources()
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "ok       licence (signIns)" in out and "12/12 checks passed" in out
    monkeypatch.setenv("APPROVAL_WEBHOOK_URL", "")
    monkeypatch.setattr(services_module, "_current", None)
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "missing  approval webhook" in out and "fix: set it to the Logic App" in out
    monkeypatch.setenv("GRAPH_API_VERSION", "v2")
    monkeypatch.setattr(services_module, "_current", None)
    assert main(["doctor"]) == 4  # exits.SETTINGS
