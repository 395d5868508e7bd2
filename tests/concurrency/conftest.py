"""The concurrency suite's launcher: two issuance instances as a city runs them.

Each instance is gunicorn with config/gunicorn.conf.py in production mode (secrets as files, an
https public URL, one trusted proxy hop), two workers of two threads, bound to a free port on
127.0.0.1. Both share one PostgreSQL resident database and one PostgreSQL key store, created
fresh for the run and dropped after it (names start with `locks_conc_`), and the sign-in rate
limits live in the Redis database of TEST_REDIS_URL.

PostgreSQL is required: without TEST_POSTGRES_URL, or with the server unreachable, the suite
fails; it never skips. Every test bounds its own work in count and time.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from tests.integration.service_fixtures import postgres_url, redis_url

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
PUBLIC_URL = "https://cards.concurrency.test"
CITY = "FR SXB"
STAFF_PASSWORD = "concurrency suite password"
# Clerk accounts for the lockout tests (test_c_lockout.py).
STAFF_ACCOUNTS = ("burst.wrong", "burst.right0", "burst.right1", "burst.right2")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.concurrency)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Instance:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def workers(self) -> list[int]:
        """The worker processes' ids (children of the gunicorn master)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]


@dataclass
class Stack:
    instances: list[Instance]
    env: dict[str, str]
    database: Engine  # the resident database, for the tests' own checks
    keystore: Engine
    tokens: dict[str, str] = field(default_factory=dict)

    def cli(self, *args: str, check: bool = True, stdin: str | None = None) -> Any:
        result = subprocess.run(
            [str(BIN / "cardservice"), *args],
            env=self.env,
            cwd=ROOT,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check:
            assert result.returncode == 0, f"cardservice {' '.join(args)}: {result.stderr}"
        return result

    def api(self, token: str) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        return session


def _database_urls(base: str) -> tuple[str, str, str]:
    name = f"locks_conc_{uuid.uuid4().hex[:8]}"
    url = make_url(base)
    return (
        name,
        url.set(database=name).render_as_string(hide_password=False),
        url.set(database=f"{name}_keys").render_as_string(hide_password=False),
    )


def _start(env: dict[str, str], instance_dir: Path, index: int) -> Instance:
    port = _free_port()
    log = instance_dir / f"gunicorn-{index}.log"
    with log.open("wb") as out:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--config",
                str(ROOT / "config" / "gunicorn.conf.py"),
                "cardservice:create_app()",
            ],
            env={**env, "CARDSERVICE_BIND": f"127.0.0.1:{port}"},
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Instance(process, f"http://127.0.0.1:{port}", log)


def _wait_ready(instance: Instance) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if instance.process.poll() is not None:
            pytest.fail(f"gunicorn exited:\n{instance.log.read_text()[-3000:]}")
        try:
            if requests.get(f"{instance.url}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    pytest.fail(f"gunicorn did not answer /healthz:\n{instance.log.read_text()[-3000:]}")


def _stop(instance: Instance) -> None:
    if instance.process.poll() is None:
        os.killpg(instance.process.pid, signal.SIGTERM)
        try:
            instance.process.wait(timeout=25)
        except subprocess.TimeoutExpired:
            os.killpg(instance.process.pid, signal.SIGKILL)
            instance.process.wait(timeout=10)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = postgres_url()
    if base is None:
        pytest.fail("TEST_POSTGRES_URL is not set: the concurrency suite runs on PostgreSQL only")
    name, database_url, keystore_url = _database_urls(base)
    admin = create_engine(base, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}_keys"'))
    except Exception as exc:  # an unreachable server fails the suite, never skips it
        pytest.fail(f"PostgreSQL at TEST_POSTGRES_URL is unusable: {exc}")
    instance_dir = tmp_path_factory.mktemp("concurrency")
    secret_dir = instance_dir / "secrets"
    secret_dir.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARDSERVICE_", "FLASK_"))}
    for secret, value in {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "KEY_PASSPHRASE": secrets.token_urlsafe(32),
        "MASTER_KEY": secrets.token_urlsafe(32),
        "INDEX_KEY": secrets.token_urlsafe(32),
    }.items():
        path = secret_dir / secret.lower()
        path.write_text(value + "\n")
        path.chmod(0o600)
        env[f"CARDSERVICE_{secret}_FILE"] = str(path)
    env.update(
        CARDSERVICE_ENV="production",
        CARDSERVICE_INSTANCE_PATH=str(instance_dir),
        CARDSERVICE_DATABASE_URL=database_url,
        CARDSERVICE_KEYSTORE_DATABASE_URL=keystore_url,
        CARDSERVICE_PUBLIC_URL=PUBLIC_URL,
        CARDSERVICE_PROXY_HOPS="1",
        CARDSERVICE_RATELIMIT_STORAGE_URI=redis_url(),
        # The lockout is under test, not the per-address limit in front of it.
        CARDSERVICE_RATELIMIT_LOGIN="1000 per minute",
        CARDSERVICE_WORKERS="2",
        CARDSERVICE_THREADS="2",
        CARDSERVICE_LOG_LEVEL="warning",
        PYTHONPATH=str(ROOT),
    )
    database = create_engine(database_url)
    keystore = create_engine(keystore_url)
    stack = Stack([], env, database, keystore)
    try:
        stack.cli("db", "upgrade")
        stack.cli("init-city", "--code", CITY, "--name", "fr=Strasbourg")
        stack.instances = [_start(env, instance_dir, i) for i in range(2)]

        # While the instances start: API tokens and staff accounts (each hashes a password).
        def account(username: str) -> None:
            stack.cli(
                "users",
                "create",
                username,
                "--role",
                "clerk",
                "--password-stdin",
                stdin=STAFF_PASSWORD,
            )

        def token(role: str) -> None:
            stack.tokens[role] = stack.cli("tokens", "create", role, "--role", role).stdout.strip()

        with ThreadPoolExecutor(len(STAFF_ACCOUNTS) + 2) as pool:
            done = [pool.submit(account, name) for name in STAFF_ACCOUNTS]
            done += [pool.submit(token, role) for role in ("clerk", "supervisor")]
            for future in done:
                future.result()
        for instance in stack.instances:
            _wait_ready(instance)
        yield stack
    finally:
        for instance in stack.instances:
            _stop(instance)
        database.dispose()
        keystore.dispose()
        with admin.connect() as connection:
            for db_name in (name, f"{name}_keys"):
                connection.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        admin.dispose()


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
