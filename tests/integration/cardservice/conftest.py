"""Fixtures of the issuance-service tests: `app`, `client`, `runner`, plus a city and API tokens.

The database is built once per session through the migrations (never create_all) and emptied
between tests. SQLite by default; PostgreSQL when TEST_POSTGRES_URL is set, in a schema of its own
so concurrent suites on the same server do not collide. An unreachable PostgreSQL ends the run
with an error: it never turns into skipped tests.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from PIL import Image

from tests.integration.issuance_app import session_app
from tests.integration.service_fixtures import empty_all_tables

HERE = Path(__file__).resolve().parent
NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Every test here touches the database, so all of them belong to the PostgreSQL pass too.
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def _session_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    # CSRF protection stays on: the API must work with it (bearer tokens are exempt).
    with session_app(tmp_path_factory, "cardservice_test") as built:
        yield built.app


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
        # Made now, not at NOW: tokens expire (90 days) and the API checks them against the clock.
        role: create_token(
            session, name=f"{role}-token", role=role, now=datetime.now(UTC), actor=actor
        ).token
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
