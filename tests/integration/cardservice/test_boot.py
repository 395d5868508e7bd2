"""boot.sh, outside Docker: migrate, serve with gunicorn, answer /healthz, stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from scripts.stack import free_port

from .boot_script import start_boot_script


def test_boot_script_migrates_and_serves(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "boot.sqlite3"
    process = start_boot_script(
        CARDSERVICE_INSTANCE_PATH=str(tmp_path / "instance"),
        CARDSERVICE_DATABASE_URL=f"sqlite:///{database}",
        CARDSERVICE_BIND=f"127.0.0.1:{port}",
        CARDSERVICE_WORKERS="1",
    )
    try:
        body = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    body = json.loads(r.read())
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.3)
        assert body is not None and body["status"] == "ok", "boot.sh did not serve /healthz"
        # The schema was migrated before serving.
        assert database.exists()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json") as r:
            assert json.loads(r.read())["openapi"].startswith("3.1")
        # Public metadata answers a problem (no city yet), not a crash.
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/.well-known/citycard/issuer")
        except urllib.error.HTTPError as exc:
            assert exc.code == 503
            assert exc.headers["Content-Type"] == "application/problem+json"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            output = process.communicate(timeout=30)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output = process.communicate()[0].decode(errors="replace")
    assert process.returncode == 0, output
    assert "Running upgrade" in output
    assert "Traceback" not in output
