"""Check values of the shared secrets and the argon2id-sealed keys (issue 12, item 3).

Each test builds its own pair of databases (SQLite files, or two PostgreSQL databases of their
own in the PostgreSQL pass) and runs the real `cardservice` command (FlaskGroup, so create_app
runs exactly as in production) or create_app itself, with the secrets given by the environment.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url

import cardformat
from cardservice import ConfigError, create_app
from cardservice.cli import cli
from tests.integration.service_fixtures import postgres_url

from .conftest import NOW, enrolment

PASSPHRASE = "stapler-Quokka-81-marimba-Vexing"
# How a key sealed by services/keyseal.py begins (spelled out here so that this file also runs,
# and fails, on code from before it).
MAGIC = b"citycard-key\x00\x01"
TABLES = ("city", "signing_key", "status_list", "audit_entry", "key_check")


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


# Every app these tests start, through the command (its FlaskGroup builds one per invocation) or
# through create_app, so that its connections are closed at the end of the test.
_MADE: list[Flask] = []


@pytest.fixture(autouse=True)
def _close_every_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from cardservice.extensions import db

    build = cli.create_app
    assert build is not None

    def tracked() -> Flask:
        app = build()
        _MADE.append(app)
        return app

    monkeypatch.setattr(cli, "create_app", tracked)
    yield
    while _MADE:
        with _MADE.pop().app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[dict[str, str]]:
    """CARDSERVICE_DATABASE_URL and CARDSERVICE_KEYSTORE_DATABASE_URL of two new databases."""
    admin_url = postgres_url()
    if admin_url is None:
        yield {
            "CARDSERVICE_DATABASE_URL": f"sqlite:///{tmp_path / 'residents.sqlite3'}",
            "CARDSERVICE_KEYSTORE_DATABASE_URL": f"sqlite:///{tmp_path / 'keys.sqlite3'}",
        }
        return
    stem = f"keys_check_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    names = (stem, stem + "_ks")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    base = make_url(admin_url)
    yield {
        "CARDSERVICE_DATABASE_URL": base.set(database=names[0]).render_as_string(False),
        "CARDSERVICE_KEYSTORE_DATABASE_URL": base.set(database=names[1]).render_as_string(False),
    }
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def city_env(
    databases: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The environment of a city's instances; the databases migrated, the city set up."""
    for name in list(os.environ):
        if name.startswith("CARDSERVICE_"):
            monkeypatch.delenv(name)
    env = {
        **databases,
        "CARDSERVICE_ENV": "testing",
        "CARDSERVICE_INSTANCE_PATH": str(tmp_path / "instance"),
        "CARDSERVICE_PUBLIC_URL": "http://cards.test",
        "CARDSERVICE_SECRET_KEY": "s" * 48,
        "CARDSERVICE_KEY_PASSPHRASE": PASSPHRASE,
        "CARDSERVICE_MASTER_KEY": _key(),
        "CARDSERVICE_INDEX_KEY": _key(),
    }
    assert run(env, "db", "upgrade").exit_code == 0
    result = run(env, "init-city", "--code", "FR SXB", "--name", "fr=Strasbourg")
    assert result.exit_code == 0, result.output
    return env


def run(env: dict[str, str], *args: str) -> Result:
    """The `cardservice` command, in this process, as an operator runs it."""
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def app_of(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Flask:
    with monkeypatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        app = create_app()
    _MADE.append(app)
    return app


def counts(env: dict[str, str]) -> dict[str, Any]:
    """Row counts and every stored key, read with a connection of the test's own."""
    engine = create_engine(env["CARDSERVICE_DATABASE_URL"])
    with engine.connect() as connection:
        present = set(inspect(connection).get_table_names())
        found: dict[str, Any] = {
            table: connection.scalar(text(f"SELECT count(*) FROM {table}"))
            for table in TABLES
            if table in present
        }
        found["keys"] = sorted(
            bytes(blob)
            for blob in connection.scalars(text("SELECT private_key_pem FROM signing_key"))
        )
        found["root"] = bytes(connection.scalar(text("SELECT root_private_key_pem FROM city")))
    engine.dispose()
    return found


@pytest.mark.parametrize(
    ("setting", "wrong"),
    [
        ("CARDSERVICE_KEY_PASSPHRASE", "mistyped-Quokka-81-marimba-Vexing"),
        ("CARDSERVICE_MASTER_KEY", None),
        ("CARDSERVICE_INDEX_KEY", None),
    ],
)
def test_a_wrong_secret_stops_the_start_with_a_clear_message(
    city_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, setting: str, wrong: str | None
) -> None:
    bad = {**city_env, setting: wrong or _key()}
    with pytest.raises(ConfigError) as refused:
        app_of(bad, monkeypatch)
    message = str(refused.value)
    assert message.startswith(setting) and "Nothing was written" in message
    assert bad[setting] not in message and city_env[setting] not in message

    # Every command, the read-only ones included, stops with the same line and exit code 2.
    result = run(bad, "keys", "list")
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {setting}")
    assert "Traceback" not in result.output and bad[setting] not in result.output
    # The right secrets still start.
    assert run(city_env, "keys", "list").exit_code == 0


def test_keys_rotate_with_a_mistyped_passphrase_writes_nothing(city_env: dict[str, str]) -> None:
    before = counts(city_env)
    wrong = {**city_env, "CARDSERVICE_KEY_PASSPHRASE": PASSPHRASE.replace("Q", "q")}
    result = run(wrong, "keys", "rotate")
    assert result.exit_code == 2
    assert "CARDSERVICE_KEY_PASSPHRASE" in result.output
    assert counts(city_env) == before
    # With the right passphrase the rotation goes through.
    assert run(city_env, "keys", "rotate").exit_code == 0
    assert counts(city_env)["signing_key"] == before["signing_key"] + 1


def test_every_key_service_checks_the_passphrase_before_writing(
    city_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind the start check, the services themselves refuse a wrong passphrase: an instance
    whose configuration changed under it, or a caller that built its own Deps."""
    from cardservice.extensions import db
    from cardservice.services import Actor, deps
    from cardservice.services.errors import SigningKeyError
    from cardservice.services.keys import (
        init_city,
        revoke_signing_key,
        rotate_root_key,
        rotate_signing_key,
    )
    from cardservice.services.keyseal import KeySealer
    from cardservice.services.reencryption import reencrypt_keys

    app = app_of(city_env, monkeypatch)
    before = counts(city_env)
    wrong = b"mistyped-Quokka-81-marimba-Vexing"
    actor = Actor.system("tests")
    with app.app_context():
        bad = replace(deps(app), key_passphrase=wrong, key_sealer=KeySealer(wrong))
        kid = db.session.scalar(text("SELECT kid FROM signing_key"))
        session = db.session
        calls = [
            lambda: rotate_signing_key(session, bad, now=NOW, actor=actor),
            lambda: rotate_root_key(session, bad, now=NOW, actor=actor),
            lambda: revoke_signing_key(session, bad, kid=kid, now=NOW, actor=actor),
            lambda: reencrypt_keys(session, bad, now=NOW, actor=actor),
            lambda: init_city(session, bad, code="FR PAR", names={"fr": "P"}, now=NOW, actor=actor),
        ]
        for call in calls:
            with pytest.raises(SigningKeyError):
                call()
            session.rollback()
        session.remove()
    assert counts(city_env) == before


def _make_keys_legacy(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """Turn the city into one from before this change: keys in PKCS#8 (PBKDF2), no check values.
    Returns the public keys by kid ("root" for the root key)."""
    from cardservice.extensions import db
    from cardservice.models import City, KeyCheck, SigningKey
    from cardservice.services import deps

    app = app_of(env, monkeypatch)
    passphrase = env["CARDSERVICE_KEY_PASSPHRASE"].encode()
    with app.app_context():
        sealer = deps(app).key_sealer
        city = db.session.scalars(select(City)).one()
        publics = {"root": city.root_public_key}
        city.root_private_key_pem = cardformat.dump_private_key(
            sealer.open(city.root_private_key_pem), passphrase
        )
        for key in db.session.scalars(select(SigningKey)):
            publics[key.kid] = key.public_key
            key.private_key_pem = cardformat.dump_private_key(
                sealer.open(key.private_key_pem), passphrase
            )
        db.session.execute(KeyCheck.__table__.delete())
        db.session.commit()
        db.session.remove()
    return publics


def test_old_pkcs8_keys_are_reencrypted_by_a_command(
    city_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(city_env, "keys", "rotate").exit_code == 0  # a retired key too
    publics = _make_keys_legacy(city_env, monkeypatch)
    legacy = counts(city_env)
    assert legacy["key_check"] == 0
    assert legacy["root"].startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")

    # An old database with a wrong passphrase: the root key is the proof, the start is refused.
    wrong = {**city_env, "CARDSERVICE_KEY_PASSPHRASE": "mistyped-Quokka-81-marimba-Vexing"}
    assert run(wrong, "keys", "reencrypt").exit_code == 2
    assert counts(city_env) == legacy

    result = run(city_env, "keys", "reencrypt")
    assert result.exit_code == 0, result.output
    assert "3 key(s) re-encrypted" in result.output
    after = counts(city_env)
    assert after["root"].startswith(MAGIC) and all(k.startswith(MAGIC) for k in after["keys"])
    assert after["audit_entry"] == legacy["audit_entry"] + 1
    assert after["signing_key"] == legacy["signing_key"]
    # Safe to re-run: nothing left to do, nothing written.
    again = run(city_env, "keys", "reencrypt")
    assert "0 key(s) re-encrypted" in again.output
    assert counts(city_env) == after

    # The same keys (same public halves), opened in their new form by a fresh instance.
    from cardservice.extensions import db
    from cardservice.models import SigningKey
    from cardservice.services import deps
    from cardservice.services.keys import root_key

    app = app_of(city_env, monkeypatch)
    with app.app_context():
        sealer = deps(app).key_sealer
        assert cardformat.public_key_bytes(root_key(db.session, deps(app))) == publics["root"]
        for key in db.session.scalars(select(SigningKey)):
            assert cardformat.public_key_bytes(sealer.open(key.private_key_pem)) == publics[key.kid]
        action = db.session.scalar(text("SELECT action FROM audit_entry ORDER BY id DESC LIMIT 1"))
        assert action == "key.reencrypt"
        db.session.remove()


def test_an_old_database_proves_the_master_and_index_keys_with_a_record(
    city_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database from before check values, with residents: the first start records the values
    only after an existing record opened with its master key and matched its blind index."""
    from cardservice.extensions import db
    from cardservice.services import Actor, deps
    from cardservice.services.residents import enrol_resident

    first = app_of(city_env, monkeypatch)
    with first.app_context():
        enrol_resident(db.session, deps(first), enrolment(), now=NOW, actor=Actor.system("t"))
        db.session.execute(text("DELETE FROM key_check"))
        db.session.commit()
        db.session.remove()
    # The passphrase, proven by the root key, is recorded first; a wrong key after it is not.
    for setting, recorded in (
        ("CARDSERVICE_MASTER_KEY", {"passphrase"}),
        ("CARDSERVICE_INDEX_KEY", {"passphrase", "master_key"}),
    ):
        with pytest.raises(ConfigError, match=f"^{setting}"):
            app_of({**city_env, setting: _key()}, monkeypatch)
        assert _recorded_secrets(city_env) == recorded
    app_of(city_env, monkeypatch)
    assert _recorded_secrets(city_env) == {"passphrase", "master_key", "index_key"}


def _recorded_secrets(env: dict[str, str]) -> set[str]:
    engine = create_engine(env["CARDSERVICE_DATABASE_URL"])
    with engine.connect() as connection:
        found = set(connection.scalars(text("SELECT secret FROM key_check")))
    engine.dispose()
    return found


@pytest.mark.parametrize(
    "weak",
    [
        "short-Quokka-81",  # 15 characters
        "Tr0ub4dor&3Tr0ub4dor&3",  # long enough, but a leet word repeated
        "passwordpassword1234",
    ],
)
def test_production_refuses_a_weak_passphrase(
    databases: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, weak: str
) -> None:
    env = {
        **databases,
        "CARDSERVICE_ENV": "production",
        "CARDSERVICE_INSTANCE_PATH": str(tmp_path / "instance"),
        "CARDSERVICE_PUBLIC_URL": "https://cards.example.org",
        "CARDSERVICE_SECRET_KEY": "s" * 48,
        "CARDSERVICE_KEY_PASSPHRASE": weak,
        "CARDSERVICE_MASTER_KEY": _key(),
        "CARDSERVICE_INDEX_KEY": _key(),
        # Production also wants shared rate-limit counts; the storage is not reached at start.
        "CARDSERVICE_RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
    }
    for name in list(os.environ):
        if name.startswith("CARDSERVICE_"):
            monkeypatch.delenv(name)
    with pytest.raises(ConfigError, match=r"^CARDSERVICE_KEY_PASSPHRASE is too weak") as refused:
        app_of(env, monkeypatch)
    assert weak not in str(refused.value)
    result = run(env, "keys", "list")
    assert result.exit_code == 2 and "CARDSERVICE_KEY_PASSPHRASE is too weak" in result.output
    # A strong one passes the rule (the app then starts on the empty database).
    app_of({**env, "CARDSERVICE_KEY_PASSPHRASE": PASSPHRASE}, monkeypatch)


def test_a_second_instance_reads_what_the_first_wrote(
    city_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardservice.extensions import db
    from cardservice.services import Actor, deps
    from cardservice.services.cards import issue_card, print_card
    from cardservice.services.keys import rotate_signing_key
    from cardservice.services.residents import enrol_resident, get_resident

    actor = Actor.system("tests")
    first = app_of(city_env, monkeypatch)
    with first.app_context():
        rotate_signing_key(db.session, deps(first), now=NOW, actor=actor)
        resident_id = enrol_resident(
            db.session, deps(first), enrolment(), now=NOW, actor=actor
        ).resident_id
        number = issue_card(db.session, deps(first), resident_id, now=NOW, actor=actor).number
        sealed = db.session.scalar(text("SELECT private_key_pem FROM signing_key LIMIT 1"))
        db.session.remove()
    assert bytes(sealed).startswith(MAGIC)

    second = app_of(city_env, monkeypatch)
    with second.app_context():
        view = get_resident(db.session, deps(second), resident_id)
        assert view.display_name == "Amira Haddad"
        printed = print_card(db.session, deps(second), number, now=NOW, actor=actor)
        assert printed.number == number
        # The first instance's KDF salt is the city's: the second derived the same key once.
        assert deps(second).key_sealer.current == deps(first).key_sealer.current
        db.session.remove()


def test_a_fleet_starting_at_once_records_one_value_per_secret(
    databases: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four instances start together on a migrated, empty database: each secret gets exactly
    one check value, and every instance accepts it."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CARDSERVICE_")},
        **databases,
        "CARDSERVICE_ENV": "testing",
        "CARDSERVICE_INSTANCE_PATH": str(tmp_path / "instance"),
        "CARDSERVICE_KEY_PASSPHRASE": PASSPHRASE,
        "CARDSERVICE_MASTER_KEY": _key(),
        "CARDSERVICE_INDEX_KEY": _key(),
    }
    assert run(env, "db", "upgrade").exit_code == 0
    command = [sys.executable, "-m", "cardservice.cli", "keys", "list"]
    starts = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    outcomes = [(p.communicate(timeout=120)[1].decode(), p.returncode) for p in starts]
    for stderr, code in outcomes:
        # No city yet: `keys list` says so (exit 1) once the start check has passed.
        assert code == 1 and "init-city" in stderr, stderr
    engine = create_engine(env["CARDSERVICE_DATABASE_URL"])
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT secret, count(*) FROM key_check GROUP BY secret"))
        assert dict(rows.all()) == {"passphrase": 1, "master_key": 1, "index_key": 1}
    engine.dispose()
    # And a fifth start with another index key is refused against the recorded value.
    result = run({**env, "CARDSERVICE_INDEX_KEY": _key()}, "keys", "list")
    assert result.exit_code == 2 and "CARDSERVICE_INDEX_KEY" in result.output


def test_master_key_rotation_moves_the_check_value(
    city_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    old = city_env["CARDSERVICE_MASTER_KEY"]
    new = _key()
    rotated = {**city_env, "CARDSERVICE_MASTER_KEY": new, "CARDSERVICE_PREVIOUS_MASTER_KEYS": old}
    # The first start with the new key (the old one as previous) proves the old key and moves
    # the check value to the new one.
    assert run(rotated, "keys", "rewrap").exit_code == 0
    # From then on only the new key is current: the old configuration, and a mistyped new key
    # even with the old key as previous, are refused.
    for refused in (
        city_env,
        {**rotated, "CARDSERVICE_MASTER_KEY": _key()},
    ):
        result = run(refused, "keys", "list")
        assert result.exit_code == 2 and "CARDSERVICE_MASTER_KEY" in result.output
    # The old key may now leave the configuration.
    assert run({**city_env, "CARDSERVICE_MASTER_KEY": new}, "keys", "list").exit_code == 0
    assert counts(city_env)["key_check"] == 3


def test_gunicorn_master_stops_with_one_line_on_a_wrong_index_key(
    city_env: dict[str, str],
) -> None:
    """Production serving preloads the app in gunicorn's master: a wrong secret stops the
    master before any worker forks, with the setting named and no traceback."""
    root = Path(__file__).resolve().parents[3]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CARDSERVICE_")},
        **city_env,
        "CARDSERVICE_INDEX_KEY": _key(),
        "CARDSERVICE_BIND": "127.0.0.1:24011",  # never bound: the master stops first
        "CARDSERVICE_WORKERS": "1",
    }
    gunicorn = Path(sys.executable).parent / "gunicorn"
    done = subprocess.run(
        [str(gunicorn), "--config", "config/gunicorn.conf.py", "cardservice:create_app()"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,  # a master that serves instead of stopping: the test fails here
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "Error: CARDSERVICE_INDEX_KEY is not this city's index key" in output
    assert "Traceback" not in output and env["CARDSERVICE_INDEX_KEY"] not in output
    assert "Booting worker" not in output
