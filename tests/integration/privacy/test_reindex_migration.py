"""Revision 0008 on a live database: rows written before the name folding are marked version 1,
still found by their exact name, and `cardservice residents reindex` brings them to version 2,
after which "zoe ngoc lam-dubois" finds "Zoé Ngọc Lâm-Dubois". A downgrade is refused while a
row carries a version 2 index (the older code could not find it)."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import insert, text

from cardservice.extensions import db
from cardservice.models import ResidentKey, insert_key_row
from cardservice.services import deps as get_deps
from cardservice.services import keys, residents
from cardservice.services.audit import Actor
from cardservice.services.crypto import ResidentRecord

from .test_key_store_migration import fresh_app  # noqa: F401 (the fixture)

NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
ZOE = "Zoé Ngọc Lâm-Dubois"
BIRTH = date(1990, 5, 17)


def _old_resident(app: Flask) -> str:
    """A resident as the code before 0008 wrote it: version 1 index, no index_version."""
    cipher = get_deps(app).cipher
    resident_id = secrets.token_hex(16)
    record = ResidentRecord(
        display_name=ZOE,
        birth_date=BIRTH,
        gender_marker=None,
        address=None,
        preferred_language="fr",
        photo=None,
    )
    sealed = cipher.seal(resident_id, record)
    insert_key_row(
        db.session.get_bind(ResidentKey),
        insert(ResidentKey).values(
            resident_id=resident_id,
            master_key_id=sealed.master_key_id,
            wrapped_data_key=sealed.wrapped_data_key,
            created_at=NOW,
        ),
    )
    db.session.execute(
        text(
            "INSERT INTO resident (id, created_at, updated_at, ciphertext, blind_index) "
            "VALUES (:id, :at, :at, :ct, :bi)"
        ),
        {
            "id": resident_id,
            "at": NOW,
            "ct": sealed.ciphertext,
            "bi": cipher.blind_index(ZOE, BIRTH, version=1),
        },
    )
    db.session.commit()
    return resident_id


def test_upgrade_then_reindex(fresh_app: Flask) -> None:  # noqa: F811
    app = fresh_app
    with app.app_context():
        upgrade(revision="0005")
        keys.init_city(
            db.session,
            get_deps(app),
            code="FR SXB",
            names={"fr": "Strasbourg"},
            now=NOW,
            actor=Actor.system("test"),
        )
        old = _old_resident(app)
        upgrade()
        session, deps = db.session, get_deps(app)
        assert session.execute(text("SELECT index_version FROM resident")).scalar() == 1
        # Before the re-index: found by the name as it was typed, not yet folded.
        found = residents.find_residents(session, deps, display_name=ZOE, birth_date=BIRTH)
        assert [view.id for view in found] == [old]
        assert (
            residents.find_residents(
                session, deps, display_name="zoe ngoc lam-dubois", birth_date=BIRTH
            )
            == []
        )

        result = app.test_cli_runner().invoke(args=["residents", "reindex"])
        assert result.exit_code == 0 and "1 resident(s) re-indexed." in result.output
        session.remove()
        found = residents.find_residents(
            session, deps, display_name="zoe ngoc lam-dubois", birth_date=BIRTH
        )
        assert [view.id for view in found] == [old]

        # The older code could not find a version 2 row: the downgrade says so and stops
        # (Flask-Migrate turns the migration's error into exit status 1).
        session.remove()
        with pytest.raises(SystemExit):
            downgrade(revision="0005")
        assert session.execute(text("SELECT index_version FROM resident")).scalar() == 2
        session.remove()
