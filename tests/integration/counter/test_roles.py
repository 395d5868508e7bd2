"""The role matrix: every counter route, with every role and anonymously.

EXPECTED is written out by hand, independent of the code: a route added without an entry here
fails ``test_every_route_is_in_the_matrix``, and a route whose decorator drifts from the table
fails the walk.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cardservice.extensions import db
from cardservice.models import SigningKey, StaffUser
from cardservice.services import Actor, utcnow
from cardservice.services import tokens as token_service

from .support import csrf_token, enrol, login, post, resident_id_from

ROLES = ("anonymous", "clerk", "supervisor", "admin")
RANK = {role: rank for rank, role in enumerate(ROLES)}

# endpoint -> lowest role allowed
EXPECTED = {
    "counter.login": "anonymous",
    "counter.logout": "clerk",
    "counter.account": "clerk",
    "counter.dashboard": "clerk",
    "counter.enrol": "clerk",
    "counter.resident": "clerk",
    "counter.edit": "clerk",
    "counter.issue": "clerk",
    "counter.card_pdf": "clerk",
    "counter.card_to_printer": "clerk",
    "counter.renew": "clerk",
    "counter.replace": "supervisor",
    "counter.suspend": "supervisor",
    "counter.reinstate": "supervisor",
    "counter.revoke": "supervisor",
    "counter.erase": "supervisor",
    "counter.audit": "supervisor",
    "counter.audit_verify": "supervisor",
    "counter.statistics": "supervisor",
    "counter.admin_staff": "admin",
    "counter.admin_staff_active": "admin",
    "counter.admin_staff_password": "admin",
    "counter.admin_keys": "admin",
    "counter.admin_keys_rotate": "admin",
    "counter.admin_keys_revoke": "admin",
    "counter.admin_tokens": "admin",
    "counter.admin_tokens_revoke": "admin",
    "counter.my_sessions": "clerk",
    "counter.end_my_sessions": "clerk",
    "counter.admin_sessions": "admin",
    "counter.admin_sessions_end": "admin",
    "counter.admin_sessions_end_user": "admin",
    "counter.admin_sessions_end_everyone": "admin",
    "counter.end_my_session": "clerk",
    "counter.confirm_password": "clerk",
    # Single sign-on starts signed out (404 while no provider is configured).
    "counter.sso_login": "anonymous",
    "counter.sso_callback": "anonymous",
    # The steps of a sign-in after the password (a pending sign-in, not a role; without one
    # they lead back to the login form), which also serve signed-in staff for step-up and for
    # adding a second factor.
    "counter.signin_verify": "anonymous",
    "counter.signin_verify_passkey": "anonymous",
    "counter.signin_continue": "anonymous",
    "counter.signin_enrol": "anonymous",
    "counter.signin_enrol_totp": "anonymous",
    "counter.signin_enrol_passkey": "anonymous",
    "counter.signin_password": "anonymous",
    "counter.account_security": "clerk",
    "counter.account_security_remove_totp": "clerk",
    "counter.account_security_remove_passkey": "clerk",
    "counter.account_security_recovery_codes": "clerk",
    "counter.account_password": "clerk",
}
SIGN_IN_STEPS = {endpoint for endpoint in EXPECTED if endpoint.startswith("counter.signin_")}


def _counter_rules(app: Flask) -> list[Any]:
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("counter.") and rule.endpoint != "counter.static"
    ]


def test_every_route_is_in_the_matrix(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in _counter_rules(app)}
    assert endpoints == set(EXPECTED)


def test_decorators_declare_the_expected_role(app: Flask) -> None:
    for endpoint, role in EXPECTED.items():
        view = app.view_functions[endpoint]
        assert getattr(view, "required_role", None) == role, endpoint


def _fixture_values(app: Flask) -> dict[str, str]:
    """A resident with a card, so every URL points at something real."""
    client = app.test_client()
    assert login(client, "clerk").status_code == 302
    resident_id = resident_id_from(enrol(client))
    post(client, f"/residents/{resident_id}/cards")
    page = client.get(f"/residents/{resident_id}").get_data(as_text=True)
    number = re.search(r'id="card-([0-9A-Z]{4}-[0-9A-Z]{3})"', page)
    assert number
    with app.app_context():
        clerk_id = db.session.query(StaffUser.id).filter_by(username="clerk").scalar()
        kid = db.session.query(SigningKey.kid).scalar()
        token = token_service.create_token(
            db.session, name="matrix", role="clerk", now=utcnow(), actor=Actor.system("tests")
        )
    return {
        "resident_id": resident_id,
        "number": number.group(1),
        "layout": "card",
        "user_id": str(clerk_id),
        "kid": kid,
        "token_id": str(token.id),
        # No such session: ending one of the walker's own would end the walk.
        "session_id": "2147483647",
        "credential": "1",
    }


def _url(rule: Any, values: dict[str, str]) -> str:
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(r"<(?:[^:<>]+:)?" + name + r"(?:\([^)]*\))?>", values[name], path)
        path = re.sub(r"<[^<>]*:" + name + ">", values[name], path)
    return path


def _request(client: FlaskClient, method: str, url: str, signed_in: bool) -> Any:
    if method == "GET":
        return client.get(url)
    data = {"csrf_token": csrf_token(client, "/" if signed_in else "/login")}
    return client.post(url, data=data)


@pytest.mark.parametrize("role", ROLES)
def test_walk_every_route(app: Flask, role: str) -> None:
    values = _fixture_values(app)
    client = app.test_client()
    if role != "anonymous":
        assert login(client, role).status_code == 302
    checked = 0
    for rule in _counter_rules(app):
        # Logging out would end the walk; it is checked on its own below (and signing out
        # everywhere in test_sessions.py).
        if rule.endpoint in ("counter.logout", "counter.end_my_sessions"):
            continue
        url = _url(rule, values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = _request(client, method, url, role != "anonymous")
            allowed = RANK[role] >= RANK[EXPECTED[rule.endpoint]]
            where = f"{role} {method} {url} -> {response.status_code}"
            assert response.status_code < 500, where
            if role == "anonymous" and rule.endpoint in SIGN_IN_STEPS:
                assert response.status_code == 302, where  # no pending sign-in
                assert response.headers["Location"].startswith("/login"), where
            elif allowed:
                assert response.status_code != 403, where
                assert "/login" not in response.headers.get("Location", ""), where
            elif role == "anonymous":
                assert response.status_code == 302, where
                assert response.headers["Location"].startswith("/login"), where
            else:
                assert response.status_code == 403, where
            checked += 1
    assert checked >= len(EXPECTED)


@pytest.mark.parametrize("role", ROLES)
def test_logout(app: Flask, role: str) -> None:
    client = app.test_client()
    if role != "anonymous":
        assert login(client, role).status_code == 302
    response = _request(client, "POST", "/logout", role != "anonymous")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    # Signed out now (or never in): a staff page sends to the login form.
    assert client.get("/").headers["Location"].startswith("/login")


def test_logout_needs_the_csrf_token(clerk: FlaskClient) -> None:
    response = clerk.post("/logout")
    assert response.status_code == 400
    assert clerk.get("/").status_code == 200


def test_every_post_route_refuses_a_missing_csrf_token(app: Flask) -> None:
    values = _fixture_values(app)
    client = app.test_client()
    assert login(client, "admin").status_code == 302
    for rule in _counter_rules(app):
        if "POST" not in rule.methods:
            continue
        response = client.post(_url(rule, values), data={})
        assert response.status_code == 400, rule.endpoint
        assert "The form expired" in response.get_data(as_text=True)


def test_buttons_are_shown_to_the_roles_their_routes_allow() -> None:
    from cardservice.counter.views.context import ACTION_ROLES

    for action, role in ACTION_ROLES.items():
        assert EXPECTED[f"counter.{action}"] == role, action


def test_clerk_sees_no_supervisor_buttons(app: Flask) -> None:
    values = _fixture_values(app)
    pages = {}
    for role in ("clerk", "supervisor"):
        client = app.test_client()
        assert login(client, role).status_code == 302
        pages[role] = client.get(f"/residents/{values['resident_id']}").get_data(as_text=True)
    for action in ("revoke", "suspend", "replace"):
        assert f"/cards/{values['number']}/{action}" not in pages["clerk"]
        assert f"/cards/{values['number']}/{action}" in pages["supervisor"]
    assert "/erase" not in pages["clerk"] and "/erase" in pages["supervisor"]
