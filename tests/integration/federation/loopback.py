"""Plain HTTP servers on 127.0.0.1 for the federation tests: the metadata proxy (conftest.py)
and the coordinator's static web server (network_fixtures.py) answer through one handler base
and are started and closed by one set of servers."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that answers with bytes and keeps the test output free of its log."""

    def answer(self, status: int, body: bytes, content_type: str = "application/cose") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LoopbackServers:
    """Servers each in a thread of its own, all shut down and closed by ``close()``."""

    def __init__(self) -> None:
        self._servers: list[ThreadingHTTPServer] = []

    def start(self, handler: type[BaseHTTPRequestHandler]) -> str:
        """Serve ``handler`` on a free port; returns the server's base URL."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        self._servers.append(server)
        # A short poll interval keeps shutdown at teardown quick.
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}"

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
