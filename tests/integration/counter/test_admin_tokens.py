"""Admin page of API tokens: what exists, when it was used, revoke. Never the token itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cardservice.extensions import db
from cardservice.models import ApiToken, AuditEntry
from cardservice.services import Actor
from cardservice.services import tokens as token_service
from cardservice.services.errors import AuthenticationError, NotFoundError

from .support import post

NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)


def _tokens(app: Flask) -> dict[str, tuple[int, str, str]]:
    """Two tokens, one used and one revoked, plus a third never used: name -> (id, token, hash)."""
    with app.app_context():
        system = Actor.system("tests")
        created = {
            name: token_service.create_token(
                db.session, name=name, role=role, now=NOW, actor=system
            )
            for name, role in (("intake-kiosk", "clerk"), ("old-batch", "supervisor"))
        }
        created["reports"] = token_service.create_token(
            db.session, name="reports", role="admin", now=NOW, actor=system
        )
        token_service.authenticate_token(
            db.session, created["intake-kiosk"].token, now=NOW + timedelta(days=1)
        )
        token_service.revoke_token(
            db.session, name="old-batch", now=NOW + timedelta(days=2), actor=system
        )
        hashes = {t.name: t.token_hash for t in db.session.query(ApiToken)}
        db.session.remove()
    return {name: (c.id, c.token, hashes[name]) for name, c in created.items()}


def test_the_list_shows_everything_but_the_secret(app: Flask, admin: FlaskClient) -> None:
    tokens = _tokens(app)
    response = admin.get("/admin/tokens", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for name, (_id, token, digest) in tokens.items():
        assert name in page
        assert token not in page and digest not in page
    assert "Revoked on" in page and "Never" in page and "Supervisor" in page
    # Only live tokens get a revoke button.
    assert f"/admin/tokens/{tokens['intake-kiosk'][0]}/revoke" in page
    assert f"/admin/tokens/{tokens['old-batch'][0]}/revoke" not in page
    assert 'href="/admin/tokens"' in admin.get("/").get_data(as_text=True)


def test_revoking_from_the_page(app: Flask, admin: FlaskClient) -> None:
    tokens = _tokens(app)
    token_id, token, _digest = tokens["intake-kiosk"]
    response = post(admin, f"/admin/tokens/{token_id}/revoke")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/tokens"
    assert "The API token is revoked" in admin.get("/admin/tokens").get_data(as_text=True)
    with app.app_context():
        with pytest.raises(AuthenticationError):
            token_service.authenticate_token(db.session, token, now=NOW + timedelta(days=3))
        entry = db.session.query(AuditEntry).filter_by(
            action="token.revoke", subject=f"token:{token_id}"
        )
        assert entry.count() == 1
        db.session.remove()
    # Twice, or an id that does not exist: the not-found page, nothing written.
    assert post(admin, f"/admin/tokens/{token_id}/revoke").status_code == 404
    assert post(admin, "/admin/tokens/999999/revoke").status_code == 404


def test_the_page_is_for_administrators_only(app: Flask, supervisor: FlaskClient) -> None:
    tokens = _tokens(app)
    assert supervisor.get("/admin/tokens").status_code == 403
    response = post(supervisor, f"/admin/tokens/{tokens['reports'][0]}/revoke")
    assert response.status_code == 403
    assert 'href="/admin/tokens"' not in supervisor.get("/").get_data(as_text=True)


def test_list_tokens_service(app: Flask) -> None:
    tokens = _tokens(app)
    with app.app_context():
        listed = token_service.list_tokens(db.session)
        db.session.remove()
    # Live tokens first, by name; then the revoked ones.
    assert [t.name for t in listed] == ["intake-kiosk", "reports", "old-batch"]
    kiosk, reports, old = listed
    assert kiosk.id == tokens["intake-kiosk"][0] and kiosk.role == "clerk"
    assert kiosk.last_used_at == NOW + timedelta(days=1) and kiosk.revoked_at is None
    assert reports.last_used_at is None
    assert old.revoked_at == NOW + timedelta(days=2)
    assert not hasattr(kiosk, "token_hash") and not hasattr(kiosk, "token")
    with app.app_context(), pytest.raises(NotFoundError):
        token_service.revoke_token_id(
            db.session, token_id=old.id, now=NOW, actor=Actor.system("tests")
        )
