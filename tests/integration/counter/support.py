"""Helpers for the counter tests: the seeded instance their apps copy, sign staff in, post forms.

A plain module (not a conftest) so the end-to-end tests can reuse it.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
from flask import Flask, current_app, has_app_context
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from cardservice.extensions import db
from cardservice.services import Actor, deps
from cardservice.services import keys as key_service
from cardservice.services import staff as staff_service
from tests.integration.issuance_app import SessionApp, session_app

PASSWORD = "correct horse battery staple"
STAFF = {"clerk": "clerk", "supervisor": "supervisor", "admin": "admin"}
# The authenticator app of the staff whose role needs a second factor (supervisors and admins
# by default): one known secret, so every copy of a template database signs in alike.
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture(scope="session")
def counter_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionApp]:
    """One migrated SQLite instance (city, staff), copied for each app that wants its own
    (SessionApp.fresh_copy): migrating and hashing three passwords for each would make the
    suites several times slower. A fixture here so that the counter's integration and
    end-to-end suites share it (each conftest imports it)."""
    with session_app(
        tmp_path_factory, "counter_template", seed=seed_city_and_staff, postgres=False
    ) as built:
        yield built


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
        user = staff_service.create_user(
            db.session,
            username=username,
            password=PASSWORD,
            role=role,
            now=now,
            actor=system,
            preferred_language=None,
        )
        # Their own password already (the forced change has tests of its own).
        user.must_change_password = False
        db.session.commit()
        if role in current_app.config["MFA_REQUIRED_ROLES"]:
            enrol_totp(user.id, now)


def new_user(app: Flask, username: str, role: str) -> None:
    """A staff account with PASSWORD, made as an admin would: its first sign-in still has the
    steps seed_city_and_staff skips (a new password, an authenticator app for its role)."""
    with app.app_context():
        staff_service.create_user(
            db.session,
            username=username,
            password=PASSWORD,
            role=role,
            now=datetime.now(UTC),
            actor=Actor.system("tests"),
        )


def enrol_totp(user_id: int, now: datetime, secret: str = TOTP_SECRET) -> None:
    """Give an account the authenticator app TOTP_SECRET, through the service's own set-up
    (its stored secret swapped for the known one before the confirmation)."""

    from cardservice.models import StaffTotp
    from cardservice.services import mfa

    mfa.begin_totp(db.session, deps(), user_id=user_id, now=now)
    record = db.session.get(StaffTotp, user_id)
    assert record is not None
    record.master_key_id, record.wrapped_key, record.ciphertext = mfa._seal(deps(), user_id, secret)
    db.session.commit()
    mfa.confirm_totp(
        db.session,
        deps(),
        user_id=user_id,
        # The previous step's code (still accepted): a sign-in right after may use this step's.
        code=pyotp.TOTP(secret).at(now - timedelta(seconds=30)),
        now=now,
        actor=Actor.system("tests"),
    )


def _last_totp_step(username: str) -> int | None:
    from sqlalchemy import select

    from cardservice.models import StaffTotp, StaffUser

    return db.session.scalar(
        select(StaffTotp.last_step)
        .join(StaffUser, StaffUser.id == StaffTotp.user_id)
        .where(StaffUser.username == username)
    )


def totp_code(app: Flask, username: str, secret: str = TOTP_SECRET) -> str:
    """A code the app has not accepted yet. Each step is accepted once (StaffTotp.last_step,
    read from the database, so a test that starts again from the seeded rows starts again
    here too); the next step is accepted as well, and past that the clock has to move on."""
    if has_app_context() and current_app._get_current_object() is app:  # type: ignore[attr-defined]
        # The caller's own session: a second one would wait on its lock (SQLite).
        last = _last_totp_step(username)
    else:
        with app.app_context():
            last = _last_totp_step(username)
            db.session.remove()
    step = max(int(time.time()) // 30, (-1 if last is None else int(last)) + 1)
    while step > int(time.time()) // 30 + 1:
        time.sleep(1)
    return str(pyotp.TOTP(secret).generate_otp(step))


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
    """Sign in through the form, and through the second factor when the account has one."""
    token = csrf_token(client)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
    )
    if response.status_code == 302 and response.headers["Location"].startswith("/login/verify"):
        app = client.application
        response = client.post(
            "/login/verify",
            data={
                "code": totp_code(app, username),
                # A new session began with the password: its own CSRF token.
                "csrf_token": csrf_token(client, "/login/verify"),
            },
        )
    return response


def first_sign_in(
    client: FlaskClient, username: str, password: str, new_password: str = PASSWORD + " anew"
) -> Any:
    """Sign in with a password an administrator set: the form asks for a new one first."""
    response = login(client, username, password)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] == "/login/password", response.headers["Location"]
    return client.post(
        "/login/password",
        data={
            "password": new_password,
            "confirm": new_password,
            "csrf_token": csrf_token(client, "/login/password"),
        },
    )


_SECRET_ON_PAGE = re.compile(r'id="totp-secret"[^>]*>([A-Z2-7]+)<')


def sign_in_every_step(
    client: FlaskClient, username: str, password: str, new_password: str | None = None
) -> dict[str, Any]:
    """Sign in as a person new to the counter would: the password, a new password when an
    administrator chose it, and the set-up of an authenticator app when the role needs one
    (the secret read off the page, as a person would type it). Returns what was set up:
    {"secret": ..., "recovery_codes": [...], "password": ...}; asserts it ends signed in."""
    result: dict[str, Any] = {"password": password, "secret": None, "recovery_codes": []}
    response = login(client, username, password)
    for _step in range(4):
        assert response.status_code == 302, response.get_data(as_text=True)
        location = response.headers["Location"]
        if location == "/login/password":
            result["password"] = new_password or password + " anew"
            response = client.post(
                location,
                data={
                    "password": result["password"],
                    "confirm": result["password"],
                    "csrf_token": csrf_token(client, location),
                },
            )
        elif location == "/login/enrol":
            page = client.get(location).get_data(as_text=True)
            match = _SECRET_ON_PAGE.search(page)
            assert match, "no authenticator key on the set-up page"
            result["secret"] = match.group(1)
            response = client.post(
                "/login/enrol/totp",
                data={
                    "code": pyotp.TOTP(result["secret"]).now(),
                    "csrf_token": _CSRF.search(page).group(1),  # type: ignore[union-attr]
                },
            )
            page = response.get_data(as_text=True)
            assert response.status_code == 200, page
            result["recovery_codes"] = re.findall(r"<code>([a-z2-9-]{19})</code>", page)
            response = client.post(
                "/login/continue",
                data={"csrf_token": _CSRF.search(page).group(1)},  # type: ignore[union-attr]
            )
        else:
            assert not location.startswith("/login"), location
            return result
    raise AssertionError("the sign-in did not end")


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
