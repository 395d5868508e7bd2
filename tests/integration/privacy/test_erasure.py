"""Issue 6 item 3: erasing a resident destroys their data, at rest and for anyone holding the
master key. Scans the raw SQLite file, or a pg_dump of the PostgreSQL schema."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from cardservice.config import decode_key
from cardservice.models import Resident
from cardservice.services.crypto import CryptoError, LocalMasterKeyProvider, ResidentCipher

from .helpers import (
    ADDRESS,
    BIRTH,
    NAME,
    auth,
    dumped_bytea,
    encodings,
    enrol,
    is_postgres,
    issue,
    stored_bytes,
)

NEEDLES = (NAME, "Wąsowska", "Ødegård", BIRTH, ADDRESS, "Kléber")


def _row(session: Any, resident_id: str) -> tuple[str, bytes, bytes]:
    resident = session.get(Resident, resident_id)
    found = (resident.master_key_id, bytes(resident.wrapped_data_key), bytes(resident.ciphertext))
    session.remove()
    return found


def _present(raw: bytes, value: bytes, app: Flask) -> bool:
    return value in raw or (is_postgres(app) and dumped_bytea(value) in raw)


def test_erasure_is_destruction(app, client, session, deps, city, tokens) -> None:
    rid = enrol(client, tokens["clerk"])
    other = enrol(client, tokens["clerk"], display_name="Kept Resident", birth_date="1970-01-01")
    number = issue(client, tokens["clerk"], rid)["number"]
    master_key_id, wrapped, ciphertext = _row(session, rid)

    # Before erasure: the scan sees what is stored (the card number in clear, the encrypted
    # blobs), and never the name, birth date or address in any encoding.
    raw = stored_bytes(app)
    assert number.encode() in raw
    assert _present(raw, wrapped, app) and _present(raw, ciphertext[:64], app)
    for needle in NEEDLES:
        for encoded in encodings(needle):
            assert encoded not in raw, (needle, encoded)
    # ... yet the record is whole: the real provider opens it.
    opened = deps.cipher.open(
        rid, master_key_id=master_key_id, wrapped_data_key=wrapped, ciphertext=ciphertext
    )
    assert opened.display_name == NAME and opened.address == ADDRESS

    response = client.delete(f"/api/v1/residents/{rid}", headers=auth(tokens["supervisor"]))
    assert response.status_code == 200, response.get_data(as_text=True)
    session.remove()

    # After: neither the name nor the key that could open it is anywhere at rest.
    raw = stored_bytes(app)
    for needle in NEEDLES:
        for encoded in encodings(needle):
            assert encoded not in raw, (needle, encoded)
    assert not _present(raw, wrapped, app)
    assert not _present(raw, ciphertext[16:80], app)
    assert number.encode() in raw  # the card row stays, revoked, with no link to a person
    assert session.get(Resident, rid) is None

    # Not recoverable with the master key: someone who kept the ciphertext (a copy of the row
    # taken before erasure) and holds the real provider has no wrapped key left to unwrap. The
    # only wrapped keys the database still holds belong to other residents, and none of them
    # opens this record (the resident id is bound as associated data, and the keys differ).
    remaining = session.scalars(select(Resident)).all()
    assert [r.id for r in remaining] == [other]
    for resident in remaining:
        with pytest.raises(CryptoError):
            deps.cipher.open(
                rid,
                master_key_id=resident.master_key_id,
                wrapped_data_key=resident.wrapped_data_key,
                ciphertext=ciphertext,
            )
        with pytest.raises(CryptoError):
            deps.cipher.open(
                resident.id,
                master_key_id=resident.master_key_id,
                wrapped_data_key=resident.wrapped_data_key,
                ciphertext=ciphertext,
            )
    # The resident who was not erased is untouched.
    assert client.get(f"/api/v1/residents/{other}", headers=auth(tokens["clerk"])).get_json()[
        "display_name"
    ] == ("Kept Resident")


def test_backups_forget_once_the_master_key_is_retired(
    app, make_app, client, session, deps, city, tokens
) -> None:
    """The honest limit of crypto-shredding when the wrapped key lives beside the data: a backup
    taken before an erasure still holds the wrapped data key, so whoever has that backup AND the
    master key can open the record. The backup forgets when the master key it was wrapped under
    is destroyed after a rotation (docs/privacy.md: backup retention and rotation schedule)."""
    rid = enrol(client, tokens["clerk"])
    kept = enrol(client, tokens["clerk"], display_name="Kept Resident", birth_date="1970-01-01")
    backup = _row(session, rid)  # exactly the bytes a backup of the row holds
    assert (
        client.delete(f"/api/v1/residents/{rid}", headers=auth(tokens["supervisor"])).status_code
        == 200
    )
    session.remove()

    master_key_id, wrapped, ciphertext = backup
    # Window: the current master key still opens the old backup.
    assert (
        deps.cipher.open(
            rid, master_key_id=master_key_id, wrapped_data_key=wrapped, ciphertext=ciphertext
        ).display_name
        == NAME
    )

    # Rotation: new key current, old key previous; `keys rewrap` moves every live data key.
    import base64
    import os

    old_key = app.config["MASTER_KEY"]
    new_key = base64.b64encode(os.urandom(32)).decode()
    rotating = make_app(MASTER_KEY=new_key, PREVIOUS_MASTER_KEYS=[old_key])
    # The command runs in the app context it finds: push the rotating app's own.
    with rotating.app_context():
        result = rotating.test_cli_runner().invoke(args=["keys", "rewrap"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1 data key(s) re-wrapped")

    # The old key is destroyed: an app with the new key alone reads every live resident...
    retired = make_app(MASTER_KEY=new_key, PREVIOUS_MASTER_KEYS=[])
    with retired.app_context():
        retired_client = retired.test_client()
        page = retired_client.get(f"/api/v1/residents/{kept}", headers=auth(tokens["clerk"]))
        assert page.get_json()["display_name"] == "Kept Resident"
        # ... and the backup of the erased resident is now noise, master key in hand.
        from cardservice.services import deps as get_deps

        with pytest.raises(CryptoError):
            get_deps(retired).cipher.open(
                rid, master_key_id=master_key_id, wrapped_data_key=wrapped, ciphertext=ciphertext
            )
    # The same holds for a provider built by hand from the new key.
    only_new = ResidentCipher(
        LocalMasterKeyProvider(decode_key("MASTER_KEY", new_key)),
        decode_key("INDEX_KEY", app.config["INDEX_KEY"]),
    )
    with pytest.raises(CryptoError):
        replace(deps, cipher=only_new).cipher.open(
            rid, master_key_id=master_key_id, wrapped_data_key=wrapped, ciphertext=ciphertext
        )
