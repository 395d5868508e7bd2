"""The issuance service under gunicorn for a benchmark: its CLI, and a server started with the
production settings file (config/gunicorn.conf.py) and waited for on /healthz.

Shared by bench_db_faults.py and bench_upload.py, which measure what only a real server shows
(dropped connections, worker memory)."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def cardservice(env: dict[str, str], *args: str) -> str:
    """Runs `cardservice ARGS` with this environment; its standard output."""
    done = subprocess.run(
        [str(BIN / "cardservice"), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """gunicorn serving cardservice on 127.0.0.1:port (CARDSERVICE_BIND in `env` must say so),
    without an access log; returns once /healthz answers."""
    process = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            *("--config", str(ROOT / "config" / "gunicorn.conf.py")),
            *("--access-logfile", "/dev/null", "cardservice:create_app()"),
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).close()
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start")
