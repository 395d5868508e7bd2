"""Fixtures for the verifier's integration tests.

The fake city (verifier_helpers.FakeIssuer) is served over real HTTP on 127.0.0.1, so
``partners add`` and ``sync`` run end to end through the network code. Its server records every
request path, so a test can assert that verifying a card sends the issuer nothing.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from verifier import create_app

from .helpers import START, Clock, FakeIssuer, pin


class _Handler(BaseHTTPRequestHandler):
    issuer: FakeIssuer

    def do_GET(self) -> None:
        self.issuer.requests.append(self.path)
        body = self.issuer.docs.get(self.path)
        if body is None:
            self.send_error(404)
            return
        # As cardservice's publication does: a strong ETag from the bytes, 304 on a match.
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.issuer.not_modified.append(self.path)
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", etag)
        self.send_header("Content-Type", "application/cose")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the list of requests is the access log


@pytest.fixture
def serve_issuer() -> Iterator[Any]:
    """A factory: serve a FakeIssuer over HTTP on 127.0.0.1 (stopped at teardown)."""
    servers: list[ThreadingHTTPServer] = []

    def serve(code: str = "FR SXB", names: dict[str, str] | None = None, **kw: Any) -> FakeIssuer:
        issuer = FakeIssuer(
            code=code,
            names=names or {"fr": "Strasbourg", "en": "Strasbourg", "ar": "ستراسبورغ"},
            **kw,
        )
        handler = type("Handler", (_Handler,), {"issuer": issuer})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        issuer.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        issuer.publish(START, bump=False)
        return issuer

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    path = tmp_path / "instance"
    path.mkdir()
    return path


@pytest.fixture
def app_factory(instance: Path, clock: Clock) -> Any:
    def make(**overrides: Any) -> Flask:
        config: dict[str, Any] = {
            "ENV": "testing",
            "INSTANCE_PATH": str(instance),
            "CLOCK": clock,
            "RATELIMIT_ENABLED": False,
            "SYNC_RETRIES": 0,
            "SYNC_TIMEOUT": 5,
            # Tests change the store and verify at once; production checks once a second.
            "TRUST_RELOAD_INTERVAL": 0,
        }
        config.update(overrides)
        return create_app(config)

    return make


# ``client`` and ``runner`` are the shared ones (tests/integration/service_fixtures.py): they
# take this ``app``.
@pytest.fixture
def app(app_factory: Any) -> Flask:
    app: Flask = app_factory()
    return app


@pytest.fixture
def city(serve_issuer: Any, runner: FlaskCliRunner) -> FakeIssuer:
    """Strasbourg, served on loopback and pinned in the verifier through the CLI."""
    issuer: FakeIssuer = serve_issuer()
    result = pin(runner, issuer)
    assert result.exit_code == 0, result.output
    return issuer
