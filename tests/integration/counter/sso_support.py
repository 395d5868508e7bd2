"""What the single sign-on tests share: the browser's trip back from the provider and a look at
the staff table (tests/oidc runs the provider; conftest's second_app builds the apps)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cardservice.extensions import db
from cardservice.models import StaffUser


def callback(client: FlaskClient, url: str) -> object:
    parts = urlsplit(url)
    return client.get(f"{parts.path}?{parts.query}")


def staff(app: Flask, username: str) -> StaffUser | None:
    with app.app_context():
        user = db.session.scalars(select(StaffUser).where(StaffUser.username == username)).first()
        db.session.expunge_all()
        db.session.remove()
    return user
