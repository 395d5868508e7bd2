"""Instance files (SQLite databases and their -wal/-shm companions, the key store, generated
secrets) are 0600 in 0700 folders, in development too: right after the app is built and after
the databases' first use, when SQLite creates its companion files."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import text

from cardservice import create_app
from cardservice.extensions import db
from cardservice.models import KEYSTORE_BIND


@pytest.fixture
def development(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in list(os.environ):
        if name.startswith("CARDSERVICE_"):
            monkeypatch.delenv(name)
    instance = tmp_path / "instance"
    monkeypatch.setenv("CARDSERVICE_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("CARDSERVICE_ENV", "development")
    # A permissive umask, as on many desktops: the app must not rely on the operator's.
    previous = os.umask(0o002)
    try:
        yield instance
    finally:
        os.umask(previous)


def _modes(folder: Path) -> dict[str, int]:
    found = {"": stat.S_IMODE(folder.stat().st_mode)}
    for path in folder.rglob("*"):
        found[str(path.relative_to(folder))] = stat.S_IMODE(path.stat().st_mode)
    return found


def _assert_private(folder: Path) -> dict[str, int]:
    modes = _modes(folder)
    for name, mode in modes.items():
        path = folder / name
        expected = 0o700 if path.is_dir() else 0o600
        assert mode == expected, f"{name or 'instance folder'}: {oct(mode)}"
    return modes


def _dispose(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def test_instance_files_are_private_after_creation_and_first_use(development: Path) -> None:
    app = create_app()
    try:
        modes = _assert_private(development)
        assert {"cardservice.sqlite3", "keystore.sqlite3", "secrets/secret_key"} <= set(modes)
        with app.app_context():
            upgrade()
            # Writes through both engines: the key store runs in WAL mode, so SQLite now
            # creates its -wal and -shm files next to it.
            db.session.execute(text("CREATE TABLE probe (x INTEGER)"))
            db.session.execute(text("INSERT INTO probe VALUES (1)"))
            db.session.commit()
            keystore = db.engines[KEYSTORE_BIND]
            with keystore.begin() as connection:
                connection.execute(text("CREATE TABLE probe (x INTEGER)"))
                connection.execute(text("INSERT INTO probe VALUES (1)"))
            with keystore.connect() as connection:
                assert connection.execute(text("SELECT x FROM probe")).scalar() == 1
                companions = {p.name for p in development.iterdir()}
                assert {"keystore.sqlite3-wal", "keystore.sqlite3-shm"} <= companions
                _assert_private(development)
    finally:
        _dispose(app)
    _assert_private(development)


def test_loose_modes_left_by_an_older_version_are_tightened(development: Path) -> None:
    development.mkdir(mode=0o755)
    os.chmod(development, 0o755)
    database = development / "cardservice.sqlite3"
    database.touch()
    os.chmod(database, 0o644)
    app = create_app()
    try:
        _assert_private(development)
    finally:
        _dispose(app)
