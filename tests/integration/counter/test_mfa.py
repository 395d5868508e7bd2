"""Second factors through the counter: enrolment at first sign-in, TOTP, recovery codes, the
policy of who needs one, step-up, and `cardservice users reset-mfa`. WebAuthn ceremonies run in
real Chromium (tests/e2e/counter/test_mfa_browser.py); here, what the server refuses."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cardservice.counter.views.account_security import STEP_UP_ENDPOINTS
from cardservice.extensions import db
from cardservice.models import AuditEntry, RecoveryCode, StaffTotp, StaffUser

from .support import (
    PASSWORD,
    TOTP_SECRET,
    csrf_token,
    enrol,
    login,
    new_user,
    post,
    resident_id_from,
    sign_in_every_step,
    totp_code,
)


def _actions(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def _verify(client: FlaskClient, code: str) -> object:
    return client.post(
        "/login/verify", data={"code": code, "csrf_token": csrf_token(client, "/login/verify")}
    )


def test_a_supervisor_sets_up_an_app_at_first_sign_in(app: Flask) -> None:
    new_user(app, "nadia", "supervisor")
    client = app.test_client()
    done = sign_in_every_step(client, "nadia", PASSWORD)
    assert done["secret"] and len(done["recovery_codes"]) == 10
    assert client.get("/").status_code == 200
    with client.session_transaction() as session:
        # The convention shared with single sign-on: methods used, time of the second factor.
        assert session["amr"] == ["pwd", "otp"]
        assert abs(session["mfa_at"] - time.time()) < 60
    with app.app_context():
        user = db.session.scalars(select(StaffUser).where(StaffUser.username == "nadia")).one()
        record = db.session.get(StaffTotp, user.id)
        assert record is not None and record.confirmed
        # Sealed at rest: neither the secret nor its bytes are in the row.
        stored = bytes(record.ciphertext) + bytes(record.wrapped_key)
        assert done["secret"].encode() not in stored
        assert pyotp.TOTP(done["secret"]).byte_secret() not in stored
        hashes = db.session.scalars(select(RecoveryCode.code_hash)).all()
        assert all(h.startswith("$argon2id$") for h in hashes)
        assert not any(code[5:] in h for code in done["recovery_codes"] for h in hashes)
    assert {"user.mfa_add", "user.recovery_codes", "user.password_change", "user.login"} <= set(
        _actions(app)
    )


def test_no_staff_page_opens_before_the_second_factor(app: Flask) -> None:
    client = app.test_client()
    response = client.post(
        "/login",
        data={"username": "supervisor", "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.headers["Location"] == "/login/verify"
    for path in ("/", "/account", "/audit", "/login/enrol"):
        location = client.get(path).headers.get("Location", "")
        assert location.startswith("/login"), (path, location)
    # The set-up page is not a way around the factor the account already has.
    assert "totp-secret" not in client.get("/login/enrol").get_data(as_text=True)


def test_a_code_is_accepted_once(app: Flask) -> None:
    code = pyotp.TOTP(TOTP_SECRET).now()
    first = app.test_client()
    first.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": csrf_token(first)},
    )
    assert _verify(first, code).status_code == 302
    second = app.test_client()
    second.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": csrf_token(second)},
    )
    replay = _verify(second, code)
    assert replay.status_code == 422
    assert "This code is not right." in replay.get_data(as_text=True)


def test_wrong_codes_lock_the_account_like_wrong_passwords(app: Flask) -> None:
    client = app.test_client()
    for _attempt in range(2):
        client.post(
            "/login",
            data={"username": "admin", "password": PASSWORD, "csrf_token": csrf_token(client)},
        )
        # A right password between wrong codes does not reset the count.
        for _code in range(2):
            assert _verify(client, "000000").status_code == 422
    client.post(
        "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": csrf_token(client)}
    )
    ended = _verify(client, "000000")  # the fifth wrong answer in a row
    assert ended.headers["Location"] == "/login"
    assert "user.lock" in _actions(app)
    # Locked: even the right password and code do not get in now.
    again = app.test_client()
    refused = again.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": csrf_token(again)},
    )
    assert refused.status_code == 422


def test_a_recovery_code_signs_in_once(app: Flask) -> None:
    new_user(app, "rosa", "admin")
    done = sign_in_every_step(app.test_client(), "rosa", PASSWORD)
    code = done["recovery_codes"][0]
    for expected in (302, 422):
        client = app.test_client()
        client.post(
            "/login",
            data={
                "username": "rosa",
                "password": done["password"],
                "csrf_token": csrf_token(client),
            },
        )
        assert _verify(client, code.upper()).status_code == expected
    with app.app_context():
        assert db.session.scalar(
            select(RecoveryCode.used_at).where(RecoveryCode.lookup == code[:4])
        )


def test_clerks_need_a_second_factor_only_by_city_policy(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "clerk" not in app.config["MFA_REQUIRED_ROLES"]
    assert login(app.test_client(), "clerk").headers["Location"] == "/"
    # (The PostgreSQL pass shares one app between tests: the setting is put back after.)
    monkeypatch.setitem(app.config, "MFA_REQUIRED_ROLES", ("clerk", "supervisor", "admin"))
    client = app.test_client()
    assert login(client, "clerk").headers["Location"] == "/login/enrol"
    assert sign_in_every_step(app.test_client(), "clerk", PASSWORD)["secret"]


def test_production_defaults_require_supervisors_and_admins() -> None:
    from cardservice.config import load_config

    config = load_config({"CARDSERVICE_INSTANCE_PATH": "/tmp/mfa-defaults-check"})
    assert set(config["MFA_REQUIRED_ROLES"]) == {"supervisor", "admin"}
    assert config["STEP_UP_MINUTES"] == 10


def test_step_up_guards_the_gravest_actions() -> None:
    assert {
        "counter.erase",
        "counter.admin_staff",
        "counter.admin_staff_active",
        "counter.admin_staff_password",
        "counter.admin_keys",
        "counter.admin_keys_revoke",
        "counter.admin_keys_rotate",
    } <= STEP_UP_ENDPOINTS


@pytest.mark.parametrize("path", ["/admin/staff", "/admin/keys", "erase"])
def test_an_old_second_factor_asks_for_a_new_one(app: Flask, admin: FlaskClient, path: str) -> None:
    if path == "erase":
        path = f"/residents/{resident_id_from(enrol(admin))}/erase"
    assert admin.get(path).status_code == 200  # signed in a moment ago: fresh
    with admin.session_transaction() as session:
        session["mfa_at"] = int(time.time()) - 11 * 60
    response = admin.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login/verify?next=")
    # A POST is refused the same way, before it changes anything.
    assert post(admin, "/admin/keys/rotate").headers["Location"].startswith("/login/verify")
    step_up = admin.post(
        response.headers["Location"],
        data={"code": totp_code(admin.application, "admin"), "csrf_token": csrf_token(admin, "/")},
    )
    assert step_up.headers["Location"] == path
    assert admin.get(path).status_code == 200


def test_an_account_that_needs_a_factor_keeps_one(admin: FlaskClient) -> None:
    response = post(admin, "/account/security/totp/remove", follow_redirects=True)
    assert "add another one before removing this one" in response.get_data(as_text=True)
    assert "Authenticator app: set up" in admin.get("/account/security").get_data(as_text=True)


def test_a_forged_security_key_answer_is_refused(app: Flask) -> None:
    client = app.test_client()
    client.post(
        "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": csrf_token(client)}
    )
    response = client.post(
        "/login/verify/passkey",
        data={
            "credential": '{"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}',
            "csrf_token": csrf_token(client, "/login/verify"),
        },
    )
    assert response.status_code == 422
    assert "The security key was not accepted." in response.get_data(as_text=True)
    assert client.get("/").headers["Location"].startswith("/login")


def test_cli_reset_mfa(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "reset-mfa", "admin"])
    assert result.exit_code == 0, result.output
    assert "removed" in result.output
    assert "user.mfa_reset" in _actions(app)
    # The next sign-in sets a factor up again.
    assert login(app.test_client(), "admin").headers["Location"] == "/login/enrol"
    unknown = runner.invoke(args=["users", "reset-mfa", "nobody"])
    assert unknown.exit_code == 1 and "No such user" in unknown.output


def test_keys_rewrap_moves_the_authenticator_keys_to_the_new_master_key(app: Flask) -> None:
    import os
    from dataclasses import replace

    from cardservice.config import decode_key
    from cardservice.services import deps as get_deps
    from cardservice.services import mfa
    from cardservice.services.crypto import LocalMasterKeyProvider, ResidentCipher

    old_key = decode_key("MASTER_KEY", app.config["MASTER_KEY"])
    index_key = decode_key("INDEX_KEY", app.config["INDEX_KEY"])
    new_key = os.urandom(32)
    with app.app_context():
        rotated = replace(
            get_deps(app),
            cipher=ResidentCipher(LocalMasterKeyProvider(new_key, [old_key]), index_key),
        )
        assert mfa.rewrap_totp_secrets(db.session, rotated) == 2  # supervisor and admin
        assert mfa.rewrap_totp_secrets(db.session, rotated) == 0
        # The old master key is gone now: the new one alone opens the keys.
        only_new = replace(
            rotated, cipher=ResidentCipher(LocalMasterKeyProvider(new_key), index_key)
        )
        admin_id = db.session.scalar(select(StaffUser.id).where(StaffUser.username == "admin"))
        code = totp_code(app, "admin")
        now = datetime.now(UTC)
        assert mfa.verify_totp(db.session, only_new, user_id=admin_id, code=code, now=now)
