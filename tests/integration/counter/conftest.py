"""Fixtures of the counter UI tests: a migrated database per test, a client per role.

SQLite by default. With TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1/test)
the same tests run on PostgreSQL, in a schema of their own; an unreachable server ends the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.integration.issuance_app import SessionApp, another_app, dispose, session_app
from tests.integration.service_fixtures import postgres_url

from .support import (
    counter_template,  # noqa: F401 (a fixture the end-to-end suite shares)
    login,
    seed_city_and_staff,
)

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests that use the database run again in the PostgreSQL pass (`pytest -m postgres`).
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents and "app" in getattr(
            item, "fixturenames", ()
        ):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def _postgres_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionApp]:
    """PostgreSQL: one schema for the session, migrated and seeded once; each test starts
    from a snapshot of the seeded rows (the suite must fail, not skip, without a server)."""
    with session_app(
        tmp_path_factory, "counter_test", seed=seed_city_and_staff, postgres=True
    ) as built:
        yield built


@pytest.fixture
def app(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Flask]:
    if postgres_url() is not None:
        built: SessionApp = request.getfixturevalue("_postgres_app")
        built.restore()
        yield built.app
        return
    application = request.getfixturevalue("counter_template").fresh_copy(tmp_path / "instance")
    yield application
    dispose(application)


@pytest.fixture
def second_app(app: Flask) -> Iterator[Callable[..., Flask]]:
    """Factory: other apps on the test's instance folder and databases (issuance_app.another_app,
    same arguments); their pools are closed after the test (an open pool would outlive it on
    PostgreSQL)."""
    opened: list[Flask] = []

    def make(**settings: Any) -> Flask:
        opened.append(another_app(app, **settings))
        return opened[-1]

    yield make
    for second in opened:
        dispose(second)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    response = login(client, username)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def clerk(app: Flask) -> FlaskClient:
    return _signed_in(app, "clerk")


@pytest.fixture
def supervisor(app: Flask) -> FlaskClient:
    return _signed_in(app, "supervisor")


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    return _signed_in(app, "admin")
