"""The one way the integration suites build an issuance app on a test database.

`build_app()` is the only place that creates one: the CARDSERVICE_* environment is cleared and
set only while `create_app` reads it, then restored at once, so nothing leaks into the suites
collected after. `SessionApp` is a suite's app for the whole session: SQLite files in its
instance folder, or, with TEST_POSTGRES_URL, a PostgreSQL schema of its own (and the same schema
in the key store's database) that is dropped at the end; an unreachable server ends the run, never
skipped tests. It is migrated (never create_all) and optionally seeded once, then the rows are
snapshotted: `restore()` puts every table back as it was after seeding, which is far cheaper
than migrating and hashing passwords for each test. `fresh_copy()` is the SQLite alternative
for suites that want a new app per test: a copy of the seeded instance folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import flask_migrate
import pytest
from flask import Flask

from tests.integration.service_fixtures import (
    all_tables,
    bind_of,
    drop_postgres_settings,
    postgres_settings,
    postgres_url,
)

PUBLIC_URL = "http://cards.test"
SQLITE_FILE = "cardservice.sqlite3"


def build_app(
    instance: Path, *, environ: Mapping[str, str] | None = None, **settings: Any
) -> Flask:
    """An issuance app in `instance` (its secrets, and its SQLite database unless `settings`
    name another), in testing mode; `settings` go on top of the configuration. The app reads
    no CARDSERVICE_* variable of the test run's environment, only those of `environ`."""
    from cardservice import create_app

    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("CARDSERVICE_"):
                patch.delenv(name)
        for name, value in (environ or {}).items():
            patch.setenv(name, value)
        patch.setenv("CARDSERVICE_INSTANCE_PATH", str(instance))
        patch.setenv("CARDSERVICE_ENV", "testing")
        patch.setenv("CARDSERVICE_PUBLIC_URL", PUBLIC_URL)
        return create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / SQLITE_FILE}",
                "TESTING": True,
                **settings,
            }
        )


def another_app(app: Flask, *, environ: Mapping[str, str] | None = None, **overrides: Any) -> Flask:
    """Another app on `app`'s instance folder and both its databases (SQLite files or the
    test's PostgreSQL schemas), with other settings or CARDSERVICE_* variables (`environ`);
    dispose() it after."""
    return build_app(
        Path(app.config["INSTANCE_PATH"]),
        environ=environ,
        SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        SQLALCHEMY_ENGINE_OPTIONS=app.config["SQLALCHEMY_ENGINE_OPTIONS"],
        # The key store too: the start-up key check reads it (services/keycheck.py).
        KEYSTORE_DATABASE_URI=app.config["KEYSTORE_DATABASE_URI"],
        KEYSTORE_ENGINE_OPTIONS=app.config.get("KEYSTORE_ENGINE_OPTIONS") or {},
        **overrides,
    )


def dispose(app: Flask) -> None:
    """Close the app's sessions and connection pools (a SQLite file can then be copied, a
    PostgreSQL schema dropped)."""
    from cardservice.extensions import db

    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


Rows = dict[str, list[dict[str, Any]]]


def _snapshot(app: Flask) -> Rows:
    from cardservice.extensions import db

    with app.app_context():
        rows = {
            table.name: [
                dict(row._mapping)
                for row in db.session.execute(
                    table.select(), bind_arguments={"bind": bind_of(table)}
                )
            ]
            for table in all_tables()
        }
        db.session.remove()
    return rows


def _restore(app: Flask, rows: Rows) -> None:
    from cardservice.extensions import db

    with app.app_context():
        db.session.rollback()
        tables = list(all_tables())
        for table in reversed(tables):
            db.session.execute(table.delete())
        for table in tables:
            if rows[table.name]:
                db.session.execute(table.insert(), rows[table.name])
        db.session.commit()
        db.session.remove()


class SessionApp:
    """A suite's migrated (and seeded) issuance app for the session; see the module docstring."""

    def __init__(self, instance: Path, database: dict[str, Any], app: Flask, rows: Rows):
        self.instance = instance
        self.database = database
        self.app = app
        self._rows = rows
        self._built: list[Flask] = []

    @property
    def on_postgres(self) -> bool:
        return "_TEST_SCHEMA" in self.database

    def restore(self) -> None:
        """Every table of both databases back to the rows it had right after seeding."""
        _restore(self.app, self._rows)

    def build(self, **overrides: Any) -> Flask:
        """Another app on the same instance folder and database (e.g. with another master
        key); disposed at the end of the session."""
        application = build_app(self.instance, **{**self.database, **overrides})
        self._built.append(application)
        return application

    def fresh_copy(self, folder: Path, **overrides: Any) -> Flask:
        """SQLite only: a new app on a copy of the seeded instance folder (secrets, database and
        key store), for a test that wants an app and database of its own; dispose() it after."""
        assert not self.on_postgres, "fresh_copy() copies SQLite files; use restore() instead"
        shutil.copytree(self.instance, folder)
        return build_app(folder, **overrides)

    def close(self) -> None:
        for application in [*self._built, self.app]:
            dispose(application)


@contextmanager
def session_app(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    *,
    seed: Callable[[], None] | None = None,
    postgres: bool | None = None,
    **overrides: Any,
) -> Iterator[SessionApp]:
    """Build, migrate and seed a suite's SessionApp (`name`: its folder and schema prefix).
    `seed` runs once in the app context after the migrations. `postgres`: on TEST_POSTGRES_URL's
    server when it is set (None), always there (True: the URL must be set), or on SQLite."""
    instance = tmp_path_factory.mktemp(f"{name}-instance")
    url = postgres_url() if postgres is not False else None
    assert url or not postgres, "TEST_POSTGRES_URL must be set for a PostgreSQL app"
    database = postgres_settings(url, name) if url else {}
    try:
        app = build_app(instance, **{**database, **overrides})
        try:
            with app.app_context():
                flask_migrate.upgrade()
                if seed is not None:
                    seed()
            rows = _snapshot(app)
        except BaseException:
            dispose(app)
            raise
        # Closed pools: a copy of the SQLite files (fresh_copy) is then complete.
        dispose(app)
        built = SessionApp(instance, database, app, rows)
        try:
            yield built
        finally:
            built.close()
    finally:
        if database:
            drop_postgres_settings(database)
