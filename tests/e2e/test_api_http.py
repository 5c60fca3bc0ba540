"""The HTTP API end to end: `python -m local.serve` as a person starts it, and a tenant review of
the sample tenant (with hostile strings planted in its sign-ins) through the real pipeline,
report and an approved remediation, all over HTTP."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from local.azurite import free_port, wait_for_port
from local.graph_emulator import GraphEmulator
from local.identity import LOGIC_APP_OID, TokenIssuer
from local.serve import LocalApi, local_settings
from local.tenant import generate
from shared.pipeline.records import RunRecord, VerdictRecord, run_keys, verdict_keys
from shared.services import Services
from tests.fixtures.api import FAST_GRAPH

REPO = Path(__file__).resolve().parents[2]
HOSTILE_APP = "<script>alert(1)</script>"


@pytest.fixture
def served() -> Iterator[tuple[str, str, str]]:
    """`python -m local.serve` on a free port: (base URL, function key, bearer token)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "local.serve", "--port", str(port),
                             "--users", "40"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_for_port(port, timeout=300, proc=proc)  # type: ignore[arg-type]
        lines: list[str] = []
        assert proc.stdout is not None
        while not any(line.startswith("eyJ") for line in lines):
            line = proc.stdout.readline()
            assert line, "local.serve ended before printing its token:\n" + "\n".join(lines)
            lines.append(line.strip())
        text = "\n".join(lines)
        key = re.search(r"function key:\s+(\S+)", text)
        assert key is not None, text
        yield f"http://127.0.0.1:{port}", key.group(1), lines[-1]
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_make_serve_answers_curl_style_requests(served: tuple[str, str, str]) -> None:
    base, key, token = served
    with httpx.Client(base_url=base, trust_env=False, timeout=60) as http:
        assert http.get("/api/health").json() == {"status": "ok"}
        assert http.get("/api/openapi.json").json()["openapi"].startswith("3.0")
        assert http.post("/api/reviews", json={"scope": "tenant"}).status_code == 401
        keyed = {"x-functions-key": key}
        review = http.post("/api/reviews", headers=keyed,
                           json={"user": "nobody@contoso.com", "lookbackHours": 24})
        assert review.status_code == 200, review.text
        assert review.json()["verdict"] == "none"
        refused = http.post("/api/remediations",
                            headers={**keyed, "Authorization": f"Bearer {token}"},
                            json={"runId": review.json()["runId"], "userId": "nobody@contoso.com",
                                  "actions": ["revokeSessions"], "approver": "me",
                                  "approvalId": "e2e-" + uuid.uuid4().hex[:6]})
        assert refused.status_code in (200, 409), refused.text


@pytest.mark.slow
def test_tenant_review_report_and_approved_remediation(
    storage_connection_string: str, graph: GraphEmulator, token_issuer: TokenIssuer
) -> None:
    from local.runner import QueueRunner

    tenant = generate(users=40, seed=11, window_end=datetime.now(UTC))
    rows = [dict(row) for row in tenant.sign_ins]
    for row in rows[::7]:
        row["appDisplayName"] = HOSTILE_APP
    graph.load(sign_ins=rows, users=tenant.users, risky_users=tenant.risky_users,
               risk_detections=tenant.risk_detections, role_assignments=tenant.role_assignments)
    settings = local_settings(storage_connection_string, graph.base_url, graph.token,
                              token_issuer.settings(), LOGIC_APP_OID, **FAST_GRAPH)
    services = Services(settings, store_prefix="e" + uuid.uuid4().hex[:10])
    services.store.ensure_resources()
    api = LocalApi(services).start()
    try:
        with httpx.Client(base_url=api.base_url, trust_env=False, timeout=120,
                          headers={"x-functions-key": api.function_key}) as http:
            window = {"start": tenant.window.start.isoformat(),
                      "end": tenant.window.end.isoformat()}
            started = http.post("/api/reviews", json={"scope": "tenant", **window})
            assert started.status_code == 202, started.text
            status_url = started.json()["statusUrl"]
            assert http.get(f"{status_url}/report").status_code == 404  # not finished yet
            QueueRunner(services).drain(timeout_s=300)
            run = http.get(status_url).json()
            assert run["status"] in ("complete", "partial"), run
            assert run["counts"]["users"] > 20 and run["slices"]["done"] == run["slices"]["total"]
            report = http.get(run["links"]["report"])
            assert report.status_code == 200
            assert HOSTILE_APP.encode() not in report.content
            assert b"&lt;script&gt;" in report.content
            assert "default-src 'none'" in report.headers["content-security-policy"]
            _remediate_a_high_verdict(http, services, run["runId"], token_issuer, graph)
    finally:
        api.stop()
        services.store.close()


def _remediate_a_high_verdict(http: httpx.Client, services: Services, run_id: str,
                              issuer: TokenIssuer, graph: GraphEmulator) -> None:
    verdicts = services.store.table(services.store.names.verdicts, VerdictRecord, verdict_keys)
    high = next(v for v in verdicts.query_partition(run_id) if v.verdict == "high")
    shown = http.get(f"/api/reviews/{run_id}/users/{high.user_id}").json()
    assert shown["verdict"] == "high" and shown["evidence"][0]["sha256"] == high.evidence.sha256
    graph.reset()
    body = {"runId": run_id, "userId": high.user_id, "actions": ["revokeSessions"],
            "approver": "soc-lead@contoso.com", "approvalId": "e2e-" + uuid.uuid4().hex[:8]}
    auth = {"Authorization": f"Bearer {issuer.mint()}"}
    first = http.post("/api/remediations", json=body, headers=auth)
    again = http.post("/api/remediations", json=body, headers=auth)
    assert first.status_code == 200, first.text
    assert first.json()["results"][0]["outcome"] == "done"
    assert again.content == first.content
    assert [c["userId"] for c in graph.remediation_calls] == [high.user_id]
    report = http.get(f"/api/reviews/{run_id}/report")  # now shows what was done
    assert report.status_code == 200
    assert body["approvalId"].encode() in report.content
    assert b"soc-lead@contoso.com" in report.content
    run = services.store.table(services.store.names.runs, RunRecord, run_keys).get(run_id, "run")
    assert run is not None
    assert report.headers["x-report-record"] == (
        f"{run.reports['html'].name} sha256={run.reports['html'].sha256}")
    assert "default-src 'none'" in report.headers["content-security-policy"]
