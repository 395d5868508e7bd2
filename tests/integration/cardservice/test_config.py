"""Configuration: defaults plus environment, secrets generated in development only."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cardservice.config import ConfigError, load_config


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"CARDSERVICE_INSTANCE_PATH": str(tmp_path / "instance"), **extra}


def _key() -> str:
    return base64.b64encode(b"k" * 32).decode()


PRODUCTION_SECRETS = {
    "CARDSERVICE_ENV": "production",
    "CARDSERVICE_PUBLIC_URL": "https://cards.example.org",
    "CARDSERVICE_SECRET_KEY": "s" * 40,
    "CARDSERVICE_KEY_PASSPHRASE": "stapler-Quokka-81-marimba-Vexing",
    "CARDSERVICE_MASTER_KEY": _key(),
    "CARDSERVICE_INDEX_KEY": _key(),
    "CARDSERVICE_DATABASE_URL": "postgresql://cards@db.example/cards",
    "CARDSERVICE_KEYSTORE_DATABASE_URL": "postgresql://keys@keys.example/keys",
    "CARDSERVICE_RATELIMIT_STORAGE_URI": "redis://redis.example:6379/0",
}


def test_defaults(tmp_path: Path) -> None:
    config = load_config(_env(tmp_path))
    assert config["CARDSERVICE_ENV"] == "development"
    assert config["SQLALCHEMY_DATABASE_URI"] == (
        f"sqlite:///{(tmp_path / 'instance').resolve() / 'cardservice.sqlite3'}"
    )
    assert config["PUBLIC_URL"] == "http://127.0.0.1:5000"
    assert config["SESSION_COOKIE_HTTPONLY"] and config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_development_secrets_generated_once_with_mode_0600(tmp_path: Path) -> None:
    first = load_config(_env(tmp_path))
    second = load_config(_env(tmp_path))
    for name in ("SECRET_KEY", "KEY_PASSPHRASE", "MASTER_KEY", "INDEX_KEY"):
        assert first[name] == second[name]
        path = tmp_path / "instance" / "secrets" / name.lower()
        assert path.stat().st_mode & 0o777 == 0o600
    # Another instance folder gets other secrets: nothing is a fixed fallback.
    other = load_config(_env(tmp_path / "other"))
    assert other["SECRET_KEY"] != first["SECRET_KEY"]
    assert len(base64.b64decode(first["MASTER_KEY"])) == 32


@pytest.mark.parametrize(
    "missing",
    [
        "CARDSERVICE_SECRET_KEY",
        "CARDSERVICE_KEY_PASSPHRASE",
        "CARDSERVICE_MASTER_KEY",
        "CARDSERVICE_INDEX_KEY",
    ],
)
def test_production_requires_every_secret(tmp_path: Path, missing: str) -> None:
    env = _env(tmp_path, **PRODUCTION_SECRETS)
    del env[missing]
    with pytest.raises(ConfigError, match=f"{missing} is not set"):
        load_config(env)
    assert not (tmp_path / "instance" / "secrets").exists()


def test_production_with_secrets(tmp_path: Path) -> None:
    config = load_config(_env(tmp_path, **PRODUCTION_SECRETS))
    assert config["SECRET_KEY"] == "s" * 40
    assert config["SESSION_COOKIE_SECURE"] is True


def test_production_requires_https_public_url(tmp_path: Path) -> None:
    env = _env(tmp_path, **{**PRODUCTION_SECRETS, "CARDSERVICE_PUBLIC_URL": "http://x.org"})
    with pytest.raises(ConfigError, match="https"):
        load_config(env)


def test_production_requires_a_separate_key_store(tmp_path: Path) -> None:
    """The per-resident data keys must live outside the resident database (docs/privacy.md):
    production refuses to start without a key store, or with the resident database as one."""
    env = _env(tmp_path, **PRODUCTION_SECRETS)
    del env["CARDSERVICE_KEYSTORE_DATABASE_URL"]
    with pytest.raises(ConfigError, match="CARDSERVICE_KEYSTORE_DATABASE_URL is not set"):
        load_config(env)
    for same in ("postgres://other-user@db.example/cards", "postgresql+psycopg://db.example/cards"):
        env["CARDSERVICE_KEYSTORE_DATABASE_URL"] = same
        with pytest.raises(ConfigError, match="names the resident database itself"):
            load_config(env)
    env["CARDSERVICE_KEYSTORE_DATABASE_URL"] = "postgres://keys@db.example/cards_keys"
    assert load_config(env)["KEYSTORE_DATABASE_URI"] == (
        "postgresql+psycopg://keys@db.example/cards_keys"
    )


def test_key_store_defaults_to_a_file_of_its_own_in_development(tmp_path: Path) -> None:
    config = load_config(_env(tmp_path))
    folder = (tmp_path / "instance").resolve()
    assert config["KEYSTORE_DATABASE_URI"] == f"sqlite:///{folder / 'keystore.sqlite3'}"
    same_file = f"sqlite:///{folder / 'cardservice.sqlite3'}"
    with pytest.raises(ConfigError, match="names the resident database itself"):
        load_config(_env(tmp_path, CARDSERVICE_KEYSTORE_DATABASE_URL=same_file))


def test_secret_from_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file\n")
    env = _env(tmp_path, **PRODUCTION_SECRETS)
    del env["CARDSERVICE_SECRET_KEY"]
    env["CARDSERVICE_SECRET_KEY_FILE"] = str(secret_file)
    assert load_config(env)["SECRET_KEY"] == "from-a-file"
    env["CARDSERVICE_SECRET_KEY_FILE"] = str(tmp_path / "missing")
    with pytest.raises(ConfigError, match="cannot read secret file"):
        load_config(env)


@pytest.mark.parametrize("value", ["short", base64.b64encode(b"x" * 16).decode(), "!!!!"])
def test_bad_master_key(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="CARDSERVICE_MASTER_KEY"):
        load_config(_env(tmp_path, CARDSERVICE_MASTER_KEY=value))


def test_overrides_and_types(tmp_path: Path) -> None:
    config = load_config(
        _env(
            tmp_path,
            CARDSERVICE_MAX_FAILED_LOGINS="3",
            CARDSERVICE_DATABASE_URL="postgresql://u@h/db",
            CARDSERVICE_PUBLIC_URL="https://cards.example.org/",
        )
    )
    assert config["MAX_FAILED_LOGINS"] == 3
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"
    assert config["PUBLIC_URL"] == "https://cards.example.org"
    assert config["SESSION_COOKIE_SECURE"] is True
    with pytest.raises(ConfigError, match="integer"):
        load_config(_env(tmp_path, CARDSERVICE_MAX_FAILED_LOGINS="many"))
    with pytest.raises(ConfigError, match="CARDSERVICE_ENV"):
        load_config(_env(tmp_path, CARDSERVICE_ENV="staging"))


def test_unknown_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cardservice import create_app

    monkeypatch.setenv("CARDSERVICE_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("CARDSERVICE_POLICY", "no-such-policy")
    with pytest.raises(ConfigError, match="policy"):
        create_app()


def test_policy_file_validation(tmp_path: Path) -> None:
    from cardservice.services.policy import load_policy, parse_policy

    policy = load_policy("default")
    assert policy.minimums == {"identity": 3, "residence": 1}
    assert policy.status_list_size >= 131072
    bad: dict[str, Any] = {"points": {"identity": 3, "residence": 1}, "documents": []}
    with pytest.raises(ConfigError, match="no document"):
        parse_policy(bad, "bad")
    bad = {
        "points": {"identity": 3, "residence": 1},
        "documents": [{"id": "a", "kind": "identity", "points": 3}],
        "publication": {"status_list_size": 1000},
    }
    with pytest.raises(ConfigError, match="status_list_size"):
        parse_policy(bad, "bad")
    broken = tmp_path / "broken.toml"
    broken.write_text("[points\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_policy(str(broken))


def test_migrations_match_models(app: Flask) -> None:
    """The schema changes only through migrations: autogenerate must find nothing to do."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from cardservice.extensions import db

    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_default_policy_names_every_category_in_every_language() -> None:
    from cardservice.services.policy import load_policy

    policy = load_policy("default")
    for document in policy.documents:
        assert set(policy.languages) <= set(document.names), document.id


def test_production_refuses_per_process_rate_limit_counts(tmp_path: Path) -> None:
    """memory:// counts per worker process: with several workers and instances the sign-in
    limit would be multiplied and forgotten at each restart. Production names the setting."""
    env = _env(tmp_path, **PRODUCTION_SECRETS)
    for storage in (None, "memory://", " memory:// "):
        if storage is None:
            del env["CARDSERVICE_RATELIMIT_STORAGE_URI"]
        else:
            env["CARDSERVICE_RATELIMIT_STORAGE_URI"] = storage
        with pytest.raises(ConfigError, match="CARDSERVICE_RATELIMIT_STORAGE_URI is 'memory://'"):
            load_config(env)
    # Development keeps the zero-setup default; production with Redis starts.
    assert load_config(_env(tmp_path))["RATELIMIT_STORAGE_URI"] == "memory://"
    env["CARDSERVICE_RATELIMIT_STORAGE_URI"] = "redis://redis.example:6379/0"
    assert load_config(env)["RATELIMIT_STORAGE_URI"] == "redis://redis.example:6379/0"


def test_trusted_proxy_addresses(tmp_path: Path) -> None:
    assert load_config(_env(tmp_path))["TRUSTED_PROXY_ADDRESSES"] == ("127.0.0.1", "::1")
    config = load_config(
        _env(tmp_path, CARDSERVICE_TRUSTED_PROXY_ADDRESSES=" 10.0.0.0/24, 192.0.2.7 ")
    )
    assert config["TRUSTED_PROXY_ADDRESSES"] == ("10.0.0.0/24", "192.0.2.7")
    for bad in ("*", "nginx", "10.0.0.1/24"):
        with pytest.raises(ConfigError, match="CARDSERVICE_TRUSTED_PROXY_ADDRESSES"):
            load_config(_env(tmp_path, CARDSERVICE_TRUSTED_PROXY_ADDRESSES=bad))
