"""Fixtures every issuance-app suite shares, on top of the `app` fixture its conftest defines.

Registered for the whole suite by tests/conftest.py; each suite keeps its own `app` (each builds
its database its own way). `client` and `runner` take whichever `app` the suite has: the
verifier's suite uses them on its app too.

Plus two helpers for the two databases of an issuance app (the resident database and the
data-key store, bind "keystore"): on SQLite the key store is a file in the instance folder by
default; on PostgreSQL it needs a database of its own, `postgres_keystore()` provides one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import Table, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

# The key store's database on the test server, beside TEST_POSTGRES_URL's (created if missing).
KEYSTORE_DATABASE = "test_keystore"


def postgres_url() -> str | None:
    """TEST_POSTGRES_URL with its driver spelled out, or None: the PostgreSQL pass is not run."""
    url = os.environ.get("TEST_POSTGRES_URL")
    if url and url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url or None


def redis_url() -> str:
    """The Redis server for rate-limit storage tests: TEST_REDIS_URL (CI sets one database for
    the suite), or the local default. Unreachable, it fails the test: never a silent skip, and
    never a rate limiter that quietly fell back to memory."""
    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"Redis is unreachable at {url} ({exc}): start it (.ci/run does)")
    return url


def postgres_settings(url: str, schema_prefix: str) -> dict[str, Any]:
    """App settings for a suite of its own on the PostgreSQL server at `url`: a fresh schema
    `<schema_prefix>_<pid>_<random>` for the resident database (so concurrent suites on one
    server never collide) and the same schema in the key store's database. An unreachable server
    ends the run: never skipped tests. Drop both with drop_postgres_settings()."""
    schema = f"{schema_prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 5})
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
    except Exception as exc:  # any connection failure must stop the run, loudly
        pytest.exit(f"TEST_POSTGRES_URL is set but PostgreSQL is unreachable: {exc}", returncode=3)
    return {
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_pre_ping": True,
            "connect_args": {"options": f"-c search_path={schema}"},
        },
        "_TEST_SCHEMA": schema,
        "_TEST_ADMIN_URL": url,
        # The data-key store: same schema name, in the key store's own database.
        **postgres_keystore(url, schema),
    }


def drop_postgres_settings(settings: dict[str, Any]) -> None:
    engine = create_engine(settings["_TEST_ADMIN_URL"])
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{settings["_TEST_SCHEMA"]}" CASCADE'))
    engine.dispose()
    drop_postgres_keystore(settings)


def postgres_keystore(postgres_url: str, schema: str) -> dict[str, Any]:
    """App settings that put the key store in schema `schema` of the `test_keystore` database
    on the server of `postgres_url` (database and schema created here; drop them with
    drop_postgres_keystore). Any failure ends the run: never skipped tests."""
    url = make_url(postgres_url).set(database=KEYSTORE_DATABASE)
    keystore_url = url.render_as_string(hide_password=False)
    try:
        admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": KEYSTORE_DATABASE}
            )
            if not exists:
                try:
                    connection.execute(text(f'CREATE DATABASE "{KEYSTORE_DATABASE}"'))
                except DBAPIError:
                    # Another test process created it in the meantime: fine if it is there now.
                    if not connection.scalar(
                        text("SELECT 1 FROM pg_database WHERE datname = :n"),
                        {"n": KEYSTORE_DATABASE},
                    ):
                        raise
        admin.dispose()
        engine = create_engine(keystore_url)
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
    except Exception as exc:  # any failure must stop the run, loudly
        pytest.exit(f"cannot prepare the PostgreSQL key store database: {exc}", returncode=3)
    return {
        "KEYSTORE_DATABASE_URI": keystore_url,
        "KEYSTORE_ENGINE_OPTIONS": {"connect_args": {"options": f"-c search_path={schema}"}},
        "_TEST_KEYSTORE_SCHEMA": schema,
    }


def drop_postgres_keystore(settings: dict[str, Any]) -> None:
    engine = create_engine(settings["KEYSTORE_DATABASE_URI"])
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{settings["_TEST_KEYSTORE_SCHEMA"]}" CASCADE'))
    engine.dispose()


def all_tables() -> Iterator[Table]:
    """Every mapped table of both databases, parents before children within each."""
    from cardservice.extensions import db

    for metadata in db.metadatas.values():
        yield from metadata.sorted_tables


def bind_of(table: Table) -> Any:
    """The engine of a table's database: Flask-SQLAlchemy routes ORM statements and
    INSERT/UPDATE/DELETE by bind key, but not a Core SELECT on a Table."""
    from cardservice.extensions import db

    return db.engines[table.metadata.info.get("bind_key")]


def empty_all_tables(app: Flask) -> None:
    """Delete every row of both databases (children first) and reset the audit chain head,
    whose single row is created by the migration and must stay."""
    from cardservice.extensions import db
    from cardservice.models import GENESIS_HASH

    with app.app_context():
        db.session.rollback()
        for table in reversed(list(all_tables())):
            if table.name != "audit_head":
                db.session.execute(table.delete())
        db.session.execute(
            text("UPDATE audit_head SET last_hash = :h, entries = 0 WHERE id = 1"),
            {"h": GENESIS_HASH},
        )
        db.session.commit()
        db.session.remove()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def deps(app: Flask) -> Any:
    from cardservice.services import deps as get_deps

    return get_deps(app)


@pytest.fixture
def session(app: Flask) -> Any:
    from cardservice.extensions import db

    return db.session


@pytest.fixture
def actor() -> Any:
    from cardservice.services import Actor

    return Actor.system("tests")
