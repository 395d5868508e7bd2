"""Start the real OpenID provider of tests/oidc (node, panva/oidc-provider) on loopback.

`npm ci --prefix tests/oidc` (the Makefile's `oidc-provider` target, run by `make test`)
installs it; without it the tests fail with that command, they never skip.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests

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
    address: str = ""  # where it listens (the issuer, unless something stands in front of it)

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


def client(client_id: str, redirect_uris: list[str], secret: str = CLIENT_SECRET) -> dict[str, Any]:
    """A confidential client's registration at the provider (code flow, client_secret_basic)."""
    return {
        "client_id": client_id,
        "client_secret": secret,
        "redirect_uris": redirect_uris,
        "response_types": ["code"],
        "grant_types": ["authorization_code"],
        "token_endpoint_auth_method": "client_secret_basic",
    }


@contextmanager
def run_provider(
    redirect_uris: list[str],
    *,
    clients: Sequence[dict[str, Any]] = (),
    host: str = "127.0.0.1",
    port: int = 0,
    issuer: str | None = None,
    tls: tuple[Path, Path] | None = None,
    jwks: dict[str, Any] | None = None,
    id_token_ttl: dict[str, int] | None = None,
) -> Iterator[Provider]:
    """The provider with this service's client (and ``clients`` besides), on ``host``:``port``
    (a free one by default). ``issuer``: the address it is reached at when something stands in
    front of it; ``tls``: (certificate, key) PEM files to serve HTTPS with; ``jwks``: a private
    JWK set to sign with; ``id_token_ttl``: client id -> ID token lifetime in seconds."""
    _node_modules()
    port = port or free_port(host)
    env = {
        **os.environ,
        "OIDC_HOST": host,
        "OIDC_PORT": str(port),
        "OIDC_CLIENTS": json.dumps([client(CLIENT_ID, redirect_uris), *clients]),
        "OIDC_USERS": json.dumps(USERS),
        "OIDC_ID_TOKEN_TTL": json.dumps(id_token_ttl or {}),
    }
    if issuer:
        env["OIDC_ISSUER"] = issuer
    if tls:
        env["OIDC_TLS_CERT"], env["OIDC_TLS_KEY"] = str(tls[0]), str(tls[1])
    if jwks:
        env["OIDC_JWKS"] = json.dumps(jwks)
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
        scheme = "https" if tls else "http"
        yield Provider(
            issuer=line.decode().split()[1], process=process, address=f"{scheme}://{host}:{port}"
        )
    finally:
        stop(process)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ask a server started by a test to stop, then make it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def sign_in_at_provider(
    location: str,
    username: str,
    until: str,
    password: str = PASSWORD,
    browser: requests.Session | None = None,
    verify: str | bool = True,
) -> str:
    """Play the browser at the provider from an authorization request's URL: sign in there;
    returns the redirect URL (starting with ``until``) the provider sends the browser to."""
    browser = browser or requests.Session()
    url = location
    for _ in range(10):
        response = browser.get(url, allow_redirects=False, timeout=10, verify=verify)
        if response.status_code == 200 and "<form" in response.text:
            action = re.search(r'action="([^"]+)"', response.text)
            assert action
            response = browser.post(
                urljoin(url, action.group(1)),
                data={"username": username, "password": password},
                allow_redirects=False,
                timeout=10,
                verify=verify,
            )
        assert response.status_code in (302, 303), (response.status_code, response.text[:500])
        url = urljoin(url, response.headers["Location"])
        if url.startswith(until):
            return url
    raise AssertionError("the provider never sent the browser back")


def token_response(
    issuer: str,
    client_id: str,
    redirect_uri: str,
    username: str,
    *,
    nonce: str,
    secret: str = CLIENT_SECRET,
) -> dict[str, Any]:
    """A whole authorization code flow (PKCE) as client ``client_id``, outside the service: the
    provider's real token response, its ID token carrying ``nonce``."""
    metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid profile",
        "state": secrets.token_urlsafe(16),
        "nonce": nonce,
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    back = sign_in_at_provider(
        f"{metadata['authorization_endpoint']}?{urlencode(query)}", username, redirect_uri
    )
    code = parse_qs(urlsplit(back).query)["code"][0]
    response = requests.post(
        metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        },
        auth=(client_id, secret),
        timeout=10,
    )
    response.raise_for_status()
    tokens: dict[str, Any] = response.json()
    return tokens
