"""Password rules, the forced change of an administrator's password, the self-service change,
one answer for unknown users, wrong passwords and locked accounts, and the doubling lockout."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cardservice.extensions import db
from cardservice.models import StaffUser
from cardservice.services import authentication
from cardservice.services import passwords as password_service
from cardservice.services import staff as staff_service
from cardservice.services.errors import AccountLockedError, AuthenticationError

from .support import PASSWORD, csrf_token, first_sign_in, login, post

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short pass", "at least 12 characters"),
        ("password1234", "one of the most common ones"),
        ("PASSWORD1234", "one of the most common ones"),
        ("aaaaaaaaaaaa", "too easy to guess"),
        ("qwertyuiop123", "one of the most common ones"),
        ("strasbourg2026", "too easy to guess"),
        ("zaq12wsxcde3", "too easy to guess"),
        ("newbie-newbie-2026", "must not contain the user name"),
    ],
)
def test_admin_cannot_set_a_weak_password(admin: FlaskClient, password: str, message: str) -> None:
    response = post(
        admin, "/admin/staff", {"username": "newbie", "password": password, "role": "admin"}
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_the_bundled_list_is_the_documented_one() -> None:
    common = password_service.common_passwords()
    assert len(common) > 15_000
    assert {"password1234", "qwertyuiop123", "iloveyou1234"} & common
    assert all(word == word.lower() and len(word) >= 8 for word in common)
    assert password_service.password_problem("correct horse battery staple") is None


def _reset_by_an_admin(app: Flask, admin: FlaskClient, username: str) -> None:
    """An administrator sets ``username``'s password to "reset by an admin"."""
    with app.app_context():
        user_id = db.session.scalar(select(StaffUser.id).where(StaffUser.username == username))
    response = post(
        admin, f"/admin/staff/{user_id}/password", {f"user{user_id}-password": "reset by an admin"}
    )
    assert response.status_code == 302


def test_an_admin_set_password_is_changed_at_first_sign_in(app: Flask, admin: FlaskClient) -> None:
    assert (
        post(
            admin,
            "/admin/staff",
            {"username": "newclerk", "password": "a long enough password", "role": "clerk"},
        ).status_code
        == 302
    )
    client = app.test_client()
    response = login(client, "newclerk", "a long enough password")
    assert response.headers["Location"] == "/login/password"
    assert client.get("/").headers["Location"].startswith("/login")  # nothing else opens
    weak = client.post(
        "/login/password",
        data={
            "password": "password1234",
            "confirm": "password1234",
            "csrf_token": csrf_token(client, "/login/password"),
        },
    )
    assert weak.status_code == 422
    done = first_sign_in(app.test_client(), "newclerk", "a long enough password", PASSWORD)
    assert done.headers["Location"] == "/"
    assert login(app.test_client(), "newclerk", "a long enough password").status_code == 422
    assert login(app.test_client(), "newclerk", PASSWORD).headers["Location"] == "/"
    # An administrator's reset makes it the administrator's password again: changed at sign-in.
    _reset_by_an_admin(app, admin, "newclerk")
    assert login(app.test_client(), "newclerk", "reset by an admin").headers["Location"] == (
        "/login/password"
    )


def test_self_service_change_needs_the_current_password(app: Flask, clerk: FlaskClient) -> None:
    def change(current: str, new: str) -> str:
        response = post(
            clerk,
            "/account/password",
            {"current_password": current, "password": new, "confirm": new},
        )
        return response.get_data(as_text=True) if response.status_code == 422 else "saved"

    assert "not your current password" in change("wrong password!", "a brand new long password")
    assert "different from the current one" in change(PASSWORD, PASSWORD)
    assert "one of the most common ones" in change(PASSWORD, "password1234")
    assert change(PASSWORD, "a brand new long password") == "saved"
    assert login(app.test_client(), "clerk", PASSWORD).status_code == 422
    assert login(app.test_client(), "clerk", "a brand new long password").status_code == 302


def _answer(response: object) -> str:
    page = response.get_data(as_text=True)  # type: ignore[attr-defined]
    return re.sub(r'value="[^"]*"', "", page)


def test_one_answer_and_the_same_work_for_unknown_wrong_and_locked(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    class Counting(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            calls.append("verify")
            return super().verify(hash, password)

    monkeypatch.setattr(
        password_service, "_hasher", Counting(time_cost=1, memory_cost=1024, parallelism=1)
    )
    answers, work = {}, {}
    for case, (username, password) in {
        "unknown": ("nobody", "wrong password!"),
        "wrong": ("clerk", "wrong password!"),
    }.items():
        calls.clear()
        response = login(app.test_client(), username, password)
        answers[case], work[case] = (response.status_code, _answer(response)), len(calls)
    for _ in range(int(app.config["MAX_FAILED_LOGINS"])):
        login(app.test_client(), "clerk", "wrong password!")
    calls.clear()
    response = login(app.test_client(), "clerk", PASSWORD)  # the right one, while locked
    answers["locked"], work["locked"] = (response.status_code, _answer(response)), len(calls)
    assert answers["unknown"] == answers["wrong"] == answers["locked"]
    assert answers["locked"][0] == 422
    # One argon2 verification each: the time of the answer does not tell them apart either.
    assert work == {"unknown": 1, "wrong": 1, "locked": 1}


def test_lockouts_double_up_to_a_cap_and_refused_tries_do_not_extend_them(app: Flask) -> None:
    cap = timedelta(minutes=15)
    with app.app_context():
        session = db.session
        user_id = session.scalar(select(StaffUser.id).where(StaffUser.username == "clerk"))

        def fail_until_locked(now: datetime) -> timedelta:
            for _ in range(5):
                with pytest.raises(AuthenticationError):
                    authentication.authenticate(
                        session, username="clerk", password="wrong password!", now=now, lockout=cap
                    )
            until = session.get(StaffUser, user_id, populate_existing=True).locked_until
            assert until is not None
            return until - now

        now, lengths = NOW, []
        for _ in range(6):
            length = fail_until_locked(now)
            lengths.append(length)
            # Tries while locked are refused unchecked (the right password too) and change
            # nothing: whoever locks an account cannot keep it locked past the cap by trying.
            for password in ("wrong password!", PASSWORD):
                with pytest.raises(AccountLockedError):
                    authentication.authenticate(
                        session,
                        username="clerk",
                        password=password,
                        now=now + length / 2,
                        lockout=cap,
                    )
            now += length
        assert [m.total_seconds() / 60 for m in lengths] == [1, 2, 4, 8, 15, 15]
        # Over: the right password signs in, and the next lockout is short again.
        user = authentication.authenticate(
            session, username="clerk", password=PASSWORD, now=now, lockout=cap
        )
        assert user.lockouts == 0 and user.failed_logins == 0
        assert fail_until_locked(now) == timedelta(minutes=1)


def test_lockout_length() -> None:
    cap = timedelta(minutes=15)
    assert authentication.lockout_length(0, cap) == timedelta(minutes=1)
    assert authentication.lockout_length(3, cap) == timedelta(minutes=8)
    assert authentication.lockout_length(10_000, cap) == cap


def test_cli_create_refuses_a_common_password(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=["users", "create", "bob", "--role", "clerk", "--password-stdin"],
        input="password1234\n",
    )
    assert result.exit_code == 1 and "most common" in result.output
    with app.app_context():
        assert "bob" not in {user.username for user in staff_service.list_users(db.session)}


def test_long_passphrases_are_welcome_and_checked_exactly(app: Flask, clerk: FlaskClient) -> None:
    long = "the quick brown town crier jumps over seventy lazy archive boxes " * 3  # 195
    response = post(
        clerk,
        "/account/password",
        {"current_password": PASSWORD, "password": long, "confirm": long},
    )
    assert response.status_code == 302
    # As typed: no trimming, no case folding.
    assert login(app.test_client(), "clerk", long.strip()).status_code == 422
    assert login(app.test_client(), "clerk", long.upper()).status_code == 422
    assert login(app.test_client(), "clerk", long).headers["Location"] == "/"


def test_a_password_reset_does_not_bypass_the_second_factor(app: Flask, admin: FlaskClient) -> None:
    _reset_by_an_admin(app, admin, "supervisor")
    client = app.test_client()
    response = client.post(
        "/login",
        data={
            "username": "supervisor",
            "password": "reset by an admin",
            "csrf_token": csrf_token(client),
        },
    )
    # The second factor first, then the new password: knowing the reset one is not enough.
    assert response.headers["Location"] == "/login/verify"
    assert client.get("/login/password").headers["Location"] == "/login/verify"
