"""services.residents.datakeys: re-wrapping data keys after a master-key rotation."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from cardservice.models import AuditEntry, Resident, ResidentKey
from cardservice.services import residents
from cardservice.services.errors import (
    MasterKeyUnavailableError,
)

from ..conftest import NOW, enrolment


def test_master_key_rotation_rewraps_without_touching_records(
    app, session, deps, actor, city
) -> None:
    import os
    from dataclasses import replace

    from cardservice.config import decode_key
    from cardservice.services.crypto import LocalMasterKeyProvider, ResidentCipher

    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    old_ciphertext = session.get(Resident, rid).ciphertext
    old_wrapped = session.get(ResidentKey, rid).wrapped_data_key
    old_key = decode_key("MASTER_KEY", app.config["MASTER_KEY"])
    index_key = decode_key("INDEX_KEY", app.config["INDEX_KEY"])
    new_key = os.urandom(32)

    def with_provider(provider: LocalMasterKeyProvider) -> Any:
        return replace(deps, cipher=ResidentCipher(provider, index_key))

    only_new = with_provider(LocalMasterKeyProvider(new_key))
    # The old key missing is an operator's problem with a stable code, not a bare CryptoError.
    with pytest.raises(MasterKeyUnavailableError):
        residents.get_resident(session, only_new, rid)

    rotating = with_provider(LocalMasterKeyProvider(new_key, previous=[old_key]))
    assert residents.rewrap_data_keys(session, rotating, now=NOW, actor=actor) == 1
    assert session.get(Resident, rid).ciphertext == old_ciphertext  # the record is untouched
    after = session.get(ResidentKey, rid)  # only the key store changed
    assert after.wrapped_data_key != old_wrapped
    assert after.master_key_id == only_new.cipher.provider.key_id
    # The new key alone now opens it; a second run has nothing to do.
    assert residents.get_resident(session, only_new, rid).display_name == "Amira Haddad"
    assert residents.rewrap_data_keys(session, rotating, now=NOW, actor=actor) == 0
    assert (
        session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()[-1]
        == "master_key.rewrap"
    )
