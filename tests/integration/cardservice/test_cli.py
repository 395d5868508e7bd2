"""The `cardservice` commands, through Flask's CLI runner and as a real process."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pypdfium2
import pytest
from sqlalchemy import func, select

import cardformat
from cardservice.models import ApiToken, AuditEntry, Card, Resident, StaffUser

from .conftest import auth
from .test_api import enrol

VENV_BIN = Path(sys.executable).parent


def test_init_city_and_fingerprint(runner, session) -> None:
    result = runner.invoke(args=["init-city", "--code", "fr sxb", "--name", "Strasbourg"])
    assert result.exit_code == 0, result.output
    assert "City FR SXB created." in result.output
    fingerprint = runner.invoke(args=["keys", "fingerprint"]).output.strip()
    assert cardformat.normalize_fingerprint(fingerprint) == fingerprint
    assert fingerprint in result.output

    again = runner.invoke(args=["init-city", "--code", "DE BER", "--name", "Berlin"])
    assert again.exit_code == 1
    assert "never overwritten" in again.output
    assert "Traceback" not in again.output


def test_init_city_names_per_language(runner, session) -> None:
    result = runner.invoke(
        args=["init-city", "--code", "CH ZRH", "--name", "de=Zürich", "--name", "fr=Zurich"]
    )
    assert result.exit_code == 0, result.output
    from cardservice.services.keys import get_city

    assert get_city(session).names == {"de": "Zürich", "fr": "Zurich"}


def test_bad_city_code(runner) -> None:
    result = runner.invoke(args=["init-city", "--code", "Strasbourg", "--name", "S"])
    assert result.exit_code == 1
    assert "UN/LOCODE" in result.output


def test_commands_before_setup_fail_cleanly(runner) -> None:
    for args in (["keys", "fingerprint"], ["keys", "list"], ["keys", "rotate"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1, (args, result.output)
        assert "init-city" in result.output
        assert "Traceback" not in result.output


def test_users_create(runner, session) -> None:
    result = runner.invoke(
        args=["users", "create", "nadia", "--role", "supervisor", "--password-stdin"],
        input="correct horse battery staple\n",
    )
    assert result.exit_code == 0, result.output
    user = session.scalars(select(StaffUser).where(StaffUser.username == "nadia")).one()
    assert user.role == "supervisor"
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse" not in user.password_hash

    short = runner.invoke(
        args=["users", "create", "bob", "--role", "clerk", "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 1 and "at least 12" in short.output
    taken = runner.invoke(
        args=["users", "create", "nadia", "--role", "clerk", "--password-stdin"],
        input="another long password\n",
    )
    assert taken.exit_code == 1 and "taken" in taken.output
    bad_role = runner.invoke(
        args=["users", "create", "carl", "--role", "mayor", "--password-stdin"], input="x" * 20
    )
    assert bad_role.exit_code == 2
    listing = runner.invoke(args=["users", "list"])
    assert "nadia\tsupervisor\tactive" in listing.output


def test_login_lockout(session) -> None:
    from cardservice.services import Actor
    from cardservice.services.authentication import authenticate
    from cardservice.services.errors import AccountLockedError, AuthenticationError
    from cardservice.services.staff import create_user

    now = datetime(2026, 1, 1, tzinfo=UTC)
    create_user(
        session,
        username="ana",
        password="a long enough password",
        role="clerk",
        now=now,
        actor=Actor.system("tests"),
    )
    for _ in range(4):
        with pytest.raises(AuthenticationError) as info:
            authenticate(session, username="ana", password="wrong", now=now)
        assert info.value.code == "authentication_failed"
    with pytest.raises(AccountLockedError):
        authenticate(session, username="ana", password="wrong", now=now)
    # Even the right password is refused while locked, then accepted after the lockout.
    with pytest.raises(AccountLockedError):
        authenticate(session, username="ana", password="a long enough password", now=now)
    later = now + timedelta(minutes=16)
    assert authenticate(session, username="ana", password="a long enough password", now=later)
    with pytest.raises(AuthenticationError):
        authenticate(session, username="nobody", password="whatever", now=now)


def test_tokens_create_prints_once_and_stores_hash(runner, client, session, city) -> None:
    result = runner.invoke(args=["tokens", "create", "frontdesk", "--role", "clerk"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert token.startswith("cst_") and len(token) > 40
    record = session.scalars(select(ApiToken)).one()
    assert token not in record.token_hash and len(record.token_hash) == 64
    assert client.get("/api/v1/policy", headers=auth(token)).status_code == 200
    revoke = runner.invoke(args=["tokens", "revoke", "frontdesk"])
    assert revoke.exit_code == 0
    assert client.get("/api/v1/policy", headers=auth(token)).status_code == 401


def test_keys_list_rotate_revoke(runner, session, city) -> None:
    listing = runner.invoke(args=["keys", "list"])
    first_kid = re.search(r"^([0-9a-f]{16})\s+active", listing.output, re.M).group(1)
    assert runner.invoke(args=["keys", "rotate"]).exit_code == 0
    listing = runner.invoke(args=["keys", "list"]).output
    assert re.search(rf"^{first_kid}\s+retired", listing, re.M)
    new_kid = re.search(r"^([0-9a-f]{16})\s+active", listing, re.M).group(1)

    refused = runner.invoke(args=["keys", "revoke", new_kid], input="n\n")
    assert refused.exit_code == 1  # click.Abort
    revoked = runner.invoke(args=["keys", "revoke", new_kid, "--yes"])
    assert revoked.exit_code == 0, revoked.output
    assert re.search(rf"^{new_kid}\s+revoked", runner.invoke(args=["keys", "list"]).output, re.M)
    unknown = runner.invoke(args=["keys", "revoke", "0123456789abcdef", "--yes"])
    assert unknown.exit_code == 1 and "No signing key" in unknown.output


def test_print_batch(runner, client, session, city, tokens, tmp_path: Path) -> None:
    numbers = []
    for name in ("Ana Souza", "Ελένη Παππά", "أمينة بنعلي"):
        rid = enrol(client, tokens["clerk"], display_name=name)
        issued = client.post(f"/api/v1/residents/{rid}/cards", headers=auth(tokens["clerk"]))
        numbers.append(issued.get_json()["number"])
    out = tmp_path / "batch.pdf"
    today = datetime.now(UTC).date().isoformat()
    result = runner.invoke(args=["cards", "print-batch", "--since", today, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 card(s) written" in result.output
    pdf = pypdfium2.PdfDocument(str(out))
    assert len(pdf) >= 1
    pdf.close()
    printed = session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "card.print")
    )
    assert printed == 3

    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    nothing = runner.invoke(args=["cards", "print-batch", "--since", tomorrow, "--out", str(out)])
    assert nothing.exit_code == 0 and "No card to print" in nothing.output
    bad = runner.invoke(args=["cards", "print-batch", "--since", "yesterday", "--out", str(out)])
    assert bad.exit_code == 2


def test_print_batch_reads_the_data_keys_once_per_chunk(
    client, session, deps, city, tokens
) -> None:
    from sqlalchemy import event

    from cardservice.extensions import db
    from cardservice.models import KEYSTORE_BIND
    from cardservice.services import Actor
    from cardservice.services.cards import print_batch

    numbers = []
    for name in ("Ana Souza", "Bruno Lima", "Carla Dias"):
        rid = enrol(client, tokens["clerk"], display_name=name)
        issued = client.post(f"/api/v1/residents/{rid}/cards", headers=auth(tokens["clerk"]))
        numbers.append(issued.get_json()["number"])
    key_reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "resident_key" in statement:
            key_reads.append(statement)

    keystore = db.engines[KEYSTORE_BIND]
    event.listen(keystore, "before_cursor_execute", count)
    try:
        printed = list(
            print_batch(
                session,
                deps,
                numbers,
                now=datetime.now(UTC),
                actor=Actor.system("tests"),
                commit_every=2,
            )
        )
    finally:
        event.remove(keystore, "before_cursor_execute", count)
    assert sorted(card.number for card in printed) == sorted(numbers)
    assert len(key_reads) == 2  # two chunks, one key-store statement each


def test_purge_dry_run(runner, session, deps, city) -> None:
    from cardservice.services import Actor
    from cardservice.services.residents import enrol_resident

    from .conftest import enrolment

    long_ago = datetime.now(UTC) - timedelta(days=800)
    enrol_resident(session, deps, enrolment(), now=long_ago, actor=Actor.system("tests"))
    result = runner.invoke(args=["purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "1 resident record(s) past retention" in result.output
    assert "Amira" not in result.output
    assert runner.invoke(args=["purge", "--yes"]).exit_code == 0
    assert "0 resident record(s)" in runner.invoke(args=["purge", "--dry-run"]).output


def test_audit_verify(runner, session, city) -> None:
    assert runner.invoke(args=["audit", "verify"]).output.strip() == "Audit log intact."
    entry = session.scalars(select(AuditEntry)).first()
    entry.action = "nothing.happened"
    session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "tampered" in result.output


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDSERVICE_")}
    env.update(
        CARDSERVICE_INSTANCE_PATH=str(tmp_path / "instance"),
        CARDSERVICE_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    env.update(extra)
    return env


def _cardservice(*args: str, env: dict[str, str], stdin: str | None = None) -> Any:
    return subprocess.run(
        [str(VENV_BIN / "cardservice"), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_entry_point_end_to_end(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert _cardservice("db", "upgrade", env=env).returncode == 0
    created = _cardservice("init-city", "--code", "PT LIS", "--name", "Lisboa", env=env)
    assert created.returncode == 0, created.stderr
    assert "Root key fingerprint" in created.stdout
    again = _cardservice("init-city", "--code", "PT LIS", "--name", "Lisboa", env=env)
    assert again.returncode == 1
    assert again.stderr.startswith("Error: ") and "Traceback" not in again.stderr
    # Development secrets were generated into the instance folder, readable by the owner only.
    secrets_dir = tmp_path / "instance" / "secrets"
    for name in ("secret_key", "key_passphrase", "master_key", "index_key"):
        assert (secrets_dir / name).stat().st_mode & 0o777 == 0o600


def test_production_without_secrets_refuses_to_start(tmp_path: Path) -> None:
    env = _env(
        tmp_path, CARDSERVICE_ENV="production", CARDSERVICE_PUBLIC_URL="https://cards.example"
    )
    result = _cardservice("db", "upgrade", env=env)
    assert result.returncode == 2
    assert "CARDSERVICE_SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "instance" / "secrets").exists()


def test_emergency_purge_keeps_cards_verifiable(runner, client, session, city, tokens) -> None:
    rids = [enrol(client, tokens["clerk"], display_name=f"Person {i}") for i in range(3)]
    numbers = [
        client.post(f"/api/v1/residents/{rid}/cards", headers=auth(tokens["clerk"])).get_json()[
            "number"
        ]
        for rid in rids
    ]
    dry = runner.invoke(args=["purge", "--all-residents", "--dry-run"])
    assert dry.exit_code == 0 and "3 resident record(s) would be erased" in dry.output
    missing = runner.invoke(args=["purge", "--all-residents"])
    assert missing.exit_code == 2 and '--confirm "FR SXB"' in missing.output
    wrong = runner.invoke(args=["purge", "--all-residents", "--confirm", "DE BER"])
    assert wrong.exit_code == 1 and "city code" in wrong.output
    assert session.scalar(select(func.count()).select_from(Resident)) == 3

    result = runner.invoke(args=["purge", "--all-residents", "--confirm", "fr sxb"])
    assert result.exit_code == 0, result.output
    assert "3 resident record(s) erased" in result.output
    assert session.scalar(select(func.count()).select_from(Resident)) == 0
    for number in numbers:
        card = session.scalars(select(Card).where(Card.number == number)).one()
        # Not revoked: the cards in residents' pockets stay valid until they expire.
        assert card.status == "valid" and card.resident_id is None
    actions = session.scalars(select(AuditEntry.action)).all()
    assert "resident.purge_all" in actions
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_audit_export(runner, client, session, city, tokens, tmp_path: Path) -> None:
    import json

    enrol(client, tokens["clerk"])
    out = tmp_path / "audit.jsonl"
    result = runner.invoke(args=["audit", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["action"] for line in lines][-1] == "resident.enrol"
    assert lines[0]["prev_hash"] == "0" * 64
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(lines))
    assert "Oksana" not in out.read_text()


def test_statistics(client, session, city, tokens) -> None:
    from cardservice.services.stats import statistics

    rid = enrol(client, tokens["clerk"])
    number = client.post(
        f"/api/v1/residents/{rid}/cards", headers=auth(tokens["clerk"])
    ).get_json()["number"]
    enrol(client, tokens["clerk"], display_name="Second Person")
    client.post(
        f"/api/v1/cards/{number}/revoke",
        json={"reason": "lost"},
        headers=auth(tokens["supervisor"]),
    )
    stats = statistics(session, now=datetime.now(UTC))
    assert stats.residents == 2
    assert stats.cards_by_status == {"valid": 0, "suspended": 0, "revoked": 1}
    assert stats.enrolments_last_30_days == 2
    assert stats.cards_issued_last_30_days == 1
