"""HTTP plumbing: a threading HTTP/1.1 server (keep-alive, as the SDK reuses connections) whose
handler checks the bearer token, applies the fault switches, and hands Graph requests to
`routes`. `/_emulator/*` lets another process drive an emulator it did not start.
"""

from __future__ import annotations

import json
import select
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

import msgspec

from local.graph_emulator.responses import JSON_TYPE, GraphFault, error_body, new_request_id
from local.graph_emulator.routes import Answer, GraphRequest, answer
from local.graph_emulator.tenancy import NoAnswer, fractional, relinked

if TYPE_CHECKING:
    from local.graph_emulator.emulator import GraphEmulator

VERSIONS = ("v1.0", "beta")
HOLD_CAP_S = 600.0  # the longest a held answer waits for the client to hang up
SYSTEM_OPTIONS = frozenset({"filter", "top", "skiptoken", "select", "expand", "count",
                            "orderby", "skip", "search", "format"})
AUTHENTICATE = ('Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/'
                'oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"')


class GraphServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, emulator: GraphEmulator, port: int) -> None:
        self.emulator = emulator
        super().__init__(("127.0.0.1", port), GraphHandler)


def system_options(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """OData system query options by name without "$" (Graph makes the "$" optional)."""
    options: dict[str, str] = {}
    for name, value in pairs:
        bare = name[1:] if name.startswith("$") else name
        if name.startswith("$") or bare.lower() in SYSTEM_OPTIONS:
            options[bare.lower()] = value
    return options


class GraphHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: GraphServer

    def do_GET(self) -> None:
        self.handle_request()

    def do_POST(self) -> None:
        self.handle_request()

    def do_PATCH(self) -> None:
        self.handle_request()

    def do_DELETE(self) -> None:
        self.handle_request()

    def do_PUT(self) -> None:
        self.handle_request()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle_request(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        if url.path.startswith("/_emulator/"):
            self.handle_admin(url.path, raw_body)
            return
        emulator = self.server.emulator
        pairs = parse_qsl(url.query, keep_blank_values=True)
        if emulator.faults.take_drop():
            self.close_connection = True
            emulator.record_call(self.command, unquote(url.path), dict(pairs), None)
            return
        if emulator.faults.delay():
            time.sleep(emulator.faults.delay())
        version, _, rel_path = url.path.lstrip("/").partition("/")
        emulator.faults.hold(version, rel_path)
        request_id = self.headers.get("client-request-id") or new_request_id()
        try:
            result = self.serve_graph(url.path, system_options(pairs), raw_body)
        except NoAnswer:  # Graph sometimes never answers a slow query: hold until hung up
            emulator.record_call(self.command, unquote(url.path), dict(pairs), None)
            self.hold_until_hung_up()
            return
        except GraphFault as fault:
            body = error_body(fault.code, fault.message, request_id)
            result = Answer(fault.status, body, fault.headers)
        except Exception as exc:  # a bug here must still answer like Graph, not hang the client
            body = error_body("generalException", f"Emulator error: {exc!r}", request_id)
            result = Answer(500, body)
        # Recorded before answering: a client that has its answer must find its call recorded.
        emulator.record_call(self.command, unquote(url.path), dict(pairs), result.status)
        self.send(result, request_id)

    def serve_graph(self, path: str, options: dict[str, str], raw_body: bytes) -> Answer:
        emulator = self.server.emulator
        self.check_token(emulator.token)
        version, _, rel_path = path.lstrip("/").partition("/")
        if version not in VERSIONS:
            raise GraphFault(400, "BadRequest", f"Invalid version: {version}")
        injected = emulator.faults.take_injected(version, rel_path)
        if injected is not None:
            raise fractional(injected, emulator.faults.switches)
        emulator.faults.check(version, rel_path)
        emulator.faults.check_query(rel_path, options)
        try:
            body = msgspec.json.decode(raw_body) if raw_body.strip() else None
        except msgspec.DecodeError:
            raise GraphFault(400, "BadRequest", "Unable to read JSON request payload.") from None
        result = answer(emulator, GraphRequest(self.command, version, rel_path, options, body,
                                               raw_target=self.path))
        return relinked(result, emulator.faults.switches)

    def hold_until_hung_up(self) -> None:
        """Send nothing until the client closes the connection (its read timed out) or
        HOLD_CAP_S passes; the connection is not used again."""
        self.close_connection = True
        deadline = time.monotonic() + HOLD_CAP_S
        while time.monotonic() < deadline:
            readable, _, _ = select.select([self.connection], [], [], 0.05)
            if readable:
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        return
                except OSError:
                    return
                time.sleep(0.05)  # a pipelined request: keep holding

    def check_token(self, token: str) -> None:
        header = self.headers.get("Authorization") or ""
        scheme, _, given = header.partition(" ")
        if not given.strip():
            raise GraphFault(401, "InvalidAuthenticationToken", "Access token is empty.",
                             {"WWW-Authenticate": AUTHENTICATE})
        if scheme.lower() != "bearer" or given.strip() != token:
            raise GraphFault(401, "InvalidAuthenticationToken",
                             "Access token validation failure. Invalid audience.",
                             {"WWW-Authenticate": AUTHENTICATE})

    def send(self, result: Answer, request_id: str) -> None:
        payload = b"" if result.body is None else msgspec.json.encode(result.body)
        self.send_response(result.status)
        for name, value in result.headers.items():
            self.send_header(name, value)
        self.send_header("request-id", request_id)
        self.send_header("client-request-id", request_id)
        if result.status != 204:
            self.send_header("Content-Type", JSON_TYPE)
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def handle_admin(self, path: str, raw_body: bytes) -> None:
        emulator = self.server.emulator
        action = path.removeprefix("/_emulator/").strip("/")
        try:
            data = json.loads(raw_body) if raw_body.strip() else {}
            if (self.command, action) == ("POST", "configure"):
                emulator.configure(**data)
                result = Answer(204)
            elif (self.command, action) == ("POST", "load"):
                emulator.load_files(data)
                result = Answer(204)
            elif (self.command, action) == ("POST", "reset"):
                emulator.reset()
                result = Answer(204)
            elif (self.command, action) == ("GET", "calls"):
                result = Answer(200, {"calls": list(emulator.calls),
                                      "remediation_calls": list(emulator.remediation_calls)})
            else:
                result = Answer(404, error_body("NotFound", f"No admin action '{action}'.", ""))
        except (TypeError, ValueError) as exc:
            result = Answer(400, error_body("BadRequest", str(exc), ""))
        self.send(result, new_request_id())
