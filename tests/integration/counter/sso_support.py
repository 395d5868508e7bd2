"""What the single sign-on tests share: apps configured for a provider on the test's database,
the browser's trips to the provider and back (tests/oidc runs the provider)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cardservice.extensions import db
from cardservice.models import StaffUser

from .support import open_app

_OPENED: list[Flask] = []


def second_app(app: Flask, environ: dict[str, str]) -> Flask:
    """Another app on the test's database, configured by `environ` (CARDSERVICE_* variables);
    its connections are closed after the test (`close_second_apps`)."""
    second = open_app(
        Path(app.instance_path),
        app.config["SQLALCHEMY_DATABASE_URI"],
        environ=environ,
        SQLALCHEMY_BINDS=app.config["SQLALCHEMY_BINDS"],
        SQLALCHEMY_ENGINE_OPTIONS=app.config["SQLALCHEMY_ENGINE_OPTIONS"],
    )
    _OPENED.append(second)
    return second


@pytest.fixture(autouse=True)
def close_second_apps() -> Iterator[None]:
    yield
    while _OPENED:
        with _OPENED.pop().app_context():
            db.session.remove()
            for bound in db.engines.values():
                bound.dispose()


def callback(client: FlaskClient, url: str) -> object:
    parts = urlsplit(url)
    return client.get(f"{parts.path}?{parts.query}")


def staff(app: Flask, username: str) -> StaffUser | None:
    with app.app_context():
        user = db.session.scalars(select(StaffUser).where(StaffUser.username == username)).first()
        db.session.expunge_all()
        db.session.remove()
    return user
