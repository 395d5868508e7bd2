"""Server-side sessions (ASVS 5.0 V7, docs/security.md): what the cookie holds, when a session
ends, and what staff and administrators see of them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import inspect, select

from cardservice.extensions import db
from cardservice.models import AuditEntry, StaffSession, StaffUser
from cardservice.services import Actor
from cardservice.services import mfa as mfa_service
from cardservice.services import sessions as session_service
from cardservice.services import staff as staff_service

from .support import PASSWORD, login, post

COOKIE = "cardservice_session"


def _sid(client: FlaskClient) -> str | None:
    cookie = client.get_cookie(COOKIE)
    return cookie.value if cookie else None


def _hash(client: FlaskClient) -> str:
    sid = _sid(client)
    assert sid
    return session_service.digest(sid)


def _signed_in(client: FlaskClient) -> bool:
    return client.get("/").status_code == 200


def _user_id(app: Flask, username: str) -> int:
    with app.app_context():
        value = db.session.scalar(select(StaffUser.id).where(StaffUser.username == username))
        db.session.remove()
    assert value is not None
    return int(value)


def _rows(app: Flask) -> list[StaffSession]:
    with app.app_context():
        rows = list(db.session.scalars(select(StaffSession)))
        db.session.expunge_all()
        db.session.remove()
    return rows


class Clock:
    """The sessions' clock, moved by the test (services.utcnow as the session layer sees it)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    ticking = Clock()
    monkeypatch.setattr("cardservice.serversession.utcnow", ticking)
    monkeypatch.setattr("cardservice.counter.views.sessions.utcnow", ticking)
    yield ticking


def test_the_cookie_holds_a_random_id_and_the_data_stays_on_the_server(
    app: Flask, clerk: FlaskClient
) -> None:
    sid = _sid(clerk)
    assert sid and re.fullmatch(r"[A-Za-z0-9_-]{43}", sid)  # 256 bits, nothing else
    rows = [row for row in _rows(app) if row.staff_id is not None]
    assert len(rows) == 1
    assert "_user_id" in rows[0].data
    # Only the id's digest is stored: the table signs nobody in.
    assert sid not in rows[0].data and rows[0].sid_hash != sid


def test_cookie_flags(app: Flask, client: FlaskClient) -> None:
    response = login(client, "clerk")
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE))
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header


def test_the_session_id_changes_at_sign_in_and_the_old_one_is_worthless(
    app: Flask, client: FlaskClient
) -> None:
    client.get("/login")
    before = _sid(client)
    assert before
    assert login(client, "clerk").status_code == 302
    after = _sid(client)
    assert after and after != before
    planted = app.test_client()
    planted.set_cookie(COOKIE, before)
    assert not _signed_in(planted)  # a fixed id planted before sign-in gains nothing


def test_logout_ends_the_session_on_the_server(app: Flask, clerk: FlaskClient) -> None:
    stolen = _sid(clerk)
    assert stolen
    assert post(clerk, "/logout").status_code == 302
    replay = app.test_client()
    replay.set_cookie(COOKIE, stolen)
    assert replay.get("/").status_code == 302  # back to the sign-in page


def test_a_password_reset_ends_every_session_of_the_account(app: Flask, admin: FlaskClient) -> None:
    first, second = app.test_client(), app.test_client()
    assert login(first, "clerk").status_code == 302
    assert login(second, "clerk").status_code == 302
    clerk_id = _user_id(app, "clerk")
    response = post(
        admin,
        f"/admin/staff/{clerk_id}/password",
        {f"user{clerk_id}-password": "another long passphrase 42"},
    )
    assert response.status_code == 302
    assert not _signed_in(first) and not _signed_in(second)
    assert _signed_in(admin)


def test_deactivation_ends_every_session_of_the_account(app: Flask, admin: FlaskClient) -> None:
    other = app.test_client()
    assert login(other, "supervisor").status_code == 302
    supervisor_id = _user_id(app, "supervisor")
    assert post(admin, f"/admin/staff/{supervisor_id}/active", {"active": "0"}).status_code == 302
    assert not _signed_in(other)
    assert not [row for row in _rows(app) if row.staff_id == supervisor_id]


def test_a_self_service_password_change_ends_the_other_sessions(
    app: Flask, clerk: FlaskClient
) -> None:
    other = app.test_client()
    assert login(other, "clerk").status_code == 302
    new = "a brand new long password"
    response = post(
        clerk, "/account/password", {"current_password": PASSWORD, "password": new, "confirm": new}
    )
    assert response.status_code == 302
    assert _signed_in(clerk) and not _signed_in(other)


def test_a_reset_of_second_factors_ends_every_session_of_the_account(app: Flask) -> None:
    other = app.test_client()
    assert login(other, "supervisor").status_code == 302
    with app.app_context():
        mfa_service.reset_mfa(
            db.session,
            username="supervisor",
            now=datetime.now(UTC),
            actor=Actor.system("users reset-mfa"),
        )
        db.session.remove()
    assert not _signed_in(other)


def test_end_sessions_can_spare_the_current_one(app: Flask) -> None:
    kept, ended = app.test_client(), app.test_client()
    assert login(kept, "clerk").status_code == 302
    assert login(ended, "clerk").status_code == 302
    clerk_id = _user_id(app, "clerk")

    # The request's own session is the one spared (the request of a password change, say).
    with app.test_request_context("/", headers={"Cookie": f"{COOKIE}={_sid(kept)}"}):
        assert session_service.end_sessions(clerk_id, except_current=True) == 1
        db.session.remove()
    assert _signed_in(kept) and not _signed_in(ended)


def test_idle_timeout(app: Flask, client: FlaskClient, clock: Clock) -> None:
    assert login(client, "clerk").status_code == 302
    for _ in range(3):  # used every 29 minutes: alive past the idle limit's total
        clock.now += timedelta(minutes=29)
        assert _signed_in(client)
    clock.now += timedelta(minutes=31)
    assert not _signed_in(client)


def test_absolute_timeout_even_when_used_all_the_time(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    assert login(client, "clerk").status_code == 302
    for _ in range(24):  # 11 h 45 of continuous use
        clock.now += timedelta(minutes=29, seconds=22)
        assert _signed_in(client)
    clock.now += timedelta(minutes=20)  # 12 h 5 after signing in
    assert not _signed_in(client)


def test_timeouts_follow_the_configuration(
    app: Flask, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Through monkeypatch: on PostgreSQL the app outlives the test.
    monkeypatch.setitem(app.config, "SESSION_IDLE_MINUTES", 5)
    monkeypatch.setitem(app.config, "SESSION_ABSOLUTE_MINUTES", 60)
    client = app.test_client()
    assert login(client, "clerk").status_code == 302
    row = next(row for row in _rows(app) if row.staff_id is not None)
    assert row.absolute_expires_at - row.created_at == timedelta(minutes=60)
    assert row.expires_at - row.last_seen_at == timedelta(minutes=5)
    clock.now += timedelta(minutes=6)
    assert not _signed_in(client)


def test_the_settings_are_read_and_checked() -> None:
    from cardservice.authconfig import session_settings

    assert session_settings({}) == {"SESSION_IDLE_MINUTES": 30, "SESSION_ABSOLUTE_MINUTES": 720}
    env = {"CARDSERVICE_SESSION_IDLE_MINUTES": "15", "CARDSERVICE_SESSION_ABSOLUTE_MINUTES": "480"}
    assert session_settings(env)["SESSION_IDLE_MINUTES"] == 15
    with pytest.raises(RuntimeError, match="longer than"):
        session_settings({"CARDSERVICE_SESSION_IDLE_MINUTES": "800"})


def test_a_session_ended_meanwhile_is_not_written_back(app: Flask, clerk: FlaskClient) -> None:
    clerk_id = _user_id(app, "clerk")
    with app.app_context():
        session_service.end_sessions(clerk_id)
        db.session.remove()
    # The next request changes the session (a flash on the login redirect): nothing revives it.
    assert clerk.get("/").status_code == 302
    assert not [row for row in _rows(app) if row.staff_id == clerk_id]


def test_sign_out_everywhere(app: Flask) -> None:
    here, elsewhere = app.test_client(), app.test_client()
    assert login(here, "clerk").status_code == 302
    assert login(elsewhere, "clerk").status_code == 302
    page = here.get("/account/sessions").get_data(as_text=True)
    assert page.count("<tr>") == 3  # the header and two sessions
    assert "This session" in page
    assert post(here, "/account/sessions/end-all").status_code == 302
    assert not _signed_in(here) and not _signed_in(elsewhere)


def test_admins_see_and_end_sessions(app: Flask, admin: FlaskClient, clerk: FlaskClient) -> None:
    page = admin.get("/admin/sessions").get_data(as_text=True)
    assert "clerk" in page and "admin" in page
    clerk_id = _user_id(app, "clerk")
    row_id = next(row.id for row in _rows(app) if row.staff_id == clerk_id)
    assert post(admin, f"/admin/sessions/{row_id}/end").status_code == 302
    assert not _signed_in(clerk)
    assert post(admin, f"/admin/sessions/{row_id}/end").status_code == 404
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action)).all()
        db.session.remove()
    assert "session.end" in actions


@pytest.mark.parametrize("role", ["clerk", "supervisor"])
def test_only_admins_see_everyones_sessions(app: Flask, role: str) -> None:
    client = app.test_client()
    assert login(client, role).status_code == 302
    assert client.get("/admin/sessions").status_code == 403
    assert client.get("/account/sessions").status_code == 200


def test_no_address_or_browser_is_stored(app: Flask, clerk: FlaskClient) -> None:
    with app.app_context():
        columns = {column["name"] for column in inspect(db.engine).get_columns("staff_session")}
        db.session.remove()
    assert columns == {
        "id",
        "sid_hash",
        "staff_id",
        "data",
        "created_at",
        "last_seen_at",
        "expires_at",
        "absolute_expires_at",
    }
    data = " ".join(row.data for row in _rows(app))
    assert "127.0.0.1" not in data and "Werkzeug" not in data


def test_expired_rows_are_purged_as_sessions_are_created(app: Flask, clock: Clock) -> None:
    client = app.test_client()
    assert login(client, "clerk").status_code == 302
    clock.now += timedelta(hours=13)
    assert login(app.test_client(), "admin").status_code == 302
    clerk_id = _user_id(app, "clerk")
    assert not [row for row in _rows(app) if row.staff_id == clerk_id]


def test_admin_set_password_service_ends_sessions(app: Flask, clerk: FlaskClient) -> None:
    with app.app_context():
        staff_service.set_password(
            db.session,
            user_id=_user_id(app, "clerk"),
            password=PASSWORD + "!",
            now=datetime.now(UTC),
            actor=Actor.system("tests"),
        )
        db.session.remove()
    assert not _signed_in(clerk)


def test_ending_sessions_needs_a_recent_sign_in_or_the_password_again(
    app: Flask, clock: Clock
) -> None:
    here, elsewhere = app.test_client(), app.test_client()
    assert login(here, "clerk").status_code == 302
    assert login(elsewhere, "clerk").status_code == 302
    clock.now += timedelta(minutes=11)
    page = here.get("/account/sessions").get_data(as_text=True)
    assert 'name="password"' in page and "/account/sessions/end-all" not in page
    refused = post(here, "/account/sessions/end-all")
    assert refused.status_code == 302 and refused.headers["Location"] == "/account/sessions"
    other_row = next(
        row.id for row in _rows(app) if row.staff_id is not None and row.sid_hash != _hash(here)
    )
    assert post(here, f"/account/sessions/{other_row}/end").status_code == 302
    assert _signed_in(elsewhere)  # nothing ended without the confirmation
    wrong = post(here, "/account/sessions/confirm", {"password": "not the password!"})
    assert wrong.status_code == 422
    before = _sid(here)
    assert post(here, "/account/sessions/confirm", {"password": PASSWORD}).status_code == 302
    assert _sid(here) != before  # re-authentication rotates the id too
    assert post(here, f"/account/sessions/{other_row}/end").status_code == 302
    assert not _signed_in(elsewhere) and _signed_in(here)
    assert post(here, "/account/sessions/end-all").status_code == 302
    assert not _signed_in(here)


def test_members_end_only_their_own_sessions(app: Flask, clerk: FlaskClient) -> None:
    other = app.test_client()
    assert login(other, "supervisor").status_code == 302
    supervisor_id = _user_id(app, "supervisor")
    row_id = next(row.id for row in _rows(app) if row.staff_id == supervisor_id)
    assert post(clerk, f"/account/sessions/{row_id}/end").status_code == 404
    assert _signed_in(other)


def test_admins_end_one_members_sessions_or_everyones(app: Flask, admin: FlaskClient) -> None:
    clerks = [app.test_client(), app.test_client()]
    for client in clerks:
        assert login(client, "clerk").status_code == 302
    supervisor = app.test_client()
    assert login(supervisor, "supervisor").status_code == 302
    clerk_id = _user_id(app, "clerk")
    assert post(admin, f"/admin/sessions/user/{clerk_id}/end").status_code == 302
    assert not any(_signed_in(client) for client in clerks)
    assert _signed_in(supervisor)
    assert post(admin, "/admin/sessions/end-everyone").status_code == 302
    assert not _signed_in(supervisor)
    assert _signed_in(admin)  # the administrator's own session stays
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action)).all()
        db.session.remove()
    assert "session.end_user" in actions and "session.end_everyone" in actions


def test_every_signed_in_page_offers_the_logout(admin: FlaskClient) -> None:
    for path in ("/", "/residents/new", "/audit", "/statistics", "/account", "/account/sessions"):
        page = admin.get(path).get_data(as_text=True)
        assert 'action="/logout"' in page, path
    for path in ("/admin/staff", "/admin/keys", "/admin/tokens", "/admin/sessions"):
        assert 'action="/logout"' in admin.get(path).get_data(as_text=True), path


def test_static_files_and_the_api_do_not_touch_the_session_store(
    app: Flask, clerk: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardservice.services import sessions as store

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the session store was read")

    monkeypatch.setattr(store, "load", refuse)
    with clerk.get("/counter-static/counter.css") as response:  # a file: close it
        assert response.status_code == 200
    assert clerk.get("/api/v1/openapi.json").status_code == 200
    assert clerk.get("/healthz").status_code == 200


def test_the_test_clients_session_transaction_works_on_the_server_side_store(
    app: Flask, clerk: FlaskClient
) -> None:
    # Other suites set session values this way (e.g. an old second factor's time).
    with clerk.session_transaction() as session:
        assert session["_user_id"]
        session["mfa_at"] = 1234
    stored = next(row for row in _rows(app) if row.staff_id is not None)
    assert '"mfa_at":1234' in stored.data
    with clerk.session_transaction() as session:
        assert session["mfa_at"] == 1234
    assert _signed_in(clerk)
