"""Plain helpers of the privacy tests: database scans, API calls, a counter login."""

from __future__ import annotations

import base64
import io
import logging
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from PIL import Image

NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
# A name whose UTF-8 and UTF-16 forms differ from any ASCII text, so a scan cannot miss it
# through an encoding it did not try.
NAME = "Zofia Wąsowska-Ødegård"
BIRTH = "1983-11-29"
ADDRESS = "7 Quai Kléber-Montagné"


@contextmanager
def production_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The issuance app as production configures it, on SQLite files in ``tmp_path``, its log
    level DEBUG (the log tests look for personal data in everything it may write). On the way
    out SQLAlchemy's logger is quiet again and the app's connections are closed."""
    from cardservice import create_app
    from cardservice.extensions import db
    from tests.integration.service_fixtures import redis_url

    for name, value in {
        "CARDSERVICE_ENV": "production",
        "CARDSERVICE_PUBLIC_URL": "https://cards.example.org",
        "CARDSERVICE_INSTANCE_PATH": str(tmp_path),
        "CARDSERVICE_DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        "CARDSERVICE_KEYSTORE_DATABASE_URL": f"sqlite:///{tmp_path / 'keys.sqlite3'}",
        "CARDSERVICE_SECRET_KEY": "s" * 48,
        "CARDSERVICE_KEY_PASSPHRASE": "stapler-Quokka-81-marimba-Vexing",
        "CARDSERVICE_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "CARDSERVICE_INDEX_KEY": base64.b64encode(os.urandom(32)).decode(),
        "CARDSERVICE_LOG_LEVEL": "DEBUG",
        # Production counts sign-in attempts where every worker sees them.
        "CARDSERVICE_RATELIMIT_STORAGE_URI": redis_url(),
    }.items():
        monkeypatch.setenv(name, value)
    app = create_app({"RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4()}"})
    try:
        yield app
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
        with app.app_context():
            db.session.remove()
            for bound in db.engines.values():
                bound.dispose()


def empty_tables(app: Flask) -> None:
    """Every mapped table of both databases emptied; the audit head's single row stays."""
    from tests.integration.service_fixtures import empty_all_tables

    empty_all_tables(app)


def is_postgres(app: Flask) -> bool:
    return str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql")


def encodings(needle: str) -> list[bytes]:
    """Every way a text could sit in a file: UTF-8 and UTF-16 in both byte orders."""
    return [needle.encode(e) for e in ("utf-8", "utf-16-le", "utf-16-be")]


def stored_bytes(app: Flask, *, keystore: bool = False) -> bytes:
    """What the resident database (or, with keystore=True, the data-key store) holds at rest:
    the SQLite file with its journals, or a pg_dump of the test schema (the form a stolen backup
    takes)."""
    from sqlalchemy.engine import make_url

    uri = str(app.config["KEYSTORE_DATABASE_URI" if keystore else "SQLALCHEMY_DATABASE_URI"])
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        data = b""
        for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-journal")):
            if candidate.exists():
                data += candidate.read_bytes()
        assert data, "the SQLite file was not found"
        return data
    url = make_url(uri)
    command = [
        "pg_dump",
        "--schema",
        app.config["_TEST_KEYSTORE_SCHEMA" if keystore else "_TEST_SCHEMA"],
        "--no-owner",
        "-h",
        url.host or "127.0.0.1",
        "-p",
        str(url.port or 5432),
        "-U",
        url.username or "postgres",
        url.database or "",
    ]
    result = subprocess.run(
        command,
        capture_output=True,
        timeout=120,
        env={**os.environ, "PGPASSWORD": url.password or ""},
        check=True,
    )
    assert b"CREATE TABLE" in result.stdout
    return result.stdout


def backup_resident_database(app: Flask, folder: Path) -> Path:
    """A backup of the resident database as an operator takes one: a raw copy of the SQLite
    file (with its journals), or a `pg_dump` of the schema. Returns the backup's path."""
    uri = str(app.config["SQLALCHEMY_DATABASE_URI"])
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        target = folder / "resident-backup.sqlite3"
        for suffix in ("", "-wal", "-journal"):
            if Path(f"{path}{suffix}").exists():
                shutil.copyfile(f"{path}{suffix}", f"{target}{suffix}")
        return target
    target = folder / "resident-backup.sql"
    target.write_bytes(stored_bytes(app))
    return target


def ciphertext_in_backup(backup: Path, resident_id: str) -> bytes | None:
    """The resident's ciphertext as the backup holds it (None: not in the backup), read the
    way an attacker with the file would: sqlite3 on the copy, or the COPY block of the dump."""
    if backup.suffix == ".sqlite3":
        import sqlite3

        connection = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
        try:
            row = connection.execute(
                "SELECT ciphertext FROM resident WHERE id = ?", (resident_id,)
            ).fetchone()
        finally:
            connection.close()
        return None if row is None else bytes(row[0])
    lines = backup.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"COPY \S+\.resident \(", line))
    columns = [c.strip() for c in lines[start].split("(", 1)[1].split(")", 1)[0].split(",")]
    for line in lines[start + 1 :]:
        if line == "\\.":
            return None
        values = dict(zip(columns, line.split("\t"), strict=True))
        if values["id"] == resident_id:
            # bytea in COPY text format: \\x followed by hex digits.
            return bytes.fromhex(values["ciphertext"].removeprefix("\\\\x"))
    return None


def dumped_bytea(raw: bytes) -> bytes:
    """How pg_dump writes a bytea value (hex, `\\x...`); scanning the dump for it too."""
    return raw.hex().encode()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def photo_b64() -> str:
    image = Image.new("RGB", (300, 400), (180, 140, 120))
    out = io.BytesIO()
    image.save(out, format="JPEG")
    return base64.b64encode(out.getvalue()).decode()


def enrol(client: Any, token: str, **fields: Any) -> str:
    body = {
        "display_name": NAME,
        "birth_date": BIRTH,
        "gender_marker": "F",
        "address": ADDRESS,
        "preferred_language": "fr",
        "photo": photo_b64(),
        "documents": ["passport", "utility_bill"],
    }
    body.update(fields)
    response = client.post("/api/v1/residents", json=body, headers=auth(token))
    assert response.status_code == 201, response.get_data(as_text=True)
    return str(response.get_json()["id"])


def issue(client: Any, token: str, resident_id: str) -> dict[str, Any]:
    response = client.post(f"/api/v1/residents/{resident_id}/cards", headers=auth(token))
    assert response.status_code == 201, response.get_data(as_text=True)
    result: dict[str, Any] = response.get_json()
    return result


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def login(app: Flask, username: str, password: str) -> Any:
    """A first sign-in through every step (new password, second factor set-up)."""
    from tests.integration.counter.support import sign_in_every_step

    client = app.test_client()
    sign_in_every_step(client, username, password)
    return client


SOFTHSM_MODULE = next(
    (
        m
        for m in (
            "/usr/lib/softhsm/libsofthsm2.so",
            "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
            "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
        )
        if os.path.exists(m)
    ),
    None,
)
SOFTHSM_INSTALLED = SOFTHSM_MODULE is not None and shutil.which("softhsm2-util") is not None


def require_softhsm() -> None:
    """Fail, never skip, when softhsm2 is missing: scripts/system-packages.sh installs it."""
    if not SOFTHSM_INSTALLED:
        pytest.fail("softhsm2 is not installed (scripts/system-packages.sh installs it)")


SOFTHSM_PIN = "4711-test"
SOFTHSM_TOKEN = "citycard-test"
