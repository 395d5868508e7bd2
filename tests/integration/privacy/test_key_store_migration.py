"""Revision 0003 on a live database: the wrapped data keys of existing residents move from the
resident table into the data-key store, the columns are dropped, and every record still opens.

A database is built at revision 0002 (keys beside the ciphertext, as before), filled with
residents sealed the old way, then upgraded. Runs on fresh SQLite files, or on fresh schemas of
the PostgreSQL test server (resident database and key store database)."""

from __future__ import annotations

import logging
import os
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text

from cardservice.extensions import db
from cardservice.models import KEYSTORE_BIND, ResidentKey
from cardservice.services import deps as get_deps
from cardservice.services.crypto import ResidentRecord
from cardservice.services.residents import get_resident
from tests.integration.service_fixtures import drop_postgres_keystore, postgres_keystore

from .helpers import dumped_bytea, is_postgres, stored_bytes

NAMES = ["Zofia Wąsowska-Ødegård", "Jonas Petraitis", "李伟"]


@pytest.fixture
def fresh_app(make_app: Any, tmp_path: Path) -> Iterator[Flask]:
    """An app on two empty databases of its own (nothing migrated yet)."""
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        yield make_app(
            SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'old.sqlite3'}",
            KEYSTORE_DATABASE_URI=f"sqlite:///{tmp_path / 'old-keys.sqlite3'}",
        )
        return
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = f"migration_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    keystore = postgres_keystore(url, schema)
    app = make_app(
        SQLALCHEMY_DATABASE_URI=url,
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"options": f"-c search_path={schema}"}},
        _TEST_SCHEMA=schema,
        **keystore,
    )
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            for bound in db.engines.values():
                bound.dispose()
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()
        drop_postgres_keystore(keystore)


def _seed_old_layout(app: Flask) -> dict[str, tuple[str, bytes]]:
    """Residents as revision 0002 stored them: wrapped key and ciphertext in one row; a card
    linked to the first one. Returns id -> (name, wrapped data key)."""
    cipher = get_deps(app).cipher
    now = datetime(2026, 3, 2, 10, 30)
    seeded: dict[str, tuple[str, bytes]] = {}
    for name in NAMES:
        rid = secrets.token_hex(16)
        record = ResidentRecord(
            display_name=name,
            birth_date=None,
            gender_marker=None,
            address="12 rue des Fleurs",
            preferred_language="fr",
            photo=None,
        )
        sealed = cipher.seal(rid, record)
        db.session.execute(
            text(
                "INSERT INTO resident (id, created_at, updated_at, master_key_id, "
                "wrapped_data_key, ciphertext, blind_index) VALUES (:id, :at, :at, :mk, :wk, "
                ":ct, :bi)"
            ),
            {
                "id": rid,
                "at": now,
                "mk": sealed.master_key_id,
                "wk": sealed.wrapped_data_key,
                "ct": sealed.ciphertext,
                "bi": cipher.blind_index(name, None, version=1),  # the layout of the time
            },
        )
        seeded[rid] = (name, sealed.wrapped_data_key)
    first = next(iter(seeded))
    db.session.execute(
        text(
            "INSERT INTO card (number, resident_id, status_index, issued_at, expires_at, status, "
            "kid) VALUES ('ABCD-EFG', :rid, 7, :at, :exp, 'valid', :kid)"
        ),
        {"rid": first, "at": now, "exp": now + timedelta(days=365), "kid": "0" * 16},
    )
    db.session.commit()
    return seeded


def test_upgrade_moves_the_keys_out_and_every_record_still_opens(
    fresh_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    app = fresh_app
    with app.app_context():
        upgrade(revision="0002")
        seeded = _seed_old_layout(app)
        before = stored_bytes(app)
        assert all(
            wrapped in before or dumped_bytea(wrapped) in before for _, wrapped in seeded.values()
        )

        upgrade(revision="0003")

        resident_columns = {c["name"] for c in inspect(db.engine).get_columns("resident")}
        assert resident_columns == {"id", "created_at", "updated_at", "ciphertext", "blind_index"}
        keys = {k.resident_id: k for k in db.session.scalars(db.select(ResidentKey))}
        assert {rid: bytes(k.wrapped_data_key) for rid, k in keys.items()} == {
            rid: wrapped for rid, (_, wrapped) in seeded.items()
        }
        assert all(k.created_at == datetime(2026, 3, 2, 10, 30, tzinfo=UTC) for k in keys.values())
        deps = get_deps(app)
        for rid, (name, _) in seeded.items():
            view = get_resident(db.session, deps, rid)
            assert view.display_name == name
        first = next(iter(seeded))
        assert [c.number for c in get_resident(db.session, deps, first).cards] == ["ABCD-EFG"]
        db.session.remove()

        # The keys left the resident database at rest too (SQLite: DROP COLUMN rewrote the rows
        # and secure_delete zeroed what it freed; PostgreSQL: the dump no longer has them).
        after = stored_bytes(app)
        for _, wrapped in seeded.values():
            assert wrapped not in after
            if is_postgres(app):
                assert dumped_bytea(wrapped) not in after
        version = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
        keystore_version = db.session.execute(
            text("SELECT version_num FROM alembic_version"),
            bind_arguments={"bind": db.engines[KEYSTORE_BIND]},
        ).scalar()
        assert version == keystore_version == "0003"
        db.session.remove()

        # No way back: a downgrade would put the keys beside the ciphertext again. Flask-Migrate
        # turns the refusal into one "Error: ..." line and exit code 1, no traceback.
        with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as exited:
            downgrade(revision="0002")
        assert exited.value.code == 1
        assert "revision 0003 cannot be downgraded" in caplog.text
        db.session.remove()


def test_an_upgrade_interrupted_after_the_key_store_commit_resumes(
    fresh_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """The key store commits first. If the resident database's commit then fails, the next run
    finds some keys already copied: it checks they are the same bytes and finishes; a different
    key for the same resident (a key store from another deployment) stops it with a message."""
    app = fresh_app
    with app.app_context():
        upgrade(revision="0002")
        seeded = _seed_old_layout(app)
        # The key store as the interrupted run left it: at 0003, one key already copied.
        upgrade(revision="0002")  # nothing to do; both databases at 0002
        keystore = db.engines[KEYSTORE_BIND]
        first = next(iter(seeded))
        with keystore.begin() as connection:
            connection.execute(
                text(
                    "CREATE TABLE resident_key (resident_id VARCHAR(32) PRIMARY KEY, "
                    "master_key_id VARCHAR(32) NOT NULL, wrapped_data_key "
                    f"{'BYTEA' if is_postgres(app) else 'BLOB'} NOT NULL, "
                    "created_at TIMESTAMP NOT NULL)"
                )
            )
            connection.execute(text("UPDATE alembic_version SET version_num = '0003'"))
            connection.execute(
                text("INSERT INTO resident_key VALUES (:rid, 'someone-elses', :wk, :at)"),
                {"rid": first, "wk": b"\x00" * 60, "at": datetime(2026, 1, 1)},
            )
        with caplog.at_level(logging.ERROR), pytest.raises(SystemExit):
            upgrade()
        assert "the key store already holds a different data key" in caplog.text
        db.session.remove()
        # The resident database is untouched by the refused run.
        assert "wrapped_data_key" in {c["name"] for c in inspect(db.engine).get_columns("resident")}
        with keystore.begin() as connection:
            connection.execute(
                text(
                    "UPDATE resident_key SET wrapped_data_key = :wk, master_key_id = :mk "
                    "WHERE resident_id = :rid"
                ),
                {"rid": first, "wk": seeded[first][1], "mk": get_deps(app).cipher.provider.key_id},
            )
        upgrade()
        deps = get_deps(app)
        for rid, (name, _) in seeded.items():
            assert get_resident(db.session, deps, rid).display_name == name
        assert len(db.session.scalars(db.select(ResidentKey)).all()) == len(NAMES)
        db.session.remove()
