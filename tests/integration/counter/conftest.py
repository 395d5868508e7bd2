"""Fixtures of the counter UI tests: a migrated database per test, a client per role.

Set TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test) to run the same tests
against PostgreSQL; each test then gets a schema of its own in that database.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cardservice.extensions import db

from .support import login, make_app, open_app


def _postgres_url() -> str | None:
    return os.environ.get("TEST_POSTGRES_URL") or None


@pytest.fixture(scope="session")
def _template_instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite instance (city, staff), copied for each test: migrating and hashing
    three passwords per test would triple the suite's time."""
    folder = tmp_path_factory.mktemp("counter-template")
    application = make_app(folder)
    with application.app_context():
        db.engine.dispose()
    return folder


@pytest.fixture
def app(tmp_path: Path, _template_instance: Path) -> Iterator[Flask]:
    url = _postgres_url()
    if url is None:
        instance = tmp_path / "instance"
        shutil.copytree(_template_instance, instance)
        application = open_app(instance)
        yield application
        with application.app_context():
            db.engine.dispose()
        return
    # One throwaway schema per test, chosen through the connection's search_path.
    import psycopg

    schema = f"counter_{uuid.uuid4().hex[:12]}"
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    driver_url = "postgresql+psycopg://" + plain.removeprefix("postgresql://")
    application = make_app(
        tmp_path,
        database_url=driver_url,
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"options": f"-csearch_path={schema}"}},
    )
    try:
        yield application
    finally:
        with application.app_context():
            db.engine.dispose()
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


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
