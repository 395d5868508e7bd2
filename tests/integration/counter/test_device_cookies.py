"""Device cookies (services/devices.py): a browser that signed an account in before keeps
signing it in while others' guesses lock the account, and its own failures lock only itself.
Through the counter's sign-in pages, as a browser uses them."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeSerializer
from sqlalchemy import delete, select, update

from cardservice.authconfig import auth_settings
from cardservice.config import ConfigError
from cardservice.extensions import db
from cardservice.models import AuditEntry, StaffDevice, StaffUser

from .support import PASSWORD, csrf_token, login, post, totp_code

COOKIE = "cardservice_device"
WRONG = "wrong password!"
# The sign-in pages differ only by their CSRF token.
_TOKEN = re.compile(r'value="[^"]{40,}"')


def _cookie(client: FlaskClient) -> str:
    found = client.get_cookie(COOKIE, path="/login")
    assert found is not None, "no device cookie"
    return found.value


def _browser(app: Flask, value: str | None) -> FlaskClient:
    """A fresh browser, holding the device cookie `value` when given."""
    client = app.test_client()
    if value is not None:
        client.set_cookie(COOKIE, value, path="/login")
    return client


def _trusted(app: Flask, username: str) -> str:
    """The device cookie of a browser that just signed `username` in."""
    client = app.test_client()
    response = login(client, username)
    assert response.status_code == 302 and response.headers["Location"] == "/", response.headers
    return _cookie(client)


def _lock_the_account(app: Flask, username: str) -> None:
    attacker = app.test_client()
    for _ in range(int(app.config["MAX_FAILED_LOGINS"])):
        assert login(attacker, username, WRONG).status_code == 422
    assert _locked_until(app, username) is not None


def _locked_until(app: Flask, username: str) -> datetime | None:
    with app.app_context():
        until = db.session.scalar(
            select(StaffUser.locked_until).where(StaffUser.username == username)
        )
        db.session.remove()
    return until


def _devices(app: Flask) -> list[StaffDevice]:
    with app.app_context():
        rows = list(db.session.scalars(select(StaffDevice).order_by(StaffDevice.id)))
        db.session.expunge_all()
        db.session.remove()
    return rows


def _actions(app: Flask) -> list[str]:
    with app.app_context():
        actions = list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
        db.session.remove()
    return actions


def _signed_in(response: object) -> bool:
    return getattr(response, "status_code", None) == 302 and (
        getattr(response, "headers", {}).get("Location") == "/"
    )


@pytest.mark.parametrize("username", ["clerk", "admin"])  # admin: with an authenticator app
def test_the_owner_signs_in_while_an_attacker_keeps_the_account_locked(
    app: Flask, username: str
) -> None:
    value = _trusted(app, username)
    _lock_the_account(app, username)
    # Untrusted browsers, the right password included, are refused as before.
    assert login(app.test_client(), username).status_code == 422
    owner = _browser(app, value)
    assert _signed_in(login(owner, username))
    # A fresh cookie replaced the one used: the old one trusts nobody any more.
    renewed = _cookie(owner)
    assert renewed != value and len(_devices(app)) == 1
    # The account's lockout runs on for everyone else: the owner's sign-in did not lift it.
    assert _locked_until(app, username) is not None
    assert login(app.test_client(), username).status_code == 422
    assert login(_browser(app, value), username).status_code == 422
    assert "user.lock" in _actions(app)


def test_wrong_passwords_from_a_trusted_browser_lock_that_browser_only(app: Flask) -> None:
    value = _trusted(app, "clerk")
    owner = _browser(app, value)
    for _ in range(int(app.config["MAX_FAILED_LOGINS"])):
        assert login(owner, "clerk", WRONG).status_code == 422
    # That browser is locked out now, even with the right password...
    assert login(owner, "clerk").status_code == 422
    (device,) = _devices(app)
    assert device.locked_until is not None and device.lockouts == 1
    actions = _actions(app)
    assert "user.device_lock" in actions and "user.lock" not in actions
    # ...and only that browser: the account counted nothing, another browser signs in.
    assert _locked_until(app, "clerk") is None
    with app.app_context():
        failed = db.session.scalar(select(StaffUser.failed_logins).where(StaffUser.id == 1))
        db.session.remove()
    assert failed == 0
    assert _signed_in(login(app.test_client(), "clerk"))


def test_tries_during_a_device_lockout_do_not_extend_it(app: Flask) -> None:
    owner = _browser(app, _trusted(app, "clerk"))
    for _ in range(int(app.config["MAX_FAILED_LOGINS"])):
        login(owner, "clerk", WRONG)
    (before,) = _devices(app)
    for _ in range(3):
        assert login(owner, "clerk", WRONG).status_code == 422
        assert login(owner, "clerk").status_code == 422
    (after,) = _devices(app)
    assert before.locked_until is not None
    assert (after.locked_until, after.lockouts, after.failed_logins) == (
        before.locked_until,
        1,
        0,
    )
    assert _actions(app).count("user.device_lock") == 1


def test_wrong_codes_from_a_trusted_browser_count_on_that_browser(app: Flask) -> None:
    owner = _browser(app, _trusted(app, "admin"))

    def password_then(code: str) -> object:
        owner.post(
            "/login",
            data={"username": "admin", "password": PASSWORD, "csrf_token": csrf_token(owner)},
        )
        return owner.post(
            "/login/verify",
            data={"code": code, "csrf_token": csrf_token(owner, "/login/verify")},
        )

    # A right password between wrong codes does not reset the count (as on the account).
    for _round in range(2):
        assert password_then("000000").status_code == 422  # type: ignore[attr-defined]
        assert (
            owner.post(
                "/login/verify",
                data={"code": "000000", "csrf_token": csrf_token(owner, "/login/verify")},
            ).status_code
            == 422
        )
    ended = password_then("000000")  # the fifth wrong answer in a row
    assert ended.headers["Location"] == "/login"  # type: ignore[attr-defined]
    assert "user.device_lock" in _actions(app) and "user.lock" not in _actions(app)
    # Locked: not even the right password and code get this browser in now.
    assert login(owner, "admin").status_code == 422
    # The account is not: another browser signs in with its password and code.
    assert _locked_until(app, "admin") is None
    assert _signed_in(login(app.test_client(), "admin"))


def test_forged_altered_expired_replaced_and_other_accounts_cookies_are_untrusted(
    app: Flask,
) -> None:
    admins = _trusted(app, "admin")
    replaced = _trusted(app, "clerk")
    owner = _browser(app, replaced)
    assert _signed_in(login(owner, "clerk"))
    expired = _cookie(owner)
    with app.app_context():
        db.session.execute(
            update(StaffDevice).values(
                issued_at=datetime.now(UTC)
                - timedelta(days=int(app.config["DEVICE_COOKIE_DAYS"]), seconds=1)
            )
        )
        db.session.commit()
        db.session.remove()
    payload, signature = replaced.rsplit(".", 1)
    altered = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    unknown_nonce = URLSafeSerializer(app.config["SECRET_KEY"], salt="cardservice.device-cookie")
    other_key = URLSafeSerializer("not the app's secret key", salt="cardservice.device-cookie")
    nonce = URLSafeSerializer("").loads_unsafe(replaced)[1]
    _lock_the_account(app, "clerk")
    for value in (
        "garbage",
        altered,
        other_key.dumps(nonce),  # the right nonce, signed with another key
        unknown_nonce.dumps("a" * 22),  # well signed, but never issued
        admins,  # valid, for another account
        replaced,  # valid once, replaced at the owner's next sign-in
        expired,  # issued longer ago than DEVICE_COOKIE_DAYS
        "x" * 4000,
    ):
        assert login(_browser(app, value), "clerk").status_code == 422, value[:40]
    # The admin's own cookie still works for the admin.
    assert _signed_in(login(_browser(app, admins), "admin"))


def test_trusted_and_untrusted_wrong_answers_are_the_same(app: Flask) -> None:
    value = _trusted(app, "clerk")

    def answer(client: FlaskClient, username: str, password: str) -> tuple[int, str, list[str]]:
        response = login(client, username, password)
        cookies = response.headers.getlist("Set-Cookie")
        return (
            response.status_code,
            _TOKEN.sub("", response.get_data(as_text=True)),
            [c for c in cookies if c.startswith(COOKIE)],
        )

    wrong = answer(app.test_client(), "clerk", WRONG)
    assert wrong[0] == 422 and wrong[2] == []
    assert answer(_browser(app, value), "clerk", WRONG) == wrong
    # The form shows the name typed: an unknown one is compared with itself.
    assert answer(_browser(app, value), "nobody", WRONG) == answer(
        app.test_client(), "nobody", WRONG
    )
    owner = _browser(app, value)
    # With the first wrong password above, the browser's run reaches the limit: it locks.
    for _ in range(int(app.config["MAX_FAILED_LOGINS"]) - 1):
        assert answer(owner, "clerk", WRONG) == wrong
    assert answer(owner, "clerk", PASSWORD) == wrong  # the device is locked
    _lock_the_account(app, "clerk")
    assert answer(app.test_client(), "clerk", PASSWORD) == wrong  # the account is locked


def test_the_cookie_names_nobody_and_only_the_sign_in_pages_get_it(app: Flask) -> None:
    client = app.test_client()
    response = login(client, "clerk")
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(COOKIE + "=")]
    attributes = {part.strip().split("=", 1)[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path", "max-age", "samesite"} <= attributes
    assert "SameSite=Strict" in cookie and "Path=/login;" in cookie + ";"
    assert f"Max-Age={90 * 24 * 3600}" in cookie
    assert "Secure" not in cookie  # served over plain HTTP in these tests
    value = _cookie(client)
    decoded = URLSafeSerializer("").loads_unsafe(value)[1]
    assert isinstance(decoded, str) and len(decoded) == 22  # the nonce, and nothing else
    assert "clerk" not in value and "clerk" not in decoded
    # The browser sends it to the sign-in pages only.
    assert client.get_cookie(COOKIE, path="/") is None


def test_the_cookie_is_secure_whenever_the_session_cookie_is(
    app: Flask, second_app: object
) -> None:
    secure = second_app(SESSION_COOKIE_SECURE=True)  # type: ignore[operator]
    client = secure.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    response = login(client, "clerk")
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(COOKIE + "=")]
    assert "Secure" in cookie.split("; ")


def test_no_device_cookie_when_switched_off(app: Flask, second_app: object) -> None:
    value = _trusted(app, "clerk")
    off = second_app(environ={"CARDSERVICE_DEVICE_COOKIE_DAYS": "0"})  # type: ignore[operator]
    assert off.config["DEVICE_COOKIE_DAYS"] == 0
    client = off.test_client()
    response = login(client, "clerk")
    assert _signed_in(response)
    assert not [c for c in response.headers.getlist("Set-Cookie") if c.startswith(COOKIE)]
    # A cookie issued while the scheme was on trusts nobody while it is off.
    _lock_the_account(off, "clerk")
    assert login(_browser(off, value), "clerk").status_code == 422


def test_a_second_factor_code_is_needed_as_before(app: Flask) -> None:
    """The cookie skips only the account's lockout, never a step of the sign-in."""
    owner = _browser(app, _trusted(app, "admin"))
    response = owner.post(
        "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": csrf_token(owner)}
    )
    assert response.headers["Location"].startswith("/login/verify")
    assert owner.get("/").status_code == 302
    response = owner.post(
        "/login/verify",
        data={"code": totp_code(app, "admin"), "csrf_token": csrf_token(owner, "/login/verify")},
    )
    assert _signed_in(response)


@pytest.mark.parametrize("days", ["-1", "367", "ninety"])
def test_the_lifetime_setting_is_checked(days: str) -> None:
    with pytest.raises(ConfigError, match="DEVICE_COOKIE_DAYS"):
        auth_settings({"CARDSERVICE_DEVICE_COOKIE_DAYS": days}, production=False, oidc_secret=None)


def _forget_browsers(app: Flask) -> None:
    with app.app_context():
        db.session.execute(delete(StaffDevice))
        db.session.commit()
        db.session.remove()


def test_a_signed_in_owner_confirms_the_password_while_the_account_is_locked(app: Flask) -> None:
    # The session remembers its browser: the confirmation counts on that browser's counter.
    owner = app.test_client()
    assert _signed_in(login(owner, "clerk"))
    _lock_the_account(app, "clerk")
    assert post(owner, "/account/sessions/confirm", {"password": WRONG}).status_code == 422
    assert post(owner, "/account/sessions/confirm", {"password": PASSWORD}).status_code == 302
    # A session whose browser is no longer trusted (its row gone) meets the account's lockout.
    _forget_browsers(app)
    assert post(owner, "/account/sessions/confirm", {"password": PASSWORD}).status_code == 422


def test_step_up_codes_from_a_signed_in_browser_count_on_that_browser(app: Flask) -> None:
    owner = app.test_client()
    assert _signed_in(login(owner, "admin"))
    with owner.session_transaction() as session:
        session["mfa_at"] = int(time.time()) - 11 * 60  # the second factor is stale

    def step_up(code: str) -> object:
        return owner.post(
            "/login/verify?next=/admin/staff",
            data={"code": code, "csrf_token": csrf_token(owner, "/login/verify")},
        )

    for _ in range(int(app.config["MAX_FAILED_LOGINS"])):
        assert step_up("000000").status_code == 422  # type: ignore[attr-defined]
    # The browser is locked, the account is not: its owner signs in elsewhere.
    actions = _actions(app)
    assert "user.device_lock" in actions and "user.lock" not in actions
    assert _locked_until(app, "admin") is None
    assert _signed_in(login(app.test_client(), "admin"))
