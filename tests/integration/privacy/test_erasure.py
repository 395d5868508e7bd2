"""Issue 6 item 3: erasing a resident destroys their data, at rest and for anyone holding the
master key, backups of the resident database included (docs/privacy.md, rule 2).

The wrapped data keys live in the data-key store, a database of their own; the resident database
holds only ciphertext. Scans the raw SQLite files, or pg_dumps of the PostgreSQL schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, insert, select, text

from cardservice.extensions import db
from cardservice.models import KEYSTORE_BIND, AuditEntry, Card, Resident, ResidentKey
from cardservice.services.crypto import CryptoError
from cardservice.services.errors import NotFoundError

from .helpers import (
    ADDRESS,
    BIRTH,
    NAME,
    auth,
    backup_resident_database,
    ciphertext_in_backup,
    dumped_bytea,
    encodings,
    enrol,
    is_postgres,
    issue,
    stored_bytes,
)

NEEDLES = (NAME, "Wąsowska", "Ødegård", BIRTH, ADDRESS, "Kléber")


def _row(session: Any, resident_id: str) -> tuple[str, bytes, bytes]:
    """(master key id, wrapped data key) from the key store, ciphertext from the resident
    database."""
    key = session.get(ResidentKey, resident_id)
    resident = session.get(Resident, resident_id)
    found = (key.master_key_id, bytes(key.wrapped_data_key), bytes(resident.ciphertext))
    session.remove()
    return found


def _present(raw: bytes, value: bytes, app: Flask) -> bool:
    return value in raw or (is_postgres(app) and dumped_bytea(value) in raw)


def _assert_no_clear_text(raw: bytes) -> None:
    for needle in NEEDLES:
        for encoded in encodings(needle):
            assert encoded not in raw, (needle, encoded)


def _opens_with_any_live_key(session: Any, deps: Any, resident_id: str, ciphertext: bytes) -> bool:
    """Whether any data key the live key store holds, unwrapped with the real master key, opens
    this ciphertext (what an attacker with a backup, the key store and the master key tries)."""
    for key in session.scalars(select(ResidentKey)).all():
        for claimed_id in (resident_id, key.resident_id):
            try:
                deps.cipher.open(
                    claimed_id,
                    master_key_id=key.master_key_id,
                    wrapped_data_key=key.wrapped_data_key,
                    ciphertext=ciphertext,
                )
            except CryptoError:
                continue
            return True
    return False


def test_erasure_is_destruction(app, client, session, deps, city, tokens) -> None:
    rid = enrol(client, tokens["clerk"])
    other = enrol(client, tokens["clerk"], display_name="Kept Resident", birth_date="1970-01-01")
    number = issue(client, tokens["clerk"], rid)["number"]
    master_key_id, wrapped, ciphertext = _row(session, rid)

    # Before erasure: the resident database holds the card number in clear and the ciphertext,
    # never the key; the key store holds the wrapped key; neither holds a name, birth date or
    # address in any encoding.
    raw, keys_raw = stored_bytes(app), stored_bytes(app, keystore=True)
    assert number.encode() in raw
    assert _present(raw, ciphertext[:64], app) and not _present(raw, wrapped, app)
    assert _present(keys_raw, wrapped, app) and not _present(keys_raw, ciphertext[:64], app)
    _assert_no_clear_text(raw)
    _assert_no_clear_text(keys_raw)
    # ... yet the record is whole: the real provider opens it.
    opened = deps.cipher.open(
        rid, master_key_id=master_key_id, wrapped_data_key=wrapped, ciphertext=ciphertext
    )
    assert opened.display_name == NAME and opened.address == ADDRESS

    response = client.delete(f"/api/v1/residents/{rid}", headers=auth(tokens["supervisor"]))
    assert response.status_code == 200, response.get_data(as_text=True)
    session.remove()

    # After: neither the name nor the key that could open it is anywhere at rest.
    raw, keys_raw = stored_bytes(app), stored_bytes(app, keystore=True)
    _assert_no_clear_text(raw)
    _assert_no_clear_text(keys_raw)
    assert not _present(keys_raw, wrapped, app)
    assert not _present(raw, ciphertext[16:80], app)
    assert number.encode() in raw  # the card row stays, revoked, with no link to a person
    assert session.get(Resident, rid) is None and session.get(ResidentKey, rid) is None
    if not is_postgres(app):
        # The SQLite key store runs in WAL mode, and the erasure emptied the log in which the
        # deleted key's old page would otherwise linger.
        keystore = Path(str(app.config["KEYSTORE_DATABASE_URI"]).removeprefix("sqlite:///"))
        journal_mode = session.execute(
            text("PRAGMA journal_mode"), bind_arguments={"bind": db.engines[KEYSTORE_BIND]}
        ).scalar()
        assert journal_mode == "wal"
        wal = Path(f"{keystore}-wal")
        assert not wal.exists() or wal.stat().st_size == 0

    # Not recoverable with the master key: the only keys left belong to other residents, and
    # none of them opens this record (the resident id is bound as associated data).
    assert [k.resident_id for k in session.scalars(select(ResidentKey))] == [other]
    assert not _opens_with_any_live_key(session, deps, rid, ciphertext)
    # The resident who was not erased is untouched.
    kept = client.get(f"/api/v1/residents/{other}", headers=auth(tokens["clerk"]))
    assert kept.get_json()["display_name"] == "Kept Resident"


def test_a_backup_taken_before_erasure_forgets_at_once(
    app, client, session, deps, city, tokens, tmp_path: Path
) -> None:
    """The real property of rule 2: a backup of the resident database (raw SQLite file copy or
    pg_dump) taken BEFORE an erasure cannot be opened once the erasure has committed, even with
    the live key store and the master key in hand. No master-key rotation needed."""
    rid = enrol(client, tokens["clerk"])
    kept = enrol(client, tokens["clerk"], display_name="Kept Resident", birth_date="1970-01-01")
    _, wrapped, live_ciphertext = _row(session, rid)
    backup = backup_resident_database(app, tmp_path)

    # The backup is a real one: it holds the record, and before the erasure the live key store
    # and the master key open it. (Without this the test below could not fail.)
    held = ciphertext_in_backup(backup, rid)
    assert held == live_ciphertext
    assert _opens_with_any_live_key(session, deps, rid, held)
    # ... and nothing in it is a key or clear text.
    backup_bytes = backup.read_bytes()
    assert not _present(backup_bytes, wrapped, app)
    _assert_no_clear_text(backup_bytes)

    response = client.delete(f"/api/v1/residents/{rid}", headers=auth(tokens["supervisor"]))
    assert response.status_code == 200, response.get_data(as_text=True)
    session.remove()

    # The erasure committed: the backup still holds the same ciphertext, and nothing opens it.
    assert ciphertext_in_backup(backup, rid) == held
    assert session.get(ResidentKey, rid) is None
    assert not _opens_with_any_live_key(session, deps, rid, held)
    assert _opens_with_any_live_key(session, deps, kept, ciphertext_in_backup(backup, kept))

    # Restoring that backup does not bring the person back: the row returns keyless, reads as
    # not found, and the sweep removes it.
    session.execute(
        insert(Resident).values(
            id=rid,
            created_at=datetime.now(UTC),
            updated_at=datetime.now(UTC),
            ciphertext=held,
            blind_index="0" * 64,
        )
    )
    session.commit()
    page = client.get(f"/api/v1/residents/{rid}", headers=auth(tokens["clerk"]))
    assert page.status_code == 404
    assert NAME not in page.get_data(as_text=True)
    from cardservice.services import Actor
    from cardservice.services.residents import sweep_orphans

    result = sweep_orphans(session, deps, now=datetime.now(UTC), actor=Actor.system("tests"))
    assert (result.records, result.keys) == (1, 0)
    assert session.get(Resident, rid) is None
    assert session.get(Resident, kept) is not None


def test_a_crash_between_the_two_commits_leaves_nothing_readable(
    app, client, runner, session, deps, city, tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Erasure destroys the key (key-store commit) before it deletes the record (resident-
    database commit). A failure in between leaves a keyless record: unreadable, shown as not
    found, and removed by `cardservice keys sweep`, which records one audit entry."""
    from cardservice.services import Actor, audit
    from cardservice.services.erasure import erase_resident

    rid = enrol(client, tokens["clerk"])
    kept = enrol(client, tokens["clerk"], display_name="Kept Resident", birth_date="1970-01-01")
    number = issue(client, tokens["clerk"], rid)["number"]
    _, wrapped, ciphertext = _row(session, rid)

    def failing_record(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("resident database went away")

    monkeypatch.setattr(audit, "record", failing_record)
    with pytest.raises(RuntimeError, match="went away"):
        erase_resident(session, deps, rid, now=datetime.now(UTC), actor=Actor.system("tests"))
    monkeypatch.undo()
    session.rollback()
    session.remove()

    # The key is gone, the record stayed (its transaction rolled back), and nothing opens it.
    assert session.get(ResidentKey, rid) is None
    assert bytes(session.get(Resident, rid).ciphertext) == ciphertext
    assert not _opens_with_any_live_key(session, deps, rid, ciphertext)
    assert not _present(stored_bytes(app, keystore=True), wrapped, app)
    with pytest.raises(NotFoundError):
        from cardservice.services.residents import get_resident

        get_resident(session, deps, rid)
    page = client.get(f"/api/v1/residents/{rid}", headers=auth(tokens["clerk"]))
    assert page.status_code == 404 and NAME not in page.get_data(as_text=True)
    session.remove()

    entries = session.scalar(select(func.count()).select_from(AuditEntry))
    result = runner.invoke(args=["keys", "sweep"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "Sweep: 1 unreadable record(s) without a data key and 0 data key(s) without a record "
        "removed."
    )
    session.remove()
    assert session.get(Resident, rid) is None
    card = session.scalar(select(Card).where(Card.number == number))
    assert card.resident_id is None
    last = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (last.action, last.detail, last.actor) == (
        "keystore.sweep",
        "records:1,keys:0",
        "system:keys-sweep",
    )
    assert last.subject is None  # one entry, no per-person trail
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == entries + 1
    assert runner.invoke(args=["audit", "verify"]).output.strip() == "Audit log intact."
    # Idempotent: nothing left, no new audit entry; the other resident is untouched.
    assert "Sweep: 0 unreadable record(s)" in runner.invoke(args=["keys", "sweep"]).output
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == entries + 1
    # Two sweeps at once: one that listed the record before the other deleted it removes
    # nothing, so it records nothing (the counts are of rows deleted, not rows listed).
    from cardservice.services import residents
    from cardservice.services.residents import retention

    monkeypatch.setattr(retention, "_keyless_resident_ids", lambda _session: [rid])
    late = residents.sweep_orphans(session, deps, now=datetime.now(UTC), actor=Actor.system("t"))
    monkeypatch.undo()
    assert (late.records, late.keys) == (0, 0)
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == entries + 1
    kept_page = client.get(f"/api/v1/residents/{kept}", headers=auth(tokens["clerk"]))
    assert kept_page.get_json()["display_name"] == "Kept Resident"


def test_an_interrupted_enrolment_leaves_at_most_an_orphan_key_which_is_swept(
    app, client, session, deps, city, tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Enrolment commits the key, then the record. A failure in between leaves a key with no
    record; enrolment deletes it at once when it can, the sweep otherwise (once older than the
    grace period, so a key whose record is being written right now is never taken)."""
    from cardservice.services import Actor, audit, residents
    from cardservice.services.residents import records

    actor = Actor.system("tests")

    def failing_record(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("resident database went away")

    body = {
        "display_name": NAME,
        "birth_date": BIRTH,
        "address": ADDRESS,
        "documents": ["passport", "utility_bill"],
    }
    data = residents.EnrolmentInput(**body, photo=None)
    monkeypatch.setattr(audit, "record", failing_record)
    with pytest.raises(RuntimeError, match="went away"):
        residents.enrol_resident(session, deps, data, now=datetime.now(UTC), actor=actor)
    # The best-effort clean-up removed the key at once: nothing is left on either side.
    assert session.scalar(select(func.count()).select_from(ResidentKey)) == 0
    assert session.scalar(select(func.count()).select_from(Resident)) == 0

    # When the clean-up cannot run either (the process died), the key stays, opening nothing.
    monkeypatch.setattr(records, "discard_orphan_key", lambda *a, **k: None)
    with pytest.raises(RuntimeError, match="went away"):
        residents.enrol_resident(session, deps, data, now=datetime.now(UTC), actor=actor)
    monkeypatch.undo()
    session.rollback()
    assert session.scalar(select(func.count()).select_from(ResidentKey)) == 1
    assert session.scalar(select(func.count()).select_from(Resident)) == 0

    # Within the grace period the sweep leaves it (its record may be on its way)...
    young = residents.sweep_orphans(session, deps, now=datetime.now(UTC), actor=actor)
    assert (young.records, young.keys) == (0, 0)
    assert session.scalar(select(func.count()).select_from(ResidentKey)) == 1
    # ... after it, the key goes; a resident enrolled meanwhile keeps theirs.
    kept = enrol(client, tokens["clerk"], display_name="Kept Resident", birth_date="1970-01-01")
    later = datetime.now(UTC) + residents.ORPHAN_KEY_GRACE * 2
    swept = residents.sweep_orphans(session, deps, now=later, actor=actor)
    assert (swept.records, swept.keys) == (0, 1)
    assert [k.resident_id for k in session.scalars(select(ResidentKey))] == [kept]
    last = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (last.action, last.detail) == ("keystore.sweep", "records:0,keys:1")
