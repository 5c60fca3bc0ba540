"""`signin-review doctor` against Azurite and the Graph emulator, in each failure mode: one line
per check (ok / missing / wrong / note), exit 0 only when everything required is there."""

from __future__ import annotations

import base64
import json
import socket
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
    REMEDIATOR_OPTIONAL,
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
                  "roles": [*REMEDIATOR_PERMISSIONS, *REMEDIATOR_OPTIONAL]})
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
        "remediator token": "ok", "remediator permissions": "ok",
        "remediator permissions (optional)": "ok", "licence (signIns)": "ok",
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
    checks = run_checks(Services(settings, store_prefix="dead"), seconds=5)
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
    assert "ok       licence (signIns)" in out and "13/13 checks passed" in out
    monkeypatch.setenv("APPROVAL_WEBHOOK_URL", "")
    monkeypatch.setattr(services_module, "_current", None)
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "missing  approval webhook" in out and "fix: set it to the Logic App" in out
    monkeypatch.setenv("GRAPH_API_VERSION", "v2")
    monkeypatch.setattr(services_module, "_current", None)
    assert main(["doctor"]) == 4  # exits.SETTINGS


# --- the command in each failure mode a newcomer meets: a check line, the documented exit code,
# never a traceback, no library log lines ------------------------------------------------------

STORAGE_SETTINGS = ("AzureWebJobsStorage", "AzureWebJobsStorage__blobServiceUri",
                    "AzureWebJobsStorage__queueServiceUri", "AzureWebJobsStorage__tableServiceUri")


@pytest.fixture
def cli_doctor(graph: GraphEmulator, storage_connection_string: str,
               monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
               caplog: pytest.LogCaptureFixture) -> Callable[..., tuple[int, str]]:
    """`signin-review doctor ARGS` with the good laptop settings changed by keyword arguments
    (None removes one); the exit code and stdout, after checking that nothing else leaked."""
    monkeypatch.setattr(graph, "token", READER)
    graph.load(role_assignments=[{"id": "ra1", "principalId": REMEDIATOR_OID,
                                  "roleDefinitionId": USER_ADMINISTRATOR,
                                  "directoryScopeId": "/"}])
    prefix = "f" + uuid.uuid4().hex[:10]

    def run(*args: str, create: bool = True, **env: str | None) -> tuple[int, str]:
        good: dict[str, str | None] = {
            "AzureWebJobsStorage": storage_connection_string, "GRAPH_BASE_URL": graph.base_url,
            "GRAPH_CREDENTIAL": "local", "GRAPH_LOCAL_TOKEN": READER,
            "STORAGE_NAME_PREFIX": prefix, **GOOD}
        for name in STORAGE_SETTINGS:
            monkeypatch.delenv(name, raising=False)
        for name, value in {**good, **env}.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        monkeypatch.setattr(services_module, "_current", None)
        if create:
            services_module.current().store.ensure_resources()
            services_module.current().store.close()
            monkeypatch.setattr(services_module, "_current", None)
        caplog.clear()
        code = main(["doctor", *args])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err and "Error(" not in out
        leaked = [r for r in caplog.records if r.name.split(".")[0] in ("azure", "msal", "httpx")]
        assert not leaked, leaked
        return code, out

    return run


def line(out: str, name: str) -> str:
    """A check's line and its fix line."""
    lines = out.splitlines()
    at = next(i for i, text in enumerate(lines) if text[9:].startswith(name + ":"))
    fix = lines[at + 1] if at + 1 < len(lines) and "fix:" in lines[at + 1] else ""
    return lines[at] + "\n" + fix


def test_no_storage_setting(cli_doctor: Callable[..., tuple[int, str]]) -> None:
    code, out = cli_doctor(create=False, AzureWebJobsStorage=None)
    assert code == 1
    storage = line(out, "storage")
    assert storage.startswith("missing  storage: storage is not configured")
    assert "set AzureWebJobsStorage" in storage and "UseDevelopmentStorage=true" in storage
    assert "ok       licence (signIns)" in out  # Graph is checked all the same


def test_a_fresh_azurite_without_the_containers(
    cli_doctor: Callable[..., tuple[int, str]]
) -> None:
    code, out = cli_doctor(create=False)
    assert code == 1
    storage = line(out, "storage")
    assert "has no evidence container" in storage and "ContainerNotFound" not in storage
    assert "signin-review doctor --create-resources" in storage and "azd up" in storage
    code, out = cli_doctor("--create-resources", create=False)
    assert code == 0 and "ok       storage" in out


def test_plain_http_graph_url(cli_doctor: Callable[..., tuple[int, str]]) -> None:
    code, out = cli_doctor(GRAPH_BASE_URL="http://graph.microsoft.com")
    assert code == 1
    endpoint = line(out, "graph endpoint")
    assert "GRAPH_BASE_URL=http://graph.microsoft.com" in endpoint and "https" in endpoint


def test_nothing_listening_at_the_graph_url(cli_doctor: Callable[..., tuple[int, str]]) -> None:
    with socket.socket() as bound:  # bound, never listening: every connection is refused
        bound.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound.getsockname()[1]}"
        code, out = cli_doctor("--timeout", "60", GRAPH_BASE_URL=url)
    assert code == 1
    licence = line(out, "licence (signIns)")
    assert f"no answer from Graph at {url}" in licence and f"GRAPH_BASE_URL ({url})" in licence


def test_a_graph_url_that_never_answers_is_cut_at_the_time_limit(
    cli_doctor: Callable[..., tuple[int, str]]
) -> None:
    with socket.socket() as silent:  # listening, never accepting: connections hang unanswered
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        code, out = cli_doctor("--timeout", "1", GRAPH_BASE_URL=url)
    assert code == 1
    for name in ("licence (signIns)", "Identity Protection", "remediator directory roles"):
        checked = line(out, name)
        assert f"no answer from Graph at {url} within 1 s" in checked, out
        assert f"GRAPH_BASE_URL ({url})" in checked


def test_a_token_graph_does_not_accept_is_not_a_permission(
    cli_doctor: Callable[..., tuple[int, str]]
) -> None:
    stranger = jwt({"appid": "reader-app", "roles": [*READER_PERMISSIONS]})
    code, out = cli_doctor(GRAPH_LOCAL_TOKEN=stranger)
    assert code == 1
    licence = line(out, "licence (signIns)")
    assert "Graph did not accept the token" in licence and "401" in licence
    assert "grant" not in licence and "GRAPH_CREDENTIAL" in licence


def test_graph_s_message_naming_the_permission_is_kept(
    cli_doctor: Callable[..., tuple[int, str]], graph: GraphEmulator
) -> None:
    graph.configure(audit_log_permission=False)
    code, out = cli_doctor()
    assert code == 1
    licence = line(out, "licence (signIns)")
    assert "403" in licence and "AuditLog.Read.All" in licence, licence


def test_a_laptop_without_a_managed_identity(cli_doctor: Callable[..., tuple[int, str]]) -> None:
    with socket.socket() as bound:  # the managed identity endpoint, on loopback and refusing
        bound.bind(("127.0.0.1", 0))
        code, out = cli_doctor(
            "--timeout", "30", GRAPH_CREDENTIAL="managed-identity", GRAPH_LOCAL_TOKEN=None,
            GRAPH_LOCAL_REMEDIATOR_TOKEN=None, IDENTITY_HEADER="h",
            IDENTITY_ENDPOINT=f"http://127.0.0.1:{bound.getsockname()[1]}/msi/token")
    assert code == 1
    reader = line(out, "reader token")
    assert reader.startswith("missing  reader token: no managed identity answered")
    assert "`az login`, then set GRAPH_CREDENTIAL=default" in reader


def test_checks_report_progress(doctor: Callable[..., dict[str, Check]], graph: GraphEmulator,
                                storage_connection_string: str) -> None:
    settings = local_settings(storage_connection_string, graph.base_url, READER, **GOOD)
    shown: list[tuple[str, float]] = []
    run_checks(Services(settings, store_prefix="p" + uuid.uuid4().hex[:10]), seconds=7,
               progress=lambda name, seconds: shown.append((name, seconds)))
    assert [name for name, _ in shown] == [
        "storage", "reader token", "remediator token", "licence (signIns)",
        "Identity Protection", "remediator directory roles"]
    assert {seconds for _, seconds in shown} == {7}
