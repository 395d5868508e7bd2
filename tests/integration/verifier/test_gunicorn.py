"""The verifier as deployed: gunicorn with config/verifier.gunicorn.conf.py, two workers,
production mode, over real HTTP."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scripts.stack import free_port
from tests.integration.service_fixtures import redis_url

from .helpers import Clock, FakeIssuer, pin

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def gunicorn(instance: Path) -> Iterator[Any]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        full_env = dict(
            os.environ,
            VERIFIER_INSTANCE_PATH=str(instance),
            VERIFIER_ENV="production",
            VERIFIER_BIND=f"127.0.0.1:{port}",
            VERIFIER_WORKERS="2",
            VERIFIER_RATELIMIT_STORAGE_URI=redis_url(),
            PYTHONPATH=str(ROOT),
            **env,
        )
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "--config",
                str(ROOT / "config" / "verifier.gunicorn.conf.py"),
                "verifier:create_app()",
            ],
            env=full_env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        return process, f"http://127.0.0.1:{port}"

    yield start
    for process in processes:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn exited"
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise AssertionError("gunicorn did not become ready")


@pytest.fixture
def clock() -> Clock:
    """Gunicorn runs on the real clock, so this module's fake city does too."""
    return Clock(datetime.now(UTC))


def test_verifies_under_gunicorn_in_production_mode(
    gunicorn: Any, serve_issuer: Any, runner: Any, clock: Clock
) -> None:
    city: FakeIssuer = serve_issuer()
    city.publish(clock())
    added = pin(runner, city)
    assert added.exit_code == 0, added.output
    process, url = gunicorn(VERIFIER_SECRET_KEY=secrets.token_hex(32))
    _wait_ready(url, process)
    text, card = city.card(now=clock())
    before = list(city.requests)
    for _ in range(4):  # likely both workers
        request = urllib.request.Request(
            f"{url}/api/v1/verify",
            data=json.dumps({"qr": text}).encode(),
            headers={"Content-Type": "application/json", "Accept-Language": "pt-BR"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.loads(response.read())
            assert response.headers["Cache-Control"] == "no-store"
        assert body["result"] == "valid"
        assert body["card"]["number"] == card.number
        assert body["message"] == "Cartão autêntico, válido."
    assert city.requests == before  # the issuer heard nothing
    # Nothing in the server's output says that, when or from where a card was checked: no
    # access log line, no card number, no name (docs/privacy.md, rule 3).
    process.terminate()
    assert process.stdout is not None
    output = process.stdout.read().decode()
    assert "Booting worker" in output  # the output was captured
    for trace in ("/api/v1/verify", "POST", card.number, card.holder_name, text[:20]):
        assert trace not in output, trace


def test_refuses_to_start_without_a_secret_in_production(gunicorn: Any) -> None:
    process, _url = gunicorn()
    process.wait(timeout=30)
    assert process.returncode != 0
    assert process.stdout is not None
    assert b"VERIFIER_SECRET_KEY is required" in process.stdout.read()


def test_reads_its_secret_from_a_file_and_stops_on_an_unreadable_one(
    gunicorn: Any, tmp_path: Path
) -> None:
    """VERIFIER_SECRET_KEY_FILE, as a container's secret store gives it: served with, and a path
    that cannot be read stops the start with its name, never a generated fallback."""
    secret = tmp_path / "verifier_secret_key"
    secret.write_text(secrets.token_hex(32) + "\n")
    secret.chmod(0o600)
    process, url = gunicorn(VERIFIER_SECRET_KEY_FILE=str(secret))
    _wait_ready(url, process)
    missing = tmp_path / "missing"
    process, _url = gunicorn(VERIFIER_SECRET_KEY_FILE=str(missing))
    process.wait(timeout=30)
    assert process.returncode != 0
    assert process.stdout is not None
    output = process.stdout.read()
    assert f"cannot read secret file {missing} (VERIFIER_SECRET_KEY_FILE)".encode() in output


def test_error_log_names_no_client_address_and_sends_hsts(gunicorn: Any) -> None:
    """gunicorn's own line for a malformed request names the client's address and quotes the
    request line; the verifier's logger withholds both. Production answers carry HSTS."""
    process, url = gunicorn(VERIFIER_SECRET_KEY=secrets.token_hex(32))
    _wait_ready(url, process)
    with urllib.request.urlopen(f"{url}/healthz", timeout=10) as response:
        assert (
            response.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
        )
        assert "/" not in response.headers.get("Server", "")  # no version banner
    # A client address of its own (Linux answers on all of 127.0.0.0/8), to look for below.
    client = (
        f"127.{secrets.randbelow(254) + 1}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"
    )
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), 10, (client, 0)) as sock:
        sock.sendall(b"POST /api/v1/verify?qr=MC1:SECRETCARD HTTP/1.1 x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 400")
    process.terminate()
    assert process.stdout is not None
    output = process.stdout.read().decode()
    assert "Invalid request: Invalid HTTP Version" in output, output
    assert client not in output
    assert "SECRETCARD" not in output
