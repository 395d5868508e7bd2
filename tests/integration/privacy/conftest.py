"""Fixtures of the privacy tests (issue 6): an issuance app on SQLite or on PostgreSQL.

Same two-pass scheme as the rest of the suite: without TEST_POSTGRES_URL everything runs on a
SQLite file (whose raw bytes the tests scan); with it, the database tests run again in a schema
of their own on that server (scanned through `pg_dump`). Every test touching the database carries
the `postgres` marker so the Makefile's `-m postgres` pass picks it up. An unreachable server
ends the run with an error, never with skipped tests.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.integration.issuance_app import SessionApp, session_app

from .helpers import NOW, SOFTHSM_MODULE, SOFTHSM_PIN, SOFTHSM_TOKEN, empty_tables

HERE = Path(__file__).resolve().parent
# Tests that do not use the shared database (the PKCS#11 provider against SoftHSM2; the
# production-mode log test builds its own SQLite file): they run in the SQLite pass only.
NO_DATABASE = {"test_hsm.py", "test_logs.py"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.path)).resolve()
        if HERE in path.parents and path.name not in NO_DATABASE:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def _issuance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionApp]:
    with session_app(tmp_path_factory, "privacy_test") as built:
        yield built


@pytest.fixture(scope="session")
def make_app(_issuance: SessionApp) -> Any:
    """Build another issuance app on the session database; settings override the defaults
    (several apps may share it, e.g. to rotate the master key between two of them)."""
    return _issuance.build


@pytest.fixture(scope="session")
def _session_app(_issuance: SessionApp) -> Flask:
    return _issuance.app


@pytest.fixture
def app(_session_app: Flask) -> Iterator[Flask]:
    empty_tables(_session_app)
    with _session_app.app_context():
        yield _session_app
    empty_tables(_session_app)


@pytest.fixture
def app_without_context(_session_app: Flask) -> Iterator[Flask]:
    """The app with no app context held open by the test: each request then gets its own
    (and its own `g`), as under a real server. Needed where two clients' logins must not mix."""
    empty_tables(_session_app)
    yield _session_app
    empty_tables(_session_app)


@pytest.fixture
def city(app: Flask, session: Any, deps: Any, actor: Any) -> Any:
    from cardservice.services.keys import init_city

    return init_city(session, deps, code="FR SXB", names={"fr": "Strasbourg"}, now=NOW, actor=actor)


@pytest.fixture
def tokens(app: Flask, session: Any, actor: Any, city: Any) -> dict[str, str]:
    """One bearer token per role."""
    from cardservice.services.tokens import create_token

    return {
        # Made now, not at NOW: tokens expire (90 days) and the API checks them against the clock.
        role: create_token(
            session, name=f"{role}-token", role=role, now=datetime.now(UTC), actor=actor
        ).token
        for role in ("clerk", "supervisor", "admin")
    }


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A SoftHSM2 token initialised in a temp dir: module, token label, user PIN.

    One token per session: the PKCS#11 library reads SOFTHSM2_CONF once, when the process
    first initialises it, so every test shares this token (with key labels of its own).
    """
    assert SOFTHSM_MODULE is not None
    folder = tmp_path_factory.mktemp("softhsm")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n"
        "log.level = ERROR\n"
    )
    patch = pytest.MonkeyPatch()
    patch.setenv("SOFTHSM2_CONF", str(conf))
    subprocess.run(
        [
            *("softhsm2-util", "--init-token", "--free", "--label", SOFTHSM_TOKEN),
            *("--pin", SOFTHSM_PIN, "--so-pin", "0000-test"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    yield {"module": SOFTHSM_MODULE, "token_label": SOFTHSM_TOKEN, "pin": SOFTHSM_PIN}
    patch.undo()
