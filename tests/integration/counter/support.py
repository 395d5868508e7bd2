"""Helpers for the counter tests: build an app on a migrated database, sign staff in, post forms.

A plain module (not a conftest) so the end-to-end tests can reuse it.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import flask_migrate
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from cardservice.extensions import db
from cardservice.services import Actor, deps
from cardservice.services import keys as key_service
from cardservice.services import staff as staff_service
from tests.integration.issuance_app import build_app

PASSWORD = "correct horse battery staple"
STAFF = {"clerk": "clerk", "supervisor": "supervisor", "admin": "admin"}
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def open_app(instance: Path, database_url: str | None = None, **overrides: Any) -> Flask:
    """An app on the instance folder (its secrets and, by default, its SQLite database)."""
    if database_url is not None:
        overrides["SQLALCHEMY_DATABASE_URI"] = database_url
    return build_app(instance, **overrides)


def make_app(instance: Path, database_url: str | None = None, **overrides: Any) -> Flask:
    """An app on a fresh database built by the migrations (never create_all), with a city and
    one staff account per role."""
    app = open_app(instance, database_url, **overrides)
    with app.app_context():
        flask_migrate.upgrade()
        seed_city_and_staff()
    return app


def seed_city_and_staff() -> None:
    """In an app context: the city, and one staff account per role (STAFF, PASSWORD)."""
    now = datetime.now(UTC)
    system = Actor.system("tests")
    key_service.init_city(
        db.session,
        deps(),
        code="FR SXB",
        names={"en": "Strasbourg", "fr": "Strasbourg"},
        now=now,
        actor=system,
    )
    for role, username in STAFF.items():
        staff_service.create_user(
            db.session,
            username=username,
            password=PASSWORD,
            role=role,
            now=now,
            actor=system,
            preferred_language=None,
        )


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The session's CSRF token, read from a form page (the login form when signed out)."""
    response = client.get(path)
    if response.status_code == 302:
        response = client.get("/login")
    page = response.get_data(as_text=True)
    match = _CSRF.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    token = csrf_token(client)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
    )


def post(client: FlaskClient, path: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
    """POST a form with the session's CSRF token (any page of the session carries it).

    Forms with files are encoded in memory: the test client would spool a large body to a
    temporary file it never closes, and the ResourceWarning would fail some later test.
    """
    payload: dict[str, Any] = {"csrf_token": csrf_token(client, "/")}
    payload.update(data or {})
    if not any(isinstance(value, tuple | FileStorage) for value in payload.values()):
        return client.post(path, data=payload, **kw)
    boundary, body = encode_multipart(MultiDict(multipart_items(payload)))
    return client.post(
        path, data=body, content_type=f"multipart/form-data; boundary={boundary}", **kw
    )


def multipart_items(fields: dict[str, Any]) -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for key, value in fields.items():
        if isinstance(value, list):
            items.extend((key, item) for item in value)
        elif isinstance(value, tuple):
            items.append((key, FileStorage(value[0], value[1], content_type=value[2])))
        else:
            items.append((key, value))
    return items


def png_bytes(
    width: int = 300, height: int = 400, colour: tuple[int, int, int] = (90, 120, 160)
) -> bytes:
    image = Image.new("RGB", (width, height), colour)
    # A face-ish blob, so the photo is not a flat colour (JPEG encoders like that less).
    for x in range(width // 3, 2 * width // 3):
        for y in range(height // 4, height // 2):
            image.putpixel((x, y), (220, 180, 150))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def enrolment_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "display_name": "Amina Haddad",
        "birth_date": "1990-04-27",
        "gender_marker": "F",
        "address": "12 rue des Fleurs\n67000 Strasbourg",
        "preferred_language": "fr",
        "documents": ["passport", "utility_bill"],
        "photo": (io.BytesIO(png_bytes()), "photo.png", "image/png"),
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def enrol(client: FlaskClient, **changes: Any) -> Any:
    return post(client, "/residents/new", enrolment_data(**changes))


def resident_id_from(response: Any) -> str:
    match = re.search(r"/residents/([0-9a-f]{32})", response.headers.get("Location", ""))
    assert match, response.headers.get("Location")
    return match.group(1)
