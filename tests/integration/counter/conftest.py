"""Fixtures of the counter UI tests: a migrated database per test, a client per role.

SQLite by default. With TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1/test)
the same tests run on PostgreSQL, in a schema of their own; an unreachable server ends the run.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cardservice.extensions import db
from tests.integration.service_fixtures import (
    all_tables,
    bind_of,
    drop_postgres_settings,
    postgres_settings,
    postgres_url,
)

from .support import login, make_app, open_app

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests that use the database run again in the PostgreSQL pass (`pytest -m postgres`).
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents and "app" in getattr(
            item, "fixturenames", ()
        ):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def _template_instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite instance (city, staff), copied for each test: migrating and hashing
    three passwords for every test would make the suite several times slower."""
    folder = tmp_path_factory.mktemp("counter-template")
    application = make_app(folder)
    with application.app_context():
        for bound in db.engines.values():
            bound.dispose()
    return folder


@pytest.fixture(scope="session")
def _postgres_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, Any]]:
    """PostgreSQL: one schema for the session, migrated and seeded once; each test starts
    from a snapshot of the seeded rows (the suite must fail, not skip, without a server)."""
    url = postgres_url()
    assert url is not None
    settings = postgres_settings(url, "counter_test")
    application = make_app(tmp_path_factory.mktemp("counter-pg"), **settings)
    try:
        with application.app_context():
            snapshot = {
                table.name: [
                    dict(row._mapping)
                    for row in db.session.execute(
                        table.select(), bind_arguments={"bind": bind_of(table)}
                    )
                ]
                for table in all_tables()
            }
            db.session.remove()
        yield application, snapshot
    finally:
        with application.app_context():
            db.session.remove()
            for bound in db.engines.values():
                bound.dispose()
        drop_postgres_settings(settings)


def _restore(application: Flask, snapshot: dict[str, list[dict[str, Any]]]) -> None:
    with application.app_context():
        tables = list(all_tables())
        for table in reversed(tables):
            db.session.execute(table.delete())
        for table in tables:
            if snapshot[table.name]:
                db.session.execute(table.insert(), snapshot[table.name])
        db.session.commit()
        db.session.remove()


@pytest.fixture
def app(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Flask]:
    if postgres_url() is not None:
        application, snapshot = request.getfixturevalue("_postgres_app")
        _restore(application, snapshot)
        yield application
        return
    instance = tmp_path / "instance"
    shutil.copytree(request.getfixturevalue("_template_instance"), instance)
    application = open_app(instance)
    yield application
    with application.app_context():
        for bound in db.engines.values():
            bound.dispose()


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
