"""A small HTTP server on 127.0.0.1 in a background thread: what the local stand-ins (the API
under `make serve`, the token issuer, the approval inbox) are served by."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackServer:
    """Serves `handler` on 127.0.0.1 (`port` 0: a free one) until `stop`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, port: int = 0,
                 name: str = "loopback-http") -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
