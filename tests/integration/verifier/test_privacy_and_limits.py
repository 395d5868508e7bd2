"""Privacy of logs, rate limiting, configuration rules."""

from __future__ import annotations

import io
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cardformat import Status
from tests.integration.service_fixtures import redis_url
from verifier import create_app
from verifier.config import ConfigError, load_config
from verifier.verification import RESULTS

from .helpers import FakeIssuer
from .test_decode_image import _photo


def test_no_card_number_name_or_token_in_any_log_line(
    client: Any, runner: Any, city: FakeIssuer, clock: Any, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets: list[str] = []
    name = "Zyxwvuts Qponmlk"
    for status in (Status.VALID, Status.REVOKED, Status.SUSPENDED):
        text, card = city.card(now=clock(), name=name)
        city.set_status(card.status_index, status)
        secrets += [text, text[4:40], card.number, card.number.replace("-", "")]
    expired, card = city.card(
        now=clock() - timedelta(days=9), name=name, expires_at=clock() - timedelta(days=1)
    )
    secrets += [expired, card.number]
    clock.advance(minutes=1)
    city.publish(clock())
    assert runner.invoke(args=["sync"]).exit_code == 0
    texts = [s for s in secrets if s.startswith("MC1:")]
    for text in texts:
        client.post("/api/v1/verify", json={"qr": text})
        client.post("/api/v1/verify", json={"qr": text[:-3] + "AAA"})
        client.post("/api/v1/verify", json={"qr": text, "x": 1})
        client.post("/api/v1/verify", data=text, content_type="text/plain")
    client.post(
        "/api/v1/decode-image",
        data={"image": (io.BytesIO(_photo(texts[0])), "c.jpg")},
        content_type="multipart/form-data",
    )
    clock.advance(days=30)
    client.post("/api/v1/verify", json={"qr": texts[0]})  # status_unknown path
    logged = "\n".join(
        [record.getMessage() for record in caplog.records]
        + [str(record.args) for record in caplog.records]
    )
    assert caplog.records, "the test must see log records to mean anything"
    for secret in [*secrets, name, "Zyxwvuts"]:
        assert secret not in logged


def test_rate_limit_per_client(app_factory: Any, city: FakeIssuer, clock: Any) -> None:
    app = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_API="5 per minute")
    client = app.test_client()
    text, _ = city.card(now=clock())
    for _ in range(5):
        response = client.post("/api/v1/verify", json={"qr": text})
        assert response.status_code == 200
    limited = client.post("/api/v1/verify", json={"qr": text})
    assert limited.status_code == 429
    assert limited.mimetype == "application/problem+json"
    assert limited.get_json()["code"] == "rate_limited"
    assert "Retry-After" in limited.headers
    # Another client address has its own budget.
    other = client.post(
        "/api/v1/verify", json={"qr": text}, environ_base={"REMOTE_ADDR": "192.0.2.7"}
    )
    assert other.status_code == 200
    # Health checks are never limited.
    assert client.get("/healthz").status_code == 200


def test_x_forwarded_for_is_ignored_without_trusted_proxies(
    app_factory: Any, city: FakeIssuer, clock: Any
) -> None:
    client = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_API="2 per minute").test_client()
    for _ in range(2):
        assert client.post("/api/v1/verify", json={"qr": "x"}).status_code == 200
    spoofed = client.post(
        "/api/v1/verify", json={"qr": "x"}, headers={"X-Forwarded-For": "203.0.113.9"}
    )
    assert spoofed.status_code == 429


def test_rate_limit_storage_in_redis(app_factory: Any) -> None:
    import uuid

    app = app_factory(
        RATELIMIT_ENABLED=True,
        RATELIMIT_API="3 per minute",
        RATELIMIT_STORAGE_URI=redis_url(),
        RATELIMIT_KEY_PREFIX=f"test-{uuid.uuid4()}",
    )
    first, second = app.test_client(), app.test_client()
    statuses = [c.post("/api/v1/verify", json={"qr": "x"}).status_code for c in (first, second) * 2]
    assert statuses == [200, 200, 200, 429]


def test_production_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="VERIFIER_SECRET_KEY"):
        create_app({"ENV": "production", "INSTANCE_PATH": str(tmp_path)})
    app = create_app(
        {
            "ENV": "production",
            "INSTANCE_PATH": str(tmp_path),
            "SECRET_KEY": "s" * 64,
            "RATELIMIT_STORAGE_URI": redis_url(),
        }
    )
    assert app.config["SECRET_KEY"] == "s" * 64
    assert not (tmp_path / "secret_key").exists()


def test_secret_key_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("  from-a-file\n")
    env = {"VERIFIER_ENV": "production", "VERIFIER_SECRET_KEY_FILE": str(secret)}
    assert load_config(env)["SECRET_KEY"] == "from-a-file"
    # The variable itself wins over the file, as cardservice's secrets do.
    assert load_config({**env, "VERIFIER_SECRET_KEY": "direct"})["SECRET_KEY"] == "direct"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda folder: folder / "missing", "cannot read secret file", id="missing"),
        pytest.param(lambda folder: folder, "cannot read secret file", id="a folder"),
        pytest.param(
            lambda folder: (folder / "blank").write_text(" \n") and folder / "blank",
            "is empty",
            id="empty",
        ),
    ],
)
def test_an_unusable_secret_key_file_stops_the_start(
    tmp_path: Path, make: Any, message: str
) -> None:
    path = make(tmp_path)
    env = {"VERIFIER_ENV": "development", "VERIFIER_SECRET_KEY_FILE": str(path)}
    with pytest.raises(ConfigError, match=message) as refused:
        load_config(env)
    # Which setting and which file, so the operator knows what to fix.
    assert f"{path} (VERIFIER_SECRET_KEY_FILE)" in str(refused.value)
    assert not (tmp_path / "secret_key").exists()  # no generated fallback either


def test_development_generates_one_secret_and_keeps_it(tmp_path: Path) -> None:
    first = create_app({"ENV": "development", "INSTANCE_PATH": str(tmp_path)})
    second = create_app({"ENV": "development", "INSTANCE_PATH": str(tmp_path)})
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_environment_configuration(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("VERIFIER_INSTANCE_PATH", str(tmp_path / "inst"))
    monkeypatch.setenv("VERIFIER_MAX_STATUS_AGE", "2d")
    monkeypatch.setenv("VERIFIER_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("VERIFIER_RATELIMIT_STORAGE_URI", "memory://")
    app = create_app()
    assert app.instance_path == str(tmp_path / "inst")
    assert app.config["MAX_STATUS_AGE"] == 2 * 86400
    assert app.config["CORS_ORIGINS"] == ("https://a.example", "https://b.example")
    monkeypatch.setenv("VERIFIER_CORS_ORIGINS", "*")
    with pytest.raises(ConfigError, match="explicit origins"):
        create_app()
    monkeypatch.setenv("VERIFIER_CORS_ORIGINS", "")
    monkeypatch.setenv("VERIFIER_MAX_STATUS_AGE", "soon")
    with pytest.raises(ConfigError, match="MAX_STATUS_AGE"):
        create_app()


def test_healthz(client: Any, city: FakeIssuer) -> None:
    client.post("/api/v1/verify", json={"qr": "nope"})
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok"
    assert body["partners"] == 1
    counts = body["verifications_by_this_process"]
    assert counts["malformed"] == 1 and counts["valid"] == 0
    assert set(counts) == set(RESULTS)


def test_ping_and_openapi(client: Any) -> None:
    assert client.get("/api/v1/ping").get_json() == {"status": "ok"}
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    schema = doc["components"]["schemas"]["Verification"]
    assert set(schema["required"]) == {
        "result",
        "valid",
        "issuer",
        "card",
        "holder",
        "status_checked_at",
        "message",
    }
