"""Privacy rules of docs/privacy.md, checked against the real schema and database file."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import inspect

from cardservice.models import ResidentKey
from tests.integration.privacy.helpers import production_app, stored_bytes

from .conftest import auth
from .test_api import enrol

# Words that would betray a field the city must never have (rule 1).
FORBIDDEN = re.compile(
    r"national|citizenship|immigra|residen(cy|ce)_?status|visa|permit|asylum|refugee|"
    r"passport|document_?(number|no|id|scan|image|photo)|doc_?num|ssn|social_security|"
    r"alien|legal_status|country_of_birth|ethnic|religio",
    re.IGNORECASE,
)
# Resident data may only exist encrypted: these are the only resident columns allowed.
RESIDENT_COLUMNS = {
    "id",
    "created_at",
    "updated_at",
    "ciphertext",
    "blind_index",
    "index_version",
}
# Clear-text columns whose names look personal but hold the city's or the staff's own data.
STAFF_OR_CITY_DATA = {
    ("city", "names"),
    ("staff_user", "username"),
    ("staff_user", "preferred_language"),
    ("api_token", "name"),
}
PERSONAL = re.compile(r"name|birth|address|gender|photo|language|phone|email", re.IGNORECASE)


# The data-key store holds wrapped keys and nothing else (docs/privacy.md, data inventory).
RESIDENT_KEY_COLUMNS = {"resident_id", "master_key_id", "wrapped_data_key", "created_at"}


def test_key_store_holds_only_wrapped_keys(app: Flask, session: Any) -> None:
    from cardservice.extensions import db
    from cardservice.models import KEYSTORE_BIND

    inspector = inspect(db.engines[KEYSTORE_BIND])
    assert set(inspector.get_table_names()) == {"resident_key", "alembic_version"}
    assert {c["name"] for c in inspector.get_columns("resident_key")} == RESIDENT_KEY_COLUMNS
    # ... and the resident database has no key table at all.
    assert "resident_key" not in inspect(session.get_bind()).get_table_names()


def test_schema_has_no_forbidden_fields(app: Flask, session: Any) -> None:
    inspector = inspect(session.get_bind())
    tables = inspector.get_table_names()
    assert {"resident", "card", "audit_entry"} <= set(tables)
    for table in tables:
        assert not FORBIDDEN.search(table), table
        for column in inspector.get_columns(table):
            assert not FORBIDDEN.search(column["name"]), f"{table}.{column['name']}"
    resident_columns = {c["name"] for c in inspector.get_columns("resident")}
    assert resident_columns == RESIDENT_COLUMNS
    # No personal field in clear in any other table either (staff usernames are staff data).
    for table in tables:
        for column in inspector.get_columns(table):
            name = column["name"]
            if table == "resident" or (table, name) in STAFF_OR_CITY_DATA:
                continue
            assert not PERSONAL.search(name), f"{table}.{name}"


def test_openapi_accepts_no_forbidden_field(client: Any) -> None:
    document = client.get("/api/v1/openapi.json").get_data(as_text=True)
    properties = re.findall(r'"([a-z_]+)":\s*\{', document)
    assert properties
    for prop in properties:
        assert not FORBIDDEN.search(prop), prop


NAME = "Zainab Oyelaran-Quist"


def test_resident_data_never_in_clear_at_rest(app, client, session, city, tokens) -> None:
    rid = enrol(
        client,
        tokens["clerk"],
        display_name=NAME,
        birth_date="1979-06-23",
        address="221 Rue Oberkampf-Lemaire",
    )
    number = client.post(
        f"/api/v1/residents/{rid}/cards", headers=auth(tokens["clerk"])
    ).get_json()["number"]
    session.remove()
    raw = stored_bytes(app)
    assert number.encode() in raw  # the scan does see what is stored in clear
    for needle in (NAME, "Oyelaran", "1979-06-23", "Oberkampf"):
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            assert needle.encode(encoding) not in raw, (needle, encoding)
    wrapped = bytes(session.get(ResidentKey, rid).wrapped_data_key)
    session.remove()
    # The data key is not in the resident database at all, only in the key store.
    assert wrapped not in raw and wrapped.hex().encode() not in raw
    keys_raw = stored_bytes(app, keystore=True)
    assert wrapped in keys_raw or wrapped.hex().encode() in keys_raw
    assert (
        client.delete(f"/api/v1/residents/{rid}", headers=auth(tokens["supervisor"])).status_code
        == 200
    )
    session.remove()
    raw = stored_bytes(app)
    assert NAME.encode() not in raw
    # Crypto-shredding: the wrapped data key is gone from the key store at rest (SQLite's
    # secure_delete zeroes the freed page; PostgreSQL's dump no longer contains the row).
    keys_raw = stored_bytes(app, keystore=True)
    assert wrapped not in keys_raw
    assert wrapped.hex().encode() not in keys_raw


def test_no_personal_data_in_logs(
    app, client, city, tokens, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rid = enrol(client, tokens["clerk"], display_name=NAME, birth_date="1979-06-23")
    number = client.post(
        f"/api/v1/residents/{rid}/cards", headers=auth(tokens["clerk"])
    ).get_json()["number"]
    client.get(f"/api/v1/cards/{number}.pdf", headers=auth(tokens["clerk"]))
    client.post(
        f"/api/v1/cards/{number}/revoke",
        json={"reason": "lost"},
        headers=auth(tokens["supervisor"]),
    )
    client.delete(f"/api/v1/residents/{rid}", headers=auth(tokens["supervisor"]))
    client.post(
        "/api/v1/residents",
        json={"display_name": NAME, "birth_date": "1979-06-23", "documents": "bad"},
        headers=auth(tokens["clerk"]),
    )
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for needle in ("Zainab", "Oyelaran", "1979-06-23"):
        assert needle not in logged


def test_no_personal_data_in_logs_in_production_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Production settings, every logger at DEBUG (SQLAlchemy echoing statements and their
    parameters included): enrol, issue, print, verify, revoke and erase leave no name, birth date
    or address in any log record."""
    from datetime import UTC, datetime

    from flask_migrate import upgrade

    import cardformat
    from cardservice.extensions import db
    from cardservice.services import Actor
    from cardservice.services.keys import init_city
    from cardservice.services.tokens import create_token

    with production_app(tmp_path, monkeypatch) as app:
        with app.app_context():
            upgrade()
            # After upgrade(): Alembic's logging configuration resets levels.
            caplog.set_level(logging.DEBUG)
            logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG)
            now = datetime.now(UTC)
            init_city(
                db.session,
                __import__("cardservice.services", fromlist=["deps"]).deps(),
                code="FR SXB",
                names={"fr": "Strasbourg"},
                now=now,
                actor=Actor.system("tests"),
            )
            token = create_token(
                db.session, name="t", role="admin", now=now, actor=Actor.system("tests")
            ).token
            db.session.remove()
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}", "X-Forwarded-Proto": "https"}
        body = {
            "display_name": NAME,
            "birth_date": "1979-06-23",
            "address": "221 Rue Oberkampf-Lemaire",
            "documents": ["passport", "utility_bill"],
        }
        rid = client.post("/api/v1/residents", json=body, headers=headers).get_json()["id"]
        issued = client.post(f"/api/v1/residents/{rid}/cards", headers=headers).get_json()
        assert (
            client.get(f"/api/v1/cards/{issued['number']}.pdf", headers=headers).status_code == 200
        )
        meta = cardformat.verify_metadata(
            client.get("/.well-known/citycard/issuer").data,
            pinned_fingerprint=client.application.test_cli_runner()
            .invoke(args=["keys", "fingerprint"])
            .output.strip(),
            now=datetime.now(UTC),
        )
        trusted = {k.kid: k for k in meta.trusted_keys()}
        verified = cardformat.verify_card(
            issued["qr"], resolve_key=trusted.get, now=datetime.now(UTC)
        )
        assert verified.card.holder_name == NAME
        client.post(
            f"/api/v1/cards/{issued['number']}/revoke", json={"reason": "lost"}, headers=headers
        )
        assert client.delete(f"/api/v1/residents/{rid}", headers=headers).status_code == 200
    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records)  # it did log
    logged = "\n".join(f"{record.getMessage()} {record.args!r}" for record in caplog.records)
    for needle in ("Zainab", "Oyelaran", "1979-06-23", "Oberkampf"):
        assert needle not in logged, needle
