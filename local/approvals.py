"""A stand-in for the Logic App's HTTP trigger: records each approval request it receives.

In Azure the function app POSTs medium/high verdicts to the Logic App, which mails an approver.
Locally this server on 127.0.0.1 answers 202 and keeps the requests for the demo and tests.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from local.loopback import LoopbackServer


class ApprovalInbox:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                inbox.requests.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._handler = Handler
        self._server: LoopbackServer | None = None
        self.url = ""

    def __enter__(self) -> ApprovalInbox:
        self._server = LoopbackServer(self._handler, name="approval-inbox")
        self.url = f"{self._server.base_url}/approvals"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.stop()


def approve(services: Any, run_id: str, user_id: str, actions: list[str], *,
            approver: str = "sec-lead@contoso.com") -> Any:
    """What the Logic App does once a person approves: the remediation request, carried out by
    the same code as POST /api/remediations behind its token check (the demo holds no token):
    the evidence guard, then each action, recorded in the table and in write-once evidence."""
    import uuid

    from shared.api.auth import Caller
    from shared.api.remediation import carry_out, remediations_table, started
    from shared.api.validation import RemediationBody, remediation_order
    from shared.store import Versioned

    order = remediation_order(RemediationBody(
        run_id=run_id, user_id=user_id, actions=actions,  # type: ignore[arg-type]
        approver=approver, approval_id=f"demo-{uuid.uuid4().hex[:12]}",
        comment="approved in the demo"))
    table = remediations_table(services)
    record = started(order, Caller(object_id="local-logic-app"), services.clock())
    etag = table.create(record)
    assert etag is not None
    return carry_out(services, table, Versioned(record, etag))
