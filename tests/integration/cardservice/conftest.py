"""Fixtures of the issuance-service tests: `app`, `client`, `runner`, plus a city and API tokens.

The database is built once per session through the migrations (never create_all) and emptied
between tests. SQLite by default; PostgreSQL when TEST_POSTGRES_URL is set, in a schema of its own
so concurrent suites on the same server do not collide. An unreachable PostgreSQL ends the run
with an error: it never turns into skipped tests.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from PIL import Image

from tests.integration.service_fixtures import (
    drop_postgres_settings,
    empty_all_tables,
    postgres_settings,
    postgres_url,
)

HERE = Path(__file__).resolve().parent
NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Every test here touches the database, so all of them belong to the PostgreSQL pass too.
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def _session_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    instance = tmp_path_factory.mktemp("instance")
    patch = pytest.MonkeyPatch()
    # Environment first: load_config() reads it (the instance folder receives the generated
    # development secrets, so they never land in the working tree).
    for name in list(os.environ):
        if name.startswith("CARDSERVICE_"):
            patch.delenv(name)
    patch.setenv("CARDSERVICE_INSTANCE_PATH", str(instance))
    patch.setenv("CARDSERVICE_ENV", "testing")
    patch.setenv("CARDSERVICE_PUBLIC_URL", "http://cards.test")

    # CSRF protection stays on: the API must work with it (bearer tokens are exempt).
    overrides: dict[str, Any] = {"TESTING": True}
    url = postgres_url()
    postgres = postgres_settings(url, "cardservice_test") if url else None
    if postgres:
        overrides.update(postgres)
    else:
        overrides["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'test.sqlite3'}"

    from flask_migrate import upgrade

    from cardservice import create_app

    try:
        app = create_app(overrides)
    finally:
        # The app has read its configuration; the environment goes back to what it was at
        # once, so suites collected after this one (same pytest session) never see it.
        patch.undo()
    with app.app_context():
        upgrade()
    yield app

    from cardservice.extensions import db

    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    if postgres:
        drop_postgres_settings(postgres)


_empty_tables = empty_all_tables


@pytest.fixture
def app(_session_app: Flask) -> Iterator[Flask]:
    _empty_tables(_session_app)
    with _session_app.app_context():
        yield _session_app
    _empty_tables(_session_app)


@pytest.fixture
def city(app: Flask, session: Any, deps: Any, actor: Any) -> Any:
    from cardservice.services.keys import init_city

    return init_city(
        session,
        deps,
        code="FR SXB",
        names={"fr": "Strasbourg", "de": "Straßburg"},
        now=NOW,
        actor=actor,
    )


@pytest.fixture
def tokens(app: Flask, session: Any, actor: Any) -> dict[str, str]:
    """One bearer token per role."""
    from cardservice.services.tokens import create_token

    return {
        role: create_token(session, name=f"{role}-token", role=role, now=NOW, actor=actor).token
        for role in ("clerk", "supervisor", "admin")
    }


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_photo(
    fmt: str = "JPEG", size: tuple[int, int] = (300, 400), exif_gps: bool = False
) -> bytes:
    image = Image.new("RGB", size, (180, 140, 120))
    for x in range(size[0] // 4, size[0] * 3 // 4):
        image.putpixel((x, size[1] // 2), (20, 20, 20))
    out = io.BytesIO()
    if exif_gps:
        exif = Image.Exif()
        exif[0x010F] = "SpyCam Inc"  # Make
        exif[0x8825] = {1: "N", 2: (48.0, 35.0, 0.0)}  # GPSInfo: latitude
        image.save(out, format=fmt, exif=exif)
    else:
        image.save(out, format=fmt)
    return out.getvalue()


def enrolment(**overrides: Any) -> Any:
    from cardservice.services.residents import EnrolmentInput

    fields: dict[str, Any] = {
        "display_name": "Amira Haddad",
        "birth_date": "1990-04-17",
        "gender_marker": "F",
        "address": "12 rue des Fleurs, Strasbourg",
        "preferred_language": "ar",
        "photo": make_photo(),
        "documents": ["passport", "utility_bill"],
    }
    fields.update(overrides)
    return EnrolmentInput(**fields)
