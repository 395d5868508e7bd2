"""Start the real OpenID provider of tests/oidc (node, panva/oidc-provider) on loopback.

`npm ci --prefix tests/oidc` (the Makefile's `oidc-provider` target, run by `make test`)
installs it; without it the tests fail with that command, they never skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scripts.stack import free_port

HERE = Path(__file__).resolve().parent
CLIENT_ID = "cardservice-counter"
CLIENT_SECRET = "test-client-secret-0123456789abcdef"
PASSWORD = "provider password 1"

#: The provider's accounts: claims as a city's directory would send them.
USERS: dict[str, dict[str, Any]] = {
    # Signed in with two factors at the provider (amr per RFC 8176).
    "amira": {
        "password": PASSWORD,
        "claims": {
            "preferred_username": "amira.admin",
            "name": "Amira",
            "roles": ["cardservice-admin", "other-app"],
        },
        "acr": "urn:city:loa:mfa",
        "amr": ["pwd", "otp", "mfa"],
    },
    # A password only.
    "bruno": {
        "password": PASSWORD,
        "claims": {"preferred_username": "bruno", "roles": "cardservice-clerk"},
        "acr": "urn:city:loa:1",
        "amr": ["pwd"],
    },
    # Known to the provider but given no role in this service.
    "chloe": {
        "password": PASSWORD,
        "claims": {"preferred_username": "chloe", "roles": ["other-app"]},
        "amr": ["pwd"],
    },
    # Claims the user name of the counter's seeded local administrator.
    "mallory": {
        "password": PASSWORD,
        "claims": {"preferred_username": "admin", "roles": ["cardservice-clerk"]},
        "amr": ["pwd"],
    },
}

ROLE_MAP = "cardservice-admin=admin,cardservice-supervisor=supervisor,cardservice-clerk=clerk"


@dataclass
class Provider:
    issuer: str
    process: subprocess.Popen[bytes]

    def env(self, **extra: str) -> dict[str, str]:
        """The cardservice settings that use this provider."""
        return {
            "CARDSERVICE_OIDC_ISSUER": self.issuer,
            "CARDSERVICE_OIDC_CLIENT_ID": CLIENT_ID,
            "CARDSERVICE_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "CARDSERVICE_OIDC_ROLE_MAP": ROLE_MAP,
            "CARDSERVICE_OIDC_MFA_ACR": "urn:city:loa:mfa",
            **extra,
        }


def _node_modules() -> Path:
    modules = HERE / "node_modules" / "oidc-provider"
    if not modules.is_dir():
        pytest.fail(f"the test OpenID provider is not installed: run `npm ci --prefix {HERE}`")
    if shutil.which("node") is None:
        pytest.fail("node is not installed (scripts/system-packages.sh installs it)")
    return modules


@contextmanager
def run_provider(redirect_uris: list[str]) -> Iterator[Provider]:
    _node_modules()
    port = free_port()
    clients = [
        {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": redirect_uris,
            "response_types": ["code"],
            "grant_types": ["authorization_code"],
            "token_endpoint_auth_method": "client_secret_basic",
        }
    ]
    env = {
        **os.environ,
        "OIDC_PORT": str(port),
        "OIDC_CLIENTS": json.dumps(clients),
        "OIDC_USERS": json.dumps(USERS),
    }
    process = subprocess.Popen(
        ["node", str(HERE / "provider.mjs")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 30
        line = b""
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if line.startswith(b"ready ") or process.poll() is not None:
                break
        if not line.startswith(b"ready "):
            process.kill()
            _out, err = process.communicate(timeout=10)
            pytest.fail(f"the test OpenID provider did not start: {err.decode()[-2000:]}")
        yield Provider(issuer=line.decode().split()[1], process=process)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
