"""The stack suite: the reference deployment (scripts/stack.py), started once for the session.

nginx over HTTPS in front of two cardservice instances and the verifier, in production mode, on
two fresh PostgreSQL databases of the server named by TEST_POSTGRES_URL (else the launcher's
default, STACK_POSTGRES_URL or the local server) and on Redis (TEST_REDIS_URL). Without either
server the suite fails: it is never skipped. `make test-stack`.

The stack listens on 127.0.0.2, so that 127.0.0.1 in any of its log lines is a client's address
(the browser's, the test's), never an address the stack itself listens on. Its instances sign
staff in with the real OpenID provider of tests/oidc, served over HTTPS on 127.0.0.3: another
site than the counter's, as a city's provider is, so the callback is a cross-site navigation.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.stack import OidcClient, Stack, StackError, free_port, make_certificates
from tests.integration.service_fixtures import postgres_url, redis_url
from tests.oidc.harness import CLIENT_ID, CLIENT_SECRET, Provider, run_provider

HERE = Path(__file__).resolve().parent
STACK_HOST = "127.0.0.2"
PROVIDER_HOST = "127.0.0.3"
# The log scan reads every line the rest of the suite made the stack write: it runs last.
LAST = "test_log_scan.py"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ours = [item for item in items if HERE in Path(str(item.path)).resolve().parents]
    for item in ours:
        item.add_marker(pytest.mark.stack)
    last = [item for item in ours if Path(str(item.path)).name == LAST]
    items[:] = [item for item in items if item not in last] + last


@pytest.fixture(scope="session")
def https_port() -> int:
    """The counter's HTTPS port, chosen before the provider starts: its redirect URI has it."""
    return free_port(STACK_HOST)


@pytest.fixture(scope="session")
def oidc_provider(
    https_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Provider, Path]]:
    """The provider over HTTPS (a certificate from a throwaway authority of its own) and that
    authority's certificate."""
    folder = tmp_path_factory.mktemp("oidc-tls")
    ca, cert, key = make_certificates(folder, PROVIDER_HOST)
    redirect = f"https://{STACK_HOST}:{https_port}/sso/callback"
    with run_provider([redirect], host=PROVIDER_HOST, tls=(cert, key)) as provider:
        yield provider, ca


@pytest.fixture(scope="session")
def stack(https_port: int, oidc_provider: tuple[Provider, Path]) -> Iterator[Stack]:
    # TEST_POSTGRES_URL's server (.ci/run sets it), else the launcher's default local server;
    # unreachable, the stack does not start and the suite fails.
    url = postgres_url()
    provider, ca = oidc_provider
    own = (
        "CARDSERVICE_OIDC_ISSUER",
        "CARDSERVICE_OIDC_CLIENT_ID",
        "CARDSERVICE_OIDC_CLIENT_SECRET",
    )
    settings = {name: value for name, value in provider.env().items() if name not in own}
    running = Stack(
        https_port=https_port,
        host=STACK_HOST,
        redis_url=redis_url(),
        oidc=OidcClient(provider.issuer, CLIENT_ID, CLIENT_SECRET, ca, settings),
        **({"postgres_url": url} if url else {}),
    )
    try:
        running.up()
    except StackError as exc:
        pytest.fail(f"the stack did not start: {exc}")
    yield running
    # The logs are removed with the rest: the log scan has read them by now.
    running.down()


@pytest.fixture(scope="session")
def stack_run() -> dict[str, set[str]]:
    """What the end-to-end run used (names, card numbers, resident ids, card codes), for the
    log scan to look for."""
    return {"names": set(), "numbers": set(), "resident_ids": set(), "secrets": set()}


@pytest.fixture(scope="session")
def stack_browser(
    launch: Callable[..., Any], stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    """Chromium that trusts the stack's certificate authority the way a city's browsers trust
    theirs: through an NSS database (in a HOME of its own). No certificate check is turned off."""
    home = tmp_path_factory.mktemp("chromium-home")
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    database = f"sql:{nssdb}"
    certutil = ["certutil", "-d", database]
    subprocess.run([*certutil, "-N", "--empty-password"], check=True, capture_output=True)
    assert stack.oidc and stack.oidc.ca_file
    for name, ca in (("stack", stack.ca_file), ("provider", stack.oidc.ca_file)):
        subprocess.run(
            [*certutil, "-A", "-n", f"citycard {name} CA", "-t", "C,,", "-i", str(ca)],
            check=True,
            capture_output=True,
        )
    return launch(env={**os.environ, "HOME": str(home)})
