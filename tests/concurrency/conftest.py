"""The concurrency suite on the reference stack (scripts/stack.py): two issuance instances as a
city runs them.

``Stack.up()`` starts what tests/stack tests too: two cardservice instances under gunicorn in
production mode (secrets as files, an https public URL, one trusted proxy hop) sharing one
PostgreSQL resident database and one PostgreSQL key store, created fresh for the run and dropped
after it, with the sign-in rate limits in the Redis database of TEST_REDIS_URL, the verifier and
nginx in front. The tests talk to the instances straight on their own ports (plain HTTP, as nginx
does): a test picks the instance it loads, and kills one instance's worker.

PostgreSQL is required: without TEST_POSTGRES_URL, or with the server unreachable, the suite
fails; it never skips. Every test bounds its own work in count and time.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from scripts.stack import Stack, StackError
from tests.integration.service_fixtures import postgres_url, redis_url

HERE = Path(__file__).resolve().parent
STAFF_PASSWORD = "concurrency suite password"
# Clerk accounts for the lockout tests (test_c_lockout.py).
STAFF_ACCOUNTS = ("burst.wrong", "burst.right0", "burst.right1", "burst.right2")
SETTINGS = {
    # The lockout is under test, not the per-address limit in front of it.
    "CARDSERVICE_RATELIMIT_LOGIN": "1000 per minute",
    # Concurrent writes are under test, not the per-token limit (tests/integration covers it).
    "CARDSERVICE_RATELIMIT_TOKEN": "100000 per second",
    "CARDSERVICE_RATELIMIT_SEARCH": "100000 per minute",
    "CARDSERVICE_THREADS": "2",
    "CARDSERVICE_LOG_LEVEL": "warning",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.concurrency)


@dataclass
class Instance:
    """One cardservice instance of the stack, reached on its own port."""

    url: str
    pid: int  # the gunicorn master

    def workers(self) -> list[int]:
        """The worker processes' ids (children of the gunicorn master)."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        return [int(pid) for pid in children.read_text().split()]


@dataclass
class Suite:
    """The running stack and what the tests read it with."""

    stack: Stack
    instances: list[Instance]
    database: Engine  # the resident database, for the tests' own checks
    keystore: Engine
    tokens: dict[str, str]

    @property
    def public_url(self) -> str:
        """The instances' CARDSERVICE_PUBLIC_URL (nginx's address)."""
        return self.stack.url

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """A `cardservice` command with the instances' settings: its output (a failure fails
        the test with the command's output)."""
        try:
            return self.stack.cardservice_cli(*args, stdin=stdin)
        except StackError as exc:
            pytest.fail(str(exc))

    def api(self, token: str) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        return session


@pytest.fixture(scope="session")
def stack() -> Iterator[Suite]:
    url = postgres_url()
    if url is None:
        pytest.fail("TEST_POSTGRES_URL is not set: the concurrency suite runs on PostgreSQL only")
    running = Stack(postgres_url=url, redis_url=redis_url(), cardservice_extra=SETTINGS)
    try:
        running.up()
    except StackError as exc:  # an unreachable server fails the suite, never skips it
        pytest.fail(f"the stack did not start: {exc}")
    database = create_engine(running.database_url(0))
    keystore = create_engine(running.database_url(1))
    try:
        instances = [
            Instance(f"http://{running.host}:{port}", running.server_pid(f"cardservice-{i}"))
            for i, port in enumerate(running.app_ports, start=1)
        ]
        suite = Suite(running, instances, database, keystore, {})

        def account(username: str) -> None:
            suite.cli(
                *("users", "create", username, "--role", "clerk", "--password-stdin"),
                stdin=STAFF_PASSWORD,
            )

        def token(role: str) -> None:
            suite.tokens[role] = suite.cli("tokens", "create", role, "--role", role)

        with ThreadPoolExecutor(len(STAFF_ACCOUNTS) + 2) as pool:
            done = [pool.submit(account, name) for name in STAFF_ACCOUNTS]
            done += [pool.submit(token, role) for role in ("clerk", "supervisor")]
            for future in done:
                future.result()
        yield suite
    finally:
        database.dispose()
        keystore.dispose()
        running.down()


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def sign_in(url: str, username: str, password: str) -> int:
    """One sign-in through the counter's form, as a browser makes it: the status code (302 is
    signed in). The session cookie is marked Secure, so it is carried by hand over plain HTTP."""
    page = requests.get(f"{url}/login", timeout=30)
    token = _CSRF.search(page.text)
    assert token is not None, page.text[:500]
    response = requests.post(
        f"{url}/login",
        data={"username": username, "password": password, "csrf_token": token.group(1)},
        headers={"Cookie": "; ".join(f"{k}={v}" for k, v in page.cookies.items())},
        allow_redirects=False,
        timeout=60,
    )
    return response.status_code


class Tally:
    """Responses by status, from many threads (list.append is atomic under the GIL)."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.failures: list[str] = []  # no HTTP answer at all (connection dropped)

    def add(self, response: requests.Response) -> requests.Response:
        self.statuses.append(response.status_code)
        return response

    def count(self, predicate: Any) -> int:
        return sum(1 for status in self.statuses if predicate(status))

    @property
    def server_errors(self) -> int:
        return self.count(lambda s: s >= 500)


def enrol(http: requests.Session, url: str, tally: Tally, **extra: Any) -> requests.Response:
    body = {
        "display_name": f"Resident {secrets.token_hex(4)}",
        "birth_date": "1990-04-17",
        "documents": ["passport", "utility_bill"],
        **extra,
    }
    return tally.add(http.post(f"{url}/api/v1/residents", json=body, timeout=60))


def issue(http: requests.Session, url: str, resident_id: str, tally: Tally) -> requests.Response:
    return tally.add(http.post(f"{url}/api/v1/residents/{resident_id}/cards", timeout=60))
