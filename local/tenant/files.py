"""A tenant on disk: Graph JSON files (each `{"value": [...]}`), ground truth and window.

signIns.json is one Graph-style page holding every sign-in, newest first. For big tenants
(`sign_ins_format="auto"` and at least JSONL_FROM sign-ins) the sign-ins go to signIns.jsonl
instead: one signIn object a line, newest first, written in chunks so memory stays flat.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import msgspec

from local.tenant.generator import Tenant
from local.tenant.truth import Expectation
from shared.bulk import paused_gc as collector_paused
from shared.model import Window

JSONL_FROM = 200_000
CHUNK = 20_000
SignInFormat = Literal["auto", "json", "jsonl"]


def write(tenant: Tenant, directory: str | Path, *,
          sign_ins_format: SignInFormat = "auto") -> list[Path]:
    """Write the tenant's files into `directory` (created if missing); return their paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    encoder = msgspec.json.Encoder()
    pages = {
        "users.json": tenant.users,
        "riskyUsers.json": tenant.risky_users,
        "riskDetections.json": tenant.risk_detections,
        "roleAssignments.json": tenant.role_assignments,
        "namedLocations.json": tenant.named_locations,
        "directoryAudits.json": tenant.directory_audits,
        "authenticationMethods.json": tenant.authentication_methods,
        "messageRules.json": tenant.message_rules,
        "oauth2PermissionGrants.json": tenant.permission_grants,
    }
    written = []
    for name, value in pages.items():
        written.append(_write_bytes(out / name, encoder.encode({"value": value})))
    as_lines = sign_ins_format == "jsonl" or (
        sign_ins_format == "auto" and len(tenant.sign_ins) >= JSONL_FROM)
    written.append(_write_sign_ins(out, tenant.sign_ins, encoder, as_lines))
    written.append(_write_bytes(out / "groundTruth.json", encoder.encode(tenant.ground_truth)))
    written.append(_write_bytes(out / "window.json", encoder.encode(tenant.window)))
    return written


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _write_sign_ins(out: Path, rows: list[dict[str, object]], encoder: msgspec.json.Encoder,
                    as_lines: bool) -> Path:
    path = out / ("signIns.jsonl" if as_lines else "signIns.json")
    with path.open("wb") as f:
        if not as_lines:
            f.write(b'{"value":[')
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start:start + CHUNK]
            if as_lines:
                f.write(encoder.encode_lines(chunk))
                continue
            if start:
                f.write(b",")
            f.write(encoder.encode(chunk)[1:-1])
        if not as_lines:
            f.write(b"]}")
    (out / ("signIns.json" if as_lines else "signIns.jsonl")).unlink(missing_ok=True)
    return path


def read(directory: str | Path) -> Tenant:
    """Load a tenant written by `write` (either sign-in format)."""
    src = Path(directory)

    def page(name: str) -> list[dict[str, Any]]:
        return msgspec.json.decode((src / name).read_bytes())["value"]  # type: ignore[no-any-return]

    def optional(name: str) -> list[dict[str, Any]]:
        return page(name) if (src / name).exists() else []

    jsonl = src / "signIns.jsonl"
    with collector_paused():
        if jsonl.exists():
            decoder = msgspec.json.Decoder()
            sign_ins = [decoder.decode(line) for line in jsonl.read_bytes().splitlines() if line]
        else:
            sign_ins = page("signIns.json")
    return Tenant(
        window=msgspec.json.decode((src / "window.json").read_bytes(), type=Window),
        users=page("users.json"),
        sign_ins=sign_ins,
        risky_users=page("riskyUsers.json"),
        risk_detections=page("riskDetections.json"),
        role_assignments=page("roleAssignments.json"),
        named_locations=optional("namedLocations.json"),
        directory_audits=optional("directoryAudits.json"),
        authentication_methods=optional("authenticationMethods.json"),
        message_rules=optional("messageRules.json"),
        permission_grants=optional("oauth2PermissionGrants.json"),
        ground_truth=msgspec.json.decode((src / "groundTruth.json").read_bytes(),
                                         type=dict[str, Expectation]),
    )
