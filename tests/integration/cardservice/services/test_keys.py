"""services.keys: city setup, signing keys at rest, rotation and revocation."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import cardformat
from cardservice.services import keys
from cardservice.services.errors import (
    CityExistsError,
    ConflictError,
    NotFoundError,
    ValidationError,
)

from ..conftest import NOW


def test_init_city_refuses_to_overwrite(session, deps, actor, city) -> None:
    with pytest.raises(CityExistsError):
        keys.init_city(session, deps, code="DE BER", names={"de": "Berlin"}, now=NOW, actor=actor)
    assert city.code == "FR SXB"
    assert len(keys.list_keys(session)) == 1
    assert keys.root_fingerprint(session) == cardformat.fingerprint(city.root_public_key)


def test_init_city_validates_code(session, deps, actor) -> None:
    with pytest.raises(ValidationError) as info:
        keys.init_city(session, deps, code="Strasbourg", names={"fr": "S"}, now=NOW, actor=actor)
    assert "code" in info.value.errors


def test_keys_are_encrypted_at_rest(session, deps, city) -> None:
    from cardservice.models import SigningKey
    from cardservice.services.keyseal import MAGIC, KeySealer

    sealed = session.scalars(select(SigningKey.private_key_pem)).one()
    assert sealed.startswith(MAGIC)
    assert city.root_private_key_pem.startswith(MAGIC)
    with pytest.raises(cardformat.KeyFileError):
        KeySealer(b"wrong passphrase").open(sealed)


def test_key_rotation_and_revocation(session, deps, actor, city) -> None:
    first = keys.list_keys(session)[0]
    rotated = keys.rotate_signing_key(session, deps, now=NOW, actor=actor)
    states = {k.kid: k.state for k in keys.list_keys(session)}
    assert states == {first.kid: "retired", rotated.kid: "active"}
    keys.revoke_signing_key(session, deps, kid=rotated.kid, now=NOW, actor=actor)
    states = {k.kid: k.state for k in keys.list_keys(session)}
    assert states[rotated.kid] == "revoked"
    # Revoking the active key creates a fresh one: the counter can go on issuing.
    assert list(states.values()).count("active") == 1
    with pytest.raises(NotFoundError):
        keys.revoke_signing_key(session, deps, kid="00" * 8, now=NOW, actor=actor)
    with pytest.raises(ConflictError):
        keys.revoke_signing_key(session, deps, kid=rotated.kid, now=NOW, actor=actor)


def test_key_ids_are_compared_as_staff_type_them(session, deps, actor, city) -> None:
    assert keys.normalise_kid(" 0A1B 2C3D 4E5F 6A7B ") == "0a1b2c3d4e5f6a7b"
    rotated = keys.rotate_signing_key(session, deps, now=NOW, actor=actor)
    spaced = " ".join(rotated.kid[i : i + 4] for i in range(0, 16, 4)).upper()
    info = keys.revoke_signing_key(session, deps, kid=spaced, now=NOW, actor=actor)
    assert (info.kid, info.state) == (rotated.kid, "revoked")
