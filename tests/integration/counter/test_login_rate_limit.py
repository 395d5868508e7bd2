"""Sign-in attempts are limited per client address (Flask-Limiter), on top of the per-account
lockout. Off by default in testing (whole suites sign in from one address); on here."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cardservice.config import ConfigError, load_config
from cardservice.extensions import db
from cardservice.ratelimit import limiter
from tests.integration.service_fixtures import redis_url

from .support import PASSWORD, csrf_token


@pytest.fixture(autouse=True)
def _limiter_back_off() -> Iterator[None]:
    """Flask-Limiter keeps its on/off switch on the one (module-level) limiter, and the last app
    built sets it: leave it off for the apps of later tests, as their own create_app would."""
    enabled = limiter.enabled
    yield
    limiter.enabled = enabled


@pytest.fixture
def limited_app(second_app: Callable[..., Flask]) -> Callable[..., Flask]:
    """Second apps on the test's database, with the limit on and low."""

    def make(**overrides: Any) -> Flask:
        settings: dict[str, Any] = {"RATELIMIT_LOGIN": "3 per minute", **overrides}
        return second_app(RATELIMIT_ENABLED=True, **settings)

    return make


def _try(client: FlaskClient, password: str, **kw: Any) -> Any:
    token = csrf_token(client)
    return client.post(
        "/login", data={"csrf_token": token, "username": "clerk", "password": password}, **kw
    )


def test_the_default_suite_app_does_not_limit(app: Flask) -> None:
    assert app.config["RATELIMIT_ENABLED"] is False


def test_the_fourth_attempt_in_a_minute_is_refused_with_a_translated_page(
    limited_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    limited = limited_app()
    client = limited.test_client()
    for _ in range(3):
        assert _try(client, "wrong password!").status_code == 422
    with caplog.at_level(logging.INFO):
        refused = _try(client, PASSWORD, headers={"Accept-Language": "fr"})
    # Even the right password waits: the limit is on the address, not on the account.
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers
    page = refused.get_data(as_text=True)
    assert "Trop de tentatives" in page
    assert "Traceback" not in page
    # The form itself still shows (GETs are not counted).
    assert client.get("/login").status_code == 200
    # The log says what happened without the client's address.
    messages = [record.getMessage() for record in caplog.records]
    assert any("sign-in rate limit exceeded" in m for m in messages)
    assert not any("127.0.0.1" in m for m in messages)


def test_the_limit_is_per_client_address(limited_app: Callable[..., Flask]) -> None:
    limited = limited_app()
    first = limited.test_client()
    for _ in range(3):
        _try(first, "wrong password!")
    assert _try(first, PASSWORD).status_code == 429
    other = limited.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert _try(other, PASSWORD).status_code == 302


def test_the_account_lockout_still_applies(limited_app: Callable[..., Flask]) -> None:
    # A high address limit: only the account lockout (5 failures) can stop this client.
    limited = limited_app(RATELIMIT_LOGIN="100 per minute")
    client = limited.test_client()
    for _ in range(5):
        _try(client, "wrong password!")
    locked = _try(client, PASSWORD)
    assert locked.status_code == 422
    # Locked, with the answer of a wrong password (the form does not tell which).
    assert "Wrong user name or password." in locked.get_data(as_text=True)


def test_redis_storage_is_shared_between_apps(limited_app: Callable[..., Flask]) -> None:
    # Two workers (two apps) on one Redis count together. Redis outlives the test run, so a
    # client address of this run's own (documentation range) keeps earlier runs' counts out.
    address = f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"
    shared = {"RATELIMIT_STORAGE_URI": redis_url()}
    first = limited_app(**shared).test_client()
    first.environ_base["REMOTE_ADDR"] = address
    for _ in range(3):
        assert _try(first, "wrong password!").status_code == 422
    second = limited_app(**shared).test_client()
    second.environ_base["REMOTE_ADDR"] = address
    assert _try(second, PASSWORD).status_code == 429


def test_configuration(tmp_path: Path) -> None:
    base = {"CARDSERVICE_INSTANCE_PATH": str(tmp_path)}
    config = load_config(base)
    assert config["RATELIMIT_ENABLED"] is True
    assert config["RATELIMIT_LOGIN"] == "10 per minute"
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert load_config({**base, "CARDSERVICE_ENV": "testing"})["RATELIMIT_ENABLED"] is False
    redis = load_config({**base, "CARDSERVICE_RATELIMIT_STORAGE_URI": "redis://cache:6379/2"})
    assert redis["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/2"
    with pytest.raises(ConfigError, match="RATELIMIT_LOGIN"):
        load_config({**base, "CARDSERVICE_RATELIMIT_LOGIN": "often"})
    with pytest.raises(ConfigError, match="RATELIMIT_ENABLED"):
        load_config({**base, "CARDSERVICE_RATELIMIT_ENABLED": "maybe"})


def test_the_api_search_is_limited_per_token(
    limited_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    """GET /api/v1/residents (a search by name and birth date) is limited per API token, so an
    integration cannot walk through names; the log line names neither token nor query."""
    from cardservice.services import Actor, utcnow
    from cardservice.services.tokens import create_token

    limited = limited_app(RATELIMIT_SEARCH="3 per minute")
    with limited.app_context():
        tokens = [
            create_token(
                db.session,
                name=f"search-{uuid.uuid4().hex[:8]}",
                role="clerk",
                now=utcnow(),
                actor=Actor.system("tests"),
            ).token
            for _ in range(2)
        ]
        db.session.remove()
    client = limited.test_client()

    def search(token: str) -> int:
        response = client.get(
            "/api/v1/residents",
            query_string={"name": "Zoé Lâm", "birth_date": "1990-04-27"},
            headers={"Authorization": f"Bearer {token}"},
        )
        return response.status_code

    with caplog.at_level(logging.INFO):
        assert [search(tokens[0]) for _ in range(4)] == [200, 200, 200, 429]
    assert search(tokens[1]) == 200  # another token has its own allowance
    messages = " ".join(record.getMessage() for record in caplog.records)
    assert "search rate limit exceeded" in messages
    assert "Zoé" not in messages and tokens[0] not in messages
