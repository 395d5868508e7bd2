"""Sealing the city's stored keys again in the current form (after a change of the key derivation
parameters, or from the old PKCS#8 form): `cardservice keys reencrypt`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ..models import City, SigningKey
from . import audit
from ._types import DbSession
from .audit import Actor
from .context import Deps
from .errors import CityNotInitialisedError
from .keys import open_sealed_key, require_passphrase
from .keyseal import is_legacy, params_of


def reencrypt_keys(session: DbSession, deps: Deps, *, now: datetime, actor: Actor) -> int:
    """Seal every stored key (root and signing keys, revoked ones too) in the current form.

    Rewrites the keys still in the PKCS#8 form (PBKDF2) or under other KDF parameters than the
    city's, in one transaction with one audit entry; the public keys, and so the cards and the
    published documents, do not change. Safe to re-run: a second run finds nothing to do.
    """
    require_passphrase(session, deps, now=now)
    sealer = deps.key_sealer
    city = session.scalars(select(City).limit(1).with_for_update()).first()
    if city is None:
        raise CityNotInitialisedError()

    def stale(blob: bytes) -> bool:
        return is_legacy(blob) or params_of(blob) != sealer.current

    count = 0
    if stale(city.root_private_key_pem):
        city.root_private_key_pem = sealer.seal(open_sealed_key(city.root_private_key_pem, sealer))
        count += 1
    for record in session.scalars(select(SigningKey).order_by(SigningKey.id).with_for_update()):
        if stale(record.private_key_pem):
            record.private_key_pem = sealer.seal(open_sealed_key(record.private_key_pem, sealer))
            count += 1
    if count:
        audit.record(
            session, now=now, actor=actor, action="key.reencrypt", detail=f"{count} key(s)"
        )
    session.commit()
    return count
