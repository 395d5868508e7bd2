"""An attacker in the middle of the service and the real provider of tests/oidc, on loopback.

Everything is forwarded to the real provider as it came, both ways; only the ``id_token`` of
the token endpoint's answer is replaced, by whatever ``replace`` returns for the real one (the
real one is kept in ``seen``). The provider is started with this proxy's address as its issuer,
so the service, configured with that issuer, reaches every endpoint through it.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from scripts.stack import free_port

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "upgrade"}

Replace = Callable[[str], str]


class TamperingProxy:
    def __init__(self, port: int) -> None:
        self.port = port
        self.target = ""  # the real provider's address, set once it runs
        self.replace: Replace | None = None
        self.seen: list[str] = []  # the real ID tokens that went through, oldest first

    def reset(self) -> TamperingProxy:
        """Forward everything as it comes again, and forget the tokens seen."""
        self.replace = None
        self.seen.clear()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        target = urlsplit(self.target)
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=15)
        try:
            connection.request(method, path, body=body or None, headers=headers)
            answer = connection.getresponse()
            status, response_headers, content = answer.status, answer.getheaders(), answer.read()
        finally:
            connection.close()
        if method == "POST" and path.split("?")[0].endswith("/token") and status == 200:
            content = self._tamper(content)
        return status, response_headers, content

    def _tamper(self, content: bytes) -> bytes:
        tokens = json.loads(content)
        real = tokens.get("id_token")
        if isinstance(real, str):
            self.seen.append(real)
            if self.replace is not None:
                tokens["id_token"] = self.replace(real)
        return json.dumps(tokens).encode()


def _handler(proxy: TamperingProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            status, answer_headers, content = proxy.forward(self.command, self.path, headers, body)
            self.send_response(status)
            for name, value in answer_headers:
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = _relay

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: pytest shows failures, not every forwarded request

    return Handler


@contextmanager
def running_proxy() -> Iterator[TamperingProxy]:
    """The proxy on a free loopback port; set ``target`` once the provider runs."""
    proxy = TamperingProxy(free_port())
    server = ThreadingHTTPServer(("127.0.0.1", proxy.port), _handler(proxy))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
