"""`make serve`: function_app.py's HTTP routes on 127.0.0.1, with Azurite, the Graph emulator
(loaded with the sample tenant) and the local token issuer, so a person can `curl` them.

There is no Functions host on a machine without internet, so this does its part for HTTP: it
matches the routes the function app declares (methods, `{params}`, the `api` prefix), checks the
function key on FUNCTION-level routes (`x-functions-key` header or `code` query, as the platform
does), builds a real `func.HttpRequest` and calls the route's own function. Queued pipeline work
is drained in the background by the local runner, so a 202 run completes and a one-user review
(run by its queue function) answers with its verdict.

    python -m local.serve [--port 7071] [--users 50]

Tests start `LocalApi` in-process on a free port with services of their own.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import azure.functions as func

import function_app
from local.loopback import LoopbackServer
from local.stack import local_settings as stack_settings
from shared import config
from shared.services import Services, install

ROUTE_PREFIX = "/api"
MAX_REQUEST_BYTES = 1024 * 1024  # the host's own limit is far larger; the app refuses > 64 KiB


@dataclass(frozen=True)
class HttpRoute:
    name: str
    template: str  # e.g. reviews/{runId}/users/{userId}
    methods: frozenset[str]
    anonymous: bool
    function: Callable[[func.HttpRequest], func.HttpResponse]

    @property
    def pattern(self) -> re.Pattern[str]:
        parts = [f"(?P<{s[1:-1]}>[^/]+)" if s.startswith("{") else re.escape(s)
                 for s in self.template.split("/")]
        return re.compile("/".join(parts))


def http_routes(app_module: Any = function_app) -> list[HttpRoute]:
    """Every HTTP-triggered function the app module declares, from its function metadata."""
    routes = []
    for value in vars(app_module).values():
        if type(value).__name__ != "FunctionBuilder":
            continue
        built = value.build()
        for binding in json.loads(built.get_function_json())["bindings"]:
            if binding.get("type") == "httpTrigger":
                routes.append(HttpRoute(
                    name=built.get_function_name(),
                    template=binding.get("route") or built.get_function_name(),
                    methods=frozenset(m.upper() for m in binding.get("methods") or ["GET"]),
                    anonymous=str(binding.get("authLevel", "FUNCTION")).upper() == "ANONYMOUS",
                    function=built.get_user_function(),
                ))
    return routes


def match(routes: list[HttpRoute], path: str) -> list[tuple[HttpRoute, dict[str, str]]]:
    """The routes whose template matches the path (after /api/), with their path parameters."""
    found = []
    for route in routes:
        hit = route.pattern.fullmatch(path)
        if hit:
            found.append((route, {k: unquote(v) for k, v in hit.groupdict().items()}))
    return found


class LocalApi:
    """The HTTP routes on 127.0.0.1, each request handled by the function app's own function."""

    def __init__(self, services: Services, *, function_key: str | None = None,
                 port: int = 0) -> None:
        self.services = services
        self.function_key = function_key or secrets.token_urlsafe(24)
        self.routes = http_routes()
        self.requested_port = port
        self.base_url = ""
        self.lock = threading.Lock()
        self._server: LoopbackServer | None = None

    def start(self) -> LocalApi:
        install(self.services)
        self._server = LoopbackServer(_handler(self), port=self.requested_port, name="local-api")
        self.base_url = self._server.base_url
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def key_ok(self, headers: dict[str, str], query: dict[str, str]) -> bool:
        given = headers.get("x-functions-key") or query.get("code") or ""
        return secrets.compare_digest(given.encode(), self.function_key.encode())

    def respond(self, method: str, target: str, headers: dict[str, str], body: bytes
                ) -> tuple[int, dict[str, str], bytes]:
        """What the platform would answer: 404/405/401 of its own, or the function's response."""
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if not parts.path.startswith(ROUTE_PREFIX + "/"):
            return 404, {}, b""
        found = match(self.routes, parts.path[len(ROUTE_PREFIX) + 1:])
        if not found:
            return 404, {}, b""
        chosen = [(r, p) for r, p in found if method in r.methods]
        if not chosen:
            allowed = ", ".join(sorted({m for r, _ in found for m in r.methods}))
            return 405, {"Allow": allowed}, b""
        route, params = chosen[0]
        if not route.anonymous and not self.key_ok(headers, query):
            return 401, {}, b""
        request = func.HttpRequest(method, self.base_url + target, headers=headers,
                                   params=query, route_params=params, body=body)
        with self.lock:  # the routes read the process-wide services: make sure they are ours
            install(self.services)
        response = route.function(request)
        return response.status_code, dict(response.headers), response.get_body()


def _handler(api: LocalApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_REQUEST_BYTES:
                self._send(413, {"Connection": "close"}, b"")
                self.close_connection = True
                return
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                status, out_headers, out = api.respond(self.command, self.path, headers, body)
            except Exception:  # the host answers 500 without detail when a function fails
                status, out_headers, out = 500, {}, b""
            self._send(status, out_headers, out)

        def __getattr__(self, name: str) -> Any:
            """Every method reaches `respond`, so one a route does not declare (TRACE, OPTIONS,
            HEAD ...) is a 405 with `Allow` (RFC 9110, 15.5.6), not the stdlib server's 501.
            The Functions host itself has been seen answering 404 there instead
            (azure-functions-host issues 10098 and 11625): clients must expect either."""
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler


# --- make serve -----------------------------------------------------------------------------


def local_settings(storage: str, graph_url: str, graph_token: str, auth: dict[str, str],
                   allowed_callers: str, **more: str) -> config.Settings:
    """Settings pointing at the local services, trusting `auth`'s token issuer for the
    remediation route (`more`: further app settings by name)."""
    return stack_settings(storage, graph_url, graph_token,
                          REMEDIATION_ALLOWED_CALLERS=allowed_callers, **auth, **more)


@contextmanager
def background_runner(services: Services, every_s: float = 1.0,
                      only: frozenset[str] | None = None) -> Iterator[None]:
    """The local queue runner draining the pipeline's queues (or `only` these) every second,
    and firing the stranded-run timer on its schedule (every 15 minutes)."""
    import time

    from local.runner import QueueRunner
    from shared.pipeline.stranded import SWEEP_EVERY

    runner = QueueRunner(services, only=only)
    stop = threading.Event()

    def loop() -> None:
        next_sweep = time.monotonic() + SWEEP_EVERY.total_seconds()
        while not stop.wait(every_s):
            try:
                runner.drain(timeout_s=60)
                if time.monotonic() >= next_sweep:
                    next_sweep += SWEEP_EVERY.total_seconds()
                    runner.fire_stranded_timer()
            except Exception as exc:  # keep serving; the runner records failures itself
                print(f"queue runner: {type(exc).__name__}: {exc}", file=sys.stderr)

    thread = threading.Thread(target=loop, name="queue-runner", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=70)


def main(argv: list[str] | None = None) -> int:
    from datetime import UTC, datetime

    from local.identity import LOGIC_APP_OID, TokenIssuer
    from local.stack import local_stack
    from local.tenant import generate

    parser = argparse.ArgumentParser(prog="python -m local.serve", description=__doc__)
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--users", type=int, default=50, help="size of the sample tenant")
    args = parser.parse_args(argv)
    tenant = generate(users=args.users, window_end=datetime.now(UTC))
    print(f"sample tenant: {len(tenant.users)} users, {len(tenant.sign_ins)} sign-ins, window "
          f"{tenant.window.start:%Y-%m-%d %H:%M} to {tenant.window.end:%Y-%m-%d %H:%M} UTC")
    with TokenIssuer() as issuer, local_stack(
            tenant=tenant, real_clock=True, REMEDIATION_ALLOWED_CALLERS=LOGIC_APP_OID,
            **issuer.settings()) as local:
        api = LocalApi(local.services, port=args.port).start()
        try:
            with background_runner(local.services):
                _print_welcome(api, issuer.mint(lifetime_s=8 * 3600))
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
                signal.sigwait({signal.SIGINT, signal.SIGTERM})
        finally:
            api.stop()
    return 0


def _print_welcome(api: LocalApi, token: str) -> None:
    base, key = api.base_url, api.function_key
    print(f"""
HTTP API on {base}/api   (Ctrl-C stops everything)
  function key:   {key}
  health:         curl {base}/api/health
  OpenAPI:        curl {base}/api/openapi.json
  review a user:  curl -s -X POST {base}/api/reviews -H 'x-functions-key: {key}' \\
                    -H 'Content-Type: application/json' \\
                    -d '{{"user": "<upn or object id>", "lookbackHours": 72}}'
  review tenant:  curl -si -X POST {base}/api/reviews -H 'x-functions-key: {key}' \\
                    -H 'Content-Type: application/json' -d '{{"scope": "tenant"}}'
  remediate:      add -H 'Authorization: Bearer $TOKEN' to POST {base}/api/remediations
  TOKEN: a bearer token of the allowed Logic App caller, valid 8 hours, signed by this run's
  local issuer (restart for a new one):
{token}
""", flush=True)


if __name__ == "__main__":
    sys.exit(main())
