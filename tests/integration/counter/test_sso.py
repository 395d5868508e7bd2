"""Single sign-on against a real OpenID provider (tests/oidc: panva/oidc-provider on loopback),
through the Flask test client; the browser runs the provider's pages over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cardservice.config import ConfigError, load_config
from cardservice.extensions import db
from cardservice.models import AuditEntry, StaffIdentity
from tests.oidc.harness import PASSWORD, Provider, run_provider, sign_in_at_provider

from .sso_support import callback as _callback
from .sso_support import staff as _staff
from .support import login, post

COOKIE = "cardservice_session"
CALLBACK = "http://localhost/sso/callback"


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with run_provider([CALLBACK]) as running:
        yield running


def _app_with(second_app: Callable[..., Flask], provider: Provider, **env: str) -> Flask:
    """An app on the test's database signing in at `provider`, with `env` on top."""
    return second_app(environ=provider.env(**env))


@pytest.fixture
def sso_app(second_app: Callable[..., Flask], provider: Provider) -> Flask:
    return _app_with(second_app, provider)


def _to_provider(client: FlaskClient, path: str = "/sso/login") -> str:
    response = client.get(path)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def _at_provider(location: str, username: str, password: str = PASSWORD) -> str:
    """Play the browser at the provider: sign in there; returns the callback URL it sends to."""
    return sign_in_at_provider(location, username, CALLBACK, password)


def sso_sign_in(client: FlaskClient, username: str, path: str = "/sso/login") -> object:
    return _callback(client, _at_provider(_to_provider(client, path), username))


def _session_data(client: FlaskClient, app: Flask) -> dict[str, object]:
    from flask.json.tag import TaggedJSONSerializer

    from cardservice.models import StaffSession
    from cardservice.services.sessions import digest

    cookie = client.get_cookie(COOKIE)
    assert cookie
    with app.app_context():
        data = db.session.scalar(
            select(StaffSession.data).where(StaffSession.sid_hash == digest(cookie.value))
        )
        db.session.remove()
    assert data
    loaded: dict[str, object] = TaggedJSONSerializer().loads(data)
    return loaded


def test_the_authorization_request_uses_pkce_state_and_nonce(sso_app: Flask) -> None:
    query = parse_qs(urlsplit(_to_provider(sso_app.test_client())).query)
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43
    assert query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == [CALLBACK]
    assert "openid" in query["scope"][0].split()


def test_first_sign_in_creates_the_account_with_the_claimed_role_and_mfa(
    sso_app: Flask,
) -> None:
    client = sso_app.test_client()
    client.get("/login")
    before = client.get_cookie(COOKIE)
    response = sso_sign_in(client, "amira")
    assert response.status_code == 302 and response.headers["Location"] == "/"  # type: ignore[attr-defined]
    assert client.get("/admin/staff").status_code == 200  # admin, from the roles claim
    after = client.get_cookie(COOKIE)
    assert after and (before is None or after.value != before.value)  # new session id
    # No device cookie: with no local password there is no lockout to be exempt from.
    assert client.get_cookie("cardservice_device", path="/login") is None
    user = _staff(sso_app, "amira.admin")
    assert user and user.role == "admin" and user.password_hash == "!sso"
    data = _session_data(client, sso_app)
    assert data["amr"] == ["pwd", "otp", "mfa"]
    assert isinstance(data["mfa_at"], int)
    with sso_app.app_context():
        identity = db.session.scalars(select(StaffIdentity)).one()
        assert identity.issuer == sso_app.config["OIDC_ISSUER"] and identity.subject == "amira"
        actions = db.session.scalars(select(AuditEntry.action)).all()
        db.session.remove()
    assert "user.sso_create" in actions
    # Next time the (issuer, subject) link finds the same account.
    again = sso_app.test_client()
    assert sso_sign_in(again, "amira").status_code == 302  # type: ignore[attr-defined]
    with sso_app.app_context():
        assert (
            db.session.scalar(
                select(StaffIdentity.staff_id).where(StaffIdentity.subject == "amira")
            )
            == user.id
        )
        assert "user.sso_login" in db.session.scalars(select(AuditEntry.action)).all()
        db.session.remove()


def test_a_password_only_sign_in_does_not_count_as_a_second_factor(sso_app: Flask) -> None:
    client = sso_app.test_client()
    assert sso_sign_in(client, "bruno").status_code == 302  # type: ignore[attr-defined]
    assert client.get("/").status_code == 200
    assert client.get("/audit").status_code == 403  # a clerk
    data = _session_data(client, sso_app)
    assert data["amr"] == ["pwd"] and "mfa_at" not in data


def test_no_role_in_the_claims_no_entry(sso_app: Flask) -> None:
    client = sso_app.test_client()
    response = sso_sign_in(client, "chloe")
    assert response.status_code == 403  # type: ignore[attr-defined]
    assert "no role in this service" in response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert client.get("/").status_code == 302
    assert _staff(sso_app, "chloe") is None


def test_a_provider_user_name_never_takes_over_a_local_account(sso_app: Flask) -> None:
    client = sso_app.test_client()
    response = sso_sign_in(client, "mallory")  # claims the user name "admin"
    assert response.status_code == 403  # type: ignore[attr-defined]
    assert client.get("/").status_code == 302


def test_linking_existing_accounts_when_the_city_turns_it_on(
    second_app: Callable[..., Flask], provider: Provider
) -> None:
    linked = _app_with(second_app, provider, CARDSERVICE_OIDC_LINK_EXISTING="true")
    client = linked.test_client()
    assert sso_sign_in(client, "mallory").status_code == 302  # type: ignore[attr-defined]
    user = _staff(linked, "admin")
    assert user and user.role == "clerk"  # the provider's role replaces the local one


def test_a_callback_cannot_be_replayed_or_forged(sso_app: Flask) -> None:
    client = sso_app.test_client()
    callback = _at_provider(_to_provider(client), "bruno")
    assert _callback(client, callback).status_code == 302  # type: ignore[attr-defined]
    other = sso_app.test_client()
    assert _callback(other, callback).status_code == 400  # type: ignore[attr-defined]  # not its state
    assert other.get("/").status_code == 302
    fresh = sso_app.test_client()
    _to_provider(fresh)
    forged = callback.replace("state=", "state=x")
    assert _callback(fresh, forged).status_code == 400  # type: ignore[attr-defined]
    assert fresh.get("/sso/callback?error=access_denied").status_code == 401


def test_only_a_registered_error_code_of_the_callback_is_logged(
    sso_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    client = sso_app.test_client()
    with caplog.at_level("INFO", logger="cardservice"):
        assert client.get("/sso/callback?error=access_denied").status_code == 401
        forged = "FR-SXB-0001234 Amina Diallo\nINFO forged line"
        assert client.get("/sso/callback", query_string={"error": forged}).status_code == 401
    lines = [r.getMessage() for r in caplog.records if "answered an error" in r.getMessage()]
    assert lines == [
        "identity provider answered an error: access_denied",
        "identity provider answered an error: (not a registered error code)",
    ]


def test_a_deactivated_account_stays_out(sso_app: Flask) -> None:
    client = sso_app.test_client()
    assert sso_sign_in(client, "bruno").status_code == 302  # type: ignore[attr-defined]
    admin = sso_app.test_client()
    assert login(admin, "admin").status_code == 302
    user = _staff(sso_app, "bruno")
    assert user
    assert post(admin, f"/admin/staff/{user.id}/active", {"active": "0"}).status_code == 302
    assert client.get("/").status_code == 302  # its session ended with the deactivation
    assert sso_sign_in(sso_app.test_client(), "bruno").status_code == 403  # type: ignore[attr-defined]


def test_local_passwords_can_be_switched_off(
    second_app: Callable[..., Flask], provider: Provider
) -> None:
    only_sso = _app_with(second_app, provider, CARDSERVICE_LOCAL_PASSWORDS="false")
    client = only_sso.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert 'id="sso-login"' in page and 'name="password"' not in page
    # Even a well-formed POST with the right password is refused.
    client.get("/sso/login")  # a session with a CSRF token is not needed to be refused
    response = client.post("/login", data={"username": "admin", "password": "x" * 20})
    assert response.status_code in (400, 422)
    assert client.get("/").status_code == 302
    assert sso_sign_in(client, "bruno").status_code == 302  # type: ignore[attr-defined]


def test_the_provider_being_down_is_a_clear_error(second_app: Callable[..., Flask]) -> None:
    from scripts.stack import free_port

    down = second_app(
        environ={
            "CARDSERVICE_OIDC_ISSUER": f"http://127.0.0.1:{free_port()}",
            "CARDSERVICE_OIDC_CLIENT_ID": "x",
            "CARDSERVICE_OIDC_CLIENT_SECRET": "y",
        },
    )
    response = down.test_client().get("/sso/login")
    assert response.status_code == 502
    assert "cannot be reached" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CARDSERVICE_OIDC_ISSUER": "http://idp.example.org/realms/city"}, "https://"),
        ({"CARDSERVICE_OIDC_ISSUER": "https://idp.example.org"}, "CLIENT_ID"),
        (
            {
                "CARDSERVICE_OIDC_ISSUER": "https://idp.example.org",
                "CARDSERVICE_OIDC_CLIENT_ID": "c",
            },
            "CLIENT_SECRET",
        ),
        ({"CARDSERVICE_LOCAL_PASSWORDS": "false"}, "nobody"),
        (
            {
                "CARDSERVICE_OIDC_ISSUER": "https://idp.example.org",
                "CARDSERVICE_OIDC_CLIENT_ID": "c",
                "CARDSERVICE_OIDC_CLIENT_SECRET": "s",
                "CARDSERVICE_OIDC_ROLE_MAP": "staff=superuser",
            },
            "ROLE_MAP",
        ),
    ],
)
def test_unsafe_or_incomplete_settings_stop_the_start(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    base = {"CARDSERVICE_ENV": "testing", "CARDSERVICE_INSTANCE_PATH": str(tmp_path)}
    with pytest.raises(ConfigError, match=message):
        load_config({**base, **env})


def test_production_refuses_a_plain_http_issuer_even_on_loopback(tmp_path: Path) -> None:
    from cardservice.authconfig import oidc_settings

    env = {
        "CARDSERVICE_OIDC_ISSUER": "http://127.0.0.1:8080",
        "CARDSERVICE_OIDC_CLIENT_ID": "c",
    }
    with pytest.raises(RuntimeError, match="never in production"):
        oidc_settings(env, production=True, secret="s")
    assert oidc_settings(env, production=False, secret="s")["OIDC_ENABLED"]


def test_a_single_sign_on_member_confirms_at_the_provider_before_ending_sessions(
    sso_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime, timedelta

    client = sso_app.test_client()
    assert sso_sign_in(client, "bruno").status_code == 302  # type: ignore[attr-defined]
    later = datetime.now(UTC) + timedelta(minutes=11)
    monkeypatch.setattr("cardservice.counter.views.sessions.utcnow", lambda: later)
    monkeypatch.setattr("cardservice.counter.views.sso.utcnow", lambda: later)
    page = client.get("/account/sessions").get_data(as_text=True)
    assert "/sso/login?reauth=1" in page and 'name="password"' not in page
    refused = post(client, "/account/sessions/end-all")
    assert refused.status_code == 302 and refused.headers["Location"] == "/account/sessions"
    assert client.get("/").status_code == 200  # nothing ended
    # The provider is asked for a fresh sign-in (prompt=login, max_age=0).
    location = _to_provider(client, "/sso/login?reauth=1&next=/account/sessions")
    query = parse_qs(urlsplit(location).query)
    assert query["prompt"] == ["login"] and query["max_age"] == ["0"]
    before = client.get_cookie(COOKIE)
    back = _callback(client, _at_provider(location, "bruno"))
    assert back.headers["Location"] == "/account/sessions"  # type: ignore[attr-defined]
    after = client.get_cookie(COOKIE)
    assert before and after and after.value != before.value  # a re-authentication rotates too
    assert post(client, "/account/sessions/end-all").status_code == 302
    assert client.get("/").status_code == 302


def _age_second_factor(client: FlaskClient, app: Flask, minutes: int) -> None:
    """Make the session's last second factor and sign-in `minutes` older (in its stored row)."""
    from flask.json.tag import TaggedJSONSerializer

    from cardservice.models import StaffSession
    from cardservice.services.sessions import digest

    data = _session_data(client, app)
    for key in ("mfa_at", "auth_at"):
        data[key] = int(data[key]) - minutes * 60  # type: ignore[call-overload]
    cookie = client.get_cookie(COOKIE)
    assert cookie
    with app.app_context():
        row = db.session.scalars(
            select(StaffSession).where(StaffSession.sid_hash == digest(cookie.value))
        ).one()
        row.data = TaggedJSONSerializer().dumps(data)
        db.session.commit()
        db.session.remove()


def test_step_up_sends_a_single_sign_on_member_back_to_the_provider(sso_app: Flask) -> None:
    client = sso_app.test_client()
    assert sso_sign_in(client, "amira").status_code == 302  # type: ignore[attr-defined]
    assert client.get("/admin/staff").status_code == 200  # the provider's MFA is fresh
    _age_second_factor(client, sso_app, 11)
    step_up = client.get("/admin/staff")
    assert step_up.status_code == 302
    location = step_up.headers["Location"]
    assert location.startswith("/sso/login?") and "reauth=1" in location
    back = _callback(client, _at_provider(_to_provider(client, location), "amira"))
    assert back.headers["Location"] == "/admin/staff"  # type: ignore[attr-defined]
    assert client.get("/admin/staff").status_code == 200


def test_metadata_naming_another_issuer_is_refused(
    second_app: Callable[..., Flask], provider: Provider
) -> None:
    # The same provider under another spelling of its address: its discovery document names
    # http://127.0.0.1:PORT, not the configured issuer, and nothing is trusted from it.
    other = provider.issuer.replace("127.0.0.1", "localhost")
    impostor = _app_with(second_app, provider, CARDSERVICE_OIDC_ISSUER=other)
    response = impostor.test_client().get("/sso/login")
    assert response.status_code == 502
