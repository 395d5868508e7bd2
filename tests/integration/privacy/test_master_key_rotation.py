"""Issue 6 item 1: master-key rotation re-wraps the data keys without touching the data.

Driven the way an operator does it: a second app started with the new key as
CARDSERVICE_MASTER_KEY and the old one in CARDSERVICE_PREVIOUS_MASTER_KEYS runs
`cardservice keys rewrap`; the ciphertext column (resident database) and the wrapped keys (data-key
store) are read through raw SQL on each database."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from sqlalchemy import text

from cardservice.config import ConfigError
from cardservice.extensions import db
from cardservice.models import KEYSTORE_BIND

from .helpers import auth, enrol


def _rows(session: Any) -> dict[str, tuple[str, bytes, bytes]]:
    ciphertexts = dict(session.execute(text("SELECT id, ciphertext FROM resident")).all())
    keys = session.execute(
        text("SELECT resident_id, master_key_id, wrapped_data_key FROM resident_key"),
        bind_arguments={"bind": db.engines[KEYSTORE_BIND]},
    )
    found = {r[0]: (r[1], bytes(r[2]), bytes(ciphertexts[r[0]])) for r in keys}
    assert found.keys() == ciphertexts.keys()
    session.remove()
    return found


def test_rotation_rewraps_without_touching_ciphertexts(
    app, make_app, client, session, city, tokens
) -> None:
    names = ["Zofia Wąsowska-Ødegård", "Jonas Petraitis", "Mariam Touré", "李伟"]
    ids = [enrol(client, tokens["clerk"], display_name=name) for name in names]
    before = _rows(session)
    old_key = app.config["MASTER_KEY"]
    new_key = base64.b64encode(os.urandom(32)).decode()

    # Before the rewrap, an app holding only the new key cannot read anyone: the data keys
    # really are wrapped by the old one. It does not even start (services/keycheck.py): it
    # would write records that the other instances cannot open.
    with pytest.raises(ConfigError, match=r"^CARDSERVICE_MASTER_KEY"):
        make_app(MASTER_KEY=new_key, PREVIOUS_MASTER_KEYS=[])

    rotating = make_app(MASTER_KEY=new_key, PREVIOUS_MASTER_KEYS=[old_key])
    with rotating.app_context():
        result = rotating.test_cli_runner().invoke(args=["keys", "rewrap"])
        assert result.exit_code == 0, result.output
        new_id = rotating.extensions["cardservice"].cipher.provider.key_id
        assert result.output.strip() == (f"4 data key(s) re-wrapped under master key {new_id}.")
        again = rotating.test_cli_runner().invoke(args=["keys", "rewrap"])
        assert again.output.startswith("0 data key(s)")
    after = _rows(session)

    assert before.keys() == after.keys() == set(ids)
    for rid in ids:
        old_id, old_wrapped, old_ciphertext = before[rid]
        key_id, wrapped, ciphertext = after[rid]
        assert ciphertext == old_ciphertext  # the data, byte for byte
        assert wrapped != old_wrapped and key_id == new_id != old_id

    # Old key removed from the configuration: everyone still reads, through the new key alone.
    fresh = make_app(MASTER_KEY=new_key, PREVIOUS_MASTER_KEYS=[])
    with fresh.app_context():
        reader = fresh.test_client()
        for rid, name in zip(ids, names, strict=True):
            body = reader.get(f"/api/v1/residents/{rid}", headers=auth(tokens["clerk"]))
            assert body.status_code == 200 and body.get_json()["display_name"] == name
    # The rotation is in the audit log, without a key or a name, followed by the four reads above.
    entries = session.execute(
        text("SELECT action, detail FROM audit_entry ORDER BY id DESC LIMIT 5")
    ).all()
    assert [tuple(e) for e in entries] == [("resident.view", None)] * 4 + [
        ("master_key.rewrap", "count:4")
    ]
