"""The issuance app under gunicorn with config/gunicorn.conf.py, production settings and Redis
rate-limit storage, reached over real HTTP (issue 11): forwarded headers count only from the
proxy's address, and gunicorn's access and error logs carry no path ids or client addresses.

Clients connect from loopback addresses of their own (Linux answers on all of 127.0.0.0/8), so
the "proxy", the "direct client" and this test's own checks are told apart by the app, and each
run counts under fresh addresses in the shared Redis database.
"""

from __future__ import annotations

import base64
import http.client
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.stack import free_port
from tests.integration.service_fixtures import (
    drop_postgres_settings,
    postgres_settings,
    postgres_url,
    redis_url,
)

from .boot_script import start_boot_script

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _loopback() -> str:
    """A loopback address nobody else in this run uses."""
    return f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


class Server:
    def __init__(self, port: int, process: subprocess.Popen[bytes]) -> None:
        self.port = port
        self.process = process
        self.output = ""

    def request(
        self,
        method: str,
        path: str,
        *,
        source: str = "127.0.0.1",
        headers: dict[str, str] | None = None,
        body: str | None = None,
    ) -> tuple[int, dict[str, str], str]:
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=10, source_address=(source, 0)
        )
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read().decode()
        finally:
            connection.close()

    def raw(self, data: bytes, *, source: str) -> None:
        with socket.create_connection(("127.0.0.1", self.port), 10, (source, 0)) as sock:
            sock.sendall(data)
            sock.recv(65536)

    def stop(self) -> str:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            out = self.process.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            out = self.process.communicate()[0]
        self.output = out.decode(errors="replace")
        return self.output


@pytest.fixture
def proxy_address() -> str:
    return _loopback()


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[dict[str, str]]:
    """SQLite files, or in the PostgreSQL pass a schema of their own on the test server (the
    search path given in the URLs, as an operator would)."""
    url = postgres_url()
    if url is None:
        yield {
            "CARDSERVICE_DATABASE_URL": f"sqlite:///{tmp_path / 'cards.sqlite3'}",
            "CARDSERVICE_KEYSTORE_DATABASE_URL": f"sqlite:///{tmp_path / 'keys.sqlite3'}",
        }
        return
    settings = postgres_settings(url, "gunicorn_test")
    option = "?options=-csearch_path%3D"
    try:
        yield {
            "CARDSERVICE_DATABASE_URL": url + option + settings["_TEST_SCHEMA"],
            "CARDSERVICE_KEYSTORE_DATABASE_URL": settings["KEYSTORE_DATABASE_URI"]
            + option
            + settings["_TEST_KEYSTORE_SCHEMA"],
        }
    finally:
        drop_postgres_settings(settings)


@pytest.fixture
def server(tmp_path: Path, proxy_address: str, databases: dict[str, str]) -> Iterator[Server]:
    """boot.sh (migrations, then gunicorn with its config file) as production runs it."""
    port = free_port()
    key = base64.b64encode(os.urandom(32)).decode()
    process = start_boot_script(
        CARDSERVICE_ENV="production",
        CARDSERVICE_PUBLIC_URL="https://cards.example.org",
        CARDSERVICE_INSTANCE_PATH=str(tmp_path / "instance"),
        **databases,
        CARDSERVICE_SECRET_KEY="s" * 48,
        CARDSERVICE_KEY_PASSPHRASE=secrets.token_urlsafe(32),
        CARDSERVICE_MASTER_KEY=key,
        CARDSERVICE_INDEX_KEY=base64.b64encode(os.urandom(32)).decode(),
        CARDSERVICE_RATELIMIT_STORAGE_URI=redis_url(),
        CARDSERVICE_PROXY_HOPS="1",
        CARDSERVICE_TRUSTED_PROXY_ADDRESSES=proxy_address,
        CARDSERVICE_BIND=f"127.0.0.1:{port}",
        CARDSERVICE_WORKERS="2",
    )
    running = Server(port, process)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, running.stop()
            assert time.monotonic() < deadline, "gunicorn did not answer /healthz"
            try:
                if running.request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.3)
        yield running
    finally:
        running.stop()


def _sign_in_attempt(server: Server, source: str, forwarded: str) -> int:
    """One wrong password, with a fresh form (CSRF token and session cookie) each time, as a
    script trying passwords would do. The session cookie is Secure: sent by hand over HTTP."""
    headers = {"X-Forwarded-For": forwarded}
    status, response_headers, page = server.request("GET", "/login", source=source, headers=headers)
    assert status in (200, 429), status
    match = _CSRF.search(page)
    assert match, page[:300]
    cookie = response_headers["Set-Cookie"].split(";", 1)[0]
    body = f"csrf_token={match.group(1)}&username=clerk&password=wrong-password-{forwarded}"
    status, _headers, _page = server.request(
        "POST",
        "/login",
        source=source,
        headers={
            **headers,
            "Cookie": cookie,
            "Content-Type": "application/x-www-form-urlencoded",
        },
        body=body,
    )
    return status


def test_spoofed_forwarded_for_cannot_escape_the_sign_in_limit(
    server: Server, proxy_address: str
) -> None:
    """25 attempts straight at the app's port, each claiming another client address: the
    limit (10 per minute) holds, counted in Redis across both workers."""
    attacker = _loopback()
    statuses = [_sign_in_attempt(server, attacker, f"203.0.113.{n}") for n in range(1, 26)]
    assert set(statuses[:10]) == {422}, statuses
    assert set(statuses[10:]) == {429}, statuses

    # Through the trusted proxy, the forwarded address is the client's: one client reaches
    # the limit, the next forwarded client still has its own budget.
    client = f"2001:db8::{random.randint(1, 0xFFFF):x}:{random.randint(1, 0xFFFF):x}"
    proxied = [_sign_in_attempt(server, proxy_address, client) for _ in range(11)]
    assert proxied == [422] * 10 + [429], proxied
    other = f"2001:db8::{random.randint(1, 0xFFFF):x}:{random.randint(1, 0xFFFF):x}"
    assert _sign_in_attempt(server, proxy_address, other) == 422


CARD_NUMBER = "SXB-4F7K-9Q2M"
RESIDENT_ID = "7f3c1d2e-5b6a-4c8d-9e0f-a1b2c3d4e5f6"
TOKEN_NEEDLE = "cc_tok_Zq8Xw3LmP0"


def test_access_and_error_logs_carry_no_ids_paths_or_client_addresses(server: Server) -> None:
    client = _loopback()
    requests = [
        ("GET", f"/api/v1/cards/{CARD_NUMBER}", 401),
        ("GET", f"/api/v1/cards/{CARD_NUMBER}.pdf", 401),
        ("POST", f"/api/v1/cards/{CARD_NUMBER}/revoke", 401),
        ("GET", f"/api/v1/residents/{RESIDENT_ID}", 401),
        ("GET", f"/residents/{RESIDENT_ID}", 302),
        ("GET", f"/cards/{CARD_NUMBER}/card.pdf", 302),
        ("GET", f"/no/such/page/{TOKEN_NEEDLE}", 404),
        ("GET", f"/.well-known/citycard/status/99999999999?{TOKEN_NEEDLE}", 404),
    ]
    for method, path, expected in requests:
        status, headers, _body = server.request(
            method, path, source=client, headers={"Referer": f"https://x.example/{TOKEN_NEEDLE}"}
        )
        assert status == expected, (path, status)
        # No version banner: at most the server's bare name.
        assert "/" not in headers.get("Server", ""), headers["Server"]
    # A malformed request line that quotes a card number: gunicorn rejects it itself.
    server.raw(f"GET /api/v1/cards/{CARD_NUMBER} HTTP/1.1 x\r\n\r\n".encode(), source=client)
    output = server.stop()

    assert '"GET /api/v1/cards/<number> HTTP/1.1" 401' in output, output
    assert '"GET /api/v1/cards/<number>.pdf HTTP/1.1" 401' in output
    assert '"POST /api/v1/cards/<number>/revoke HTTP/1.1" 401' in output
    assert '"GET /api/v1/residents/<resident_id> HTTP/1.1" 401' in output
    assert '"GET /residents/<resident_id> HTTP/1.1" 302' in output
    assert '"GET (no route) HTTP/1.1" 404' in output
    assert "Invalid request: Invalid HTTP Version" in output, output
    for needle in (CARD_NUMBER, RESIDENT_ID, TOKEN_NEEDLE, "99999999999", client):
        assert needle not in output, needle
    assert "Traceback" not in output
