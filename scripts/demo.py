"""`make run`: a demo city on SQLite, its issuance app on :5000 and a verifier on :5001.

The first run creates the city (root key, signing key, status list), an administrator account
with a random password, and pins the city in the verifier's trust store; later runs reuse them
and print the same login. Everything lives under instance/demo/, so `rm -rf instance/demo`
starts over. The verifier syncs every SYNC_SECONDS (`verifier sync --every`), so a card revoked
at the counter shows as not valid on the agent page within 15 s. Ctrl-C stops everything.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "instance" / "demo"
BIN = Path(sys.executable).parent
CITY_CODE = "FR SXB"
CITY_NAMES = ("fr=Strasbourg", "en=Strasbourg", "de=Straßburg")
ISSUER_URL = "http://127.0.0.1:5000"
VERIFIER_URL = "http://127.0.0.1:5001"
LOGIN_FILE = DEMO / "demo-login.txt"
# The issuer re-signs a changed status list on the next fetch and the verifier's workers look
# at the synced store at least once a second: a revocation reaches the agent page within
# SYNC_SECONDS plus a second or two.
SYNC_SECONDS = 10
USERNAME = "demo-admin"


def env() -> dict[str, str]:
    return os.environ | {
        "CARDSERVICE_INSTANCE_PATH": str(DEMO / "cardservice"),
        "CARDSERVICE_PUBLIC_URL": ISSUER_URL,
        "VERIFIER_INSTANCE_PATH": str(DEMO / "verifier"),
    }


def run(*args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        args, env=env(), input=stdin, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"demo: `{' '.join(args)}` failed:\n{result.stdout}{result.stderr}")
    return result.stdout.strip()


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(100):
        if process.poll() is not None:
            sys.exit(f"demo: the server for {url} stopped while starting")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"demo: {url} did not start")


def prepare_city() -> str:
    """Create the city and its administrator once; return the root fingerprint."""
    cardservice = str(BIN / "cardservice")
    print("Preparing the demo city (SQLite in instance/demo/) ...")
    run(cardservice, "db", "upgrade")
    if not LOGIN_FILE.exists():
        run(cardservice, "init-city", "--code", CITY_CODE, *[f"--name={n}" for n in CITY_NAMES])
        password = secrets.token_urlsafe(12)
        run(
            cardservice,
            "users",
            "create",
            USERNAME,
            "--role",
            "admin",
            "--password-stdin",
            stdin=password + "\n",
        )
        LOGIN_FILE.write_text(f"{USERNAME}\n{password}\n", encoding="utf-8")
        LOGIN_FILE.chmod(0o600)
    return run(cardservice, "keys", "fingerprint")


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # a `kill` stops both servers too, like Ctrl-C


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    DEMO.mkdir(parents=True, exist_ok=True)
    fingerprint = prepare_city()
    servers = [
        subprocess.Popen([str(BIN / "cardservice"), "run", "--port", "5000"], env=env()),
    ]
    try:
        wait_until_up(ISSUER_URL, servers[0])
        verifier = str(BIN / "verifier")
        if CITY_CODE not in run(verifier, "partners", "list"):
            run(
                verifier,
                "partners",
                "add",
                "--metadata-url",
                f"{ISSUER_URL}/.well-known/citycard/issuer",
                "--fingerprint",
                fingerprint,
            )
        run(verifier, "sync")
        servers.append(subprocess.Popen([verifier, "run", "--port", "5001"], env=env()))
        wait_until_up(VERIFIER_URL, servers[1])
        # The periodic sync, as production runs it (docs/federation.md). Its per-round report
        # would flood the terminal; failures still show (standard error).
        servers.append(
            subprocess.Popen(
                [verifier, "sync", "--every", str(SYNC_SECONDS)],
                env=env(),
                stdout=subprocess.DEVNULL,
            )
        )
        username, password = LOGIN_FILE.read_text(encoding="utf-8").split()
        print(
            f"\n  Issuance app (counter): {ISSUER_URL}/   login: {username} / {password}\n"
            f"  Verifier (agent page):  {VERIFIER_URL}/\n"
            f"  Root fingerprint of {CITY_CODE}: {fingerprint}\n\n"
            "  Enrol a resident and issue a card at the counter, then scan or paste its QR text\n"
            f"  into the agent page. The verifier syncs every {SYNC_SECONDS} s: a card revoked at\n"
            "  the counter shows as not valid within 15 s.\n"
            "  Ctrl-C stops everything.\n"
        )
        while all(server.poll() is None for server in servers):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
