"""My account: every signed-in role picks the language of its own counter screens."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cardservice.extensions import db
from cardservice.models import AuditEntry, StaffUser
from cardservice.services import Actor
from cardservice.services import staff as staff_service
from cardservice.services.errors import NotFoundError, ValidationError

from .support import login, post

NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)


def _user(app: Flask, username: str) -> StaffUser:
    with app.app_context():
        user = db.session.query(StaffUser).filter_by(username=username).one()
        db.session.expunge(user)
        return user


@pytest.mark.parametrize("role", ["clerk", "supervisor", "admin"])
def test_every_role_sets_its_language_and_the_ui_follows(app: Flask, role: str) -> None:
    client = app.test_client()
    assert login(client, role).status_code == 302
    page = client.get("/account", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "My account" in page.get_data(as_text=True)

    response = post(client, "/account", {"language": "fr"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    # The profile language now wins over the browser's, on every page.
    after = client.get("/account", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'lang="fr"' in after and "Mon compte" in after
    assert "Votre langue est enregistrée." in after
    assert _user(app, role).preferred_language == "fr"

    # Arabic turns the page right to left; the empty choice goes back to the browser.
    post(client, "/account", {"language": "ar"})
    assert 'dir="rtl"' in client.get("/").get_data(as_text=True)
    post(client, "/account", {"language": ""})
    assert _user(app, role).preferred_language is None
    assert 'lang="es"' in client.get("/", headers={"Accept-Language": "es"}).get_data(as_text=True)


def test_an_unknown_language_is_refused_with_a_message(app: Flask, clerk: FlaskClient) -> None:
    response = post(clerk, "/account", {"language": "xx"})
    assert response.status_code == 422
    assert "Choose one of the listed languages." in response.get_data(as_text=True)
    assert _user(app, "clerk").preferred_language is None


def test_the_account_page_is_linked_from_every_signed_in_page(clerk: FlaskClient) -> None:
    assert 'href="/account"' in clerk.get("/").get_data(as_text=True)


def test_the_service_validates_and_audits(app: Flask) -> None:
    with app.app_context():
        user_id = db.session.query(StaffUser.id).filter_by(username="clerk").scalar()
        actor = Actor.staff(user_id)
        with pytest.raises(ValidationError) as refused:
            staff_service.set_preferred_language(
                db.session, user_id=user_id, language="de", now=NOW, actor=actor
            )
        assert "language" in refused.value.errors
        with pytest.raises(NotFoundError):
            staff_service.set_preferred_language(
                db.session, user_id=10**6, language="fr", now=NOW, actor=actor
            )
        user = staff_service.set_preferred_language(
            db.session, user_id=user_id, language="pt", now=NOW, actor=actor
        )
        assert user.preferred_language == "pt"
        entry = db.session.query(AuditEntry).filter_by(action="user.language").one()
        assert entry.subject == f"user:{user_id}" and entry.detail == "pt"
        assert entry.actor == f"staff:{user_id}"
        db.session.remove()
