"""Check values: an instance with a wrong passphrase, master key or index key does not start.

Every instance of a city must hold the same three secrets. A wrong one used to go unnoticed: a
mistyped passphrase sealed a new signing key no other instance could open, a wrong master or
index key wrote records the others could not open or find. The first instance to start records
a check value of each secret (models.KeyCheck); every later start, and every key command before
it writes, compares its own secrets with them and refuses with a message that names the setting,
never the secret.

* passphrase: the city's KDF parameters (salt included) and an AES-GCM encryption of a constant
  under the argon2id key derived from the passphrase (services.keyseal). Guessing the passphrase
  from it costs exactly what guessing it from a stored key costs. In an old database without the
  row, the proof is that the passphrase opens the city's root key.
* master key: the constant wrapped by the master-key provider (AES-GCM, local key or PKCS#11
  token alike) and the id of the key that wrapped it. After a master-key rotation (new key in
  CARDSERVICE_MASTER_KEY, old one in CARDSERVICE_PREVIOUS_MASTER_KEYS) the first instance that
  starts proves the old key, then moves the value to the new one; from then on the new key is the
  only one accepted as current.
* index key: HMAC-SHA-256 of a constant under the index key.

In a database from before check values that holds residents, the newest record that still has
its data key proves the master key (it opens) and the index key (its blind index matches) before
their values are recorded.

A fleet starting at once: the table's primary key lets one INSERT win; the others read the
winner's value and compare with it, so two different values are never recorded. The master key's
move is a compare-and-set on the old key id, so only one instance moves it.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from cardformat import KeyFileError

from ..config import ConfigError
from ..models import City, KeyCheck, Resident, SigningKey
from ._types import DbSession
from .context import Deps
from .crypto import CryptoError, MissingMasterKeyError, ResidentRecord
from .keyseal import KdfParams, KeySealer, is_legacy, params_of

log = logging.getLogger("cardservice.keycheck")

PASSPHRASE = "passphrase"
MASTER_KEY = "master_key"
INDEX_KEY = "index_key"
_CONSTANT = b"citycard key check v1"
_MASTER_CONTEXT = b"citycard master key check v1"


class KeyCheckError(ConfigError):
    """A configured secret is not the one this city's databases were set up with."""


def _wrong_passphrase() -> KeyCheckError:
    return KeyCheckError(
        "CARDSERVICE_KEY_PASSPHRASE is not the passphrase this city's keys are encrypted with: "
        "with it no card could be signed and new keys would be unreadable to the other "
        "instances. Nothing was written. Give every instance the same passphrase."
    )


def _wrong_master_key(hsm: bool) -> KeyCheckError:
    where = (
        "CARDSERVICE_PKCS11_KEY_LABEL (with CARDSERVICE_PKCS11_PREVIOUS_KEY_LABELS and "
        "CARDSERVICE_MASTER_KEY)"
        if hsm
        else "CARDSERVICE_MASTER_KEY (with CARDSERVICE_PREVIOUS_MASTER_KEYS)"
    )
    return KeyCheckError(
        f"{where} does not hold this city's master key: records written with it could not be "
        "read by the other instances. Nothing was written. Give every instance the same master "
        "key; during a rotation, the old one goes in the PREVIOUS setting."
    )


def _wrong_index_key() -> KeyCheckError:
    return KeyCheckError(
        "CARDSERVICE_INDEX_KEY is not this city's index key: searches would find no resident "
        "and new records would be invisible to the other instances' searches. Nothing was "
        "written. Give every instance the same index key."
    )


def _recorded(session: DbSession, name: str) -> KeyCheck | None:
    # populate_existing: another instance may have written or moved the row since this session
    # last looked; never trust the identity map here.
    return session.scalars(
        select(KeyCheck).where(KeyCheck.secret == name).execution_options(populate_existing=True)
    ).first()


def _record_first(session: DbSession, row: KeyCheck, again: Callable[[], None]) -> bool:
    """INSERT the first value; if another instance won the race, compare with its value.

    True when this call recorded it."""
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        again()
        return False
    log.info("recorded the check value of %s", row.secret)
    return True


def verify_passphrase(session: DbSession, sealer: KeySealer, *, now: datetime) -> None:
    """Raise KeyCheckError unless the passphrase is the city's; adopt the city's KDF salt."""
    row = _recorded(session, PASSPHRASE)
    if row is not None:
        try:
            plain = sealer.open_bytes(row.value)
        except KeyFileError:
            raise _wrong_passphrase() from None
        if not hmac.compare_digest(plain, _CONSTANT):
            raise _wrong_passphrase()
        recorded = params_of(row.value)
        assert recorded is not None
        sealer.adopt(recorded)
        return
    # No value yet: an empty database, or one from before check values. There the root key is
    # the proof; its salt (if it is already in the new form) becomes the city's.
    root_pem = session.scalars(select(City.root_private_key_pem).limit(1)).first()
    params: KdfParams | None = None
    if root_pem is not None:
        try:
            sealer.open(root_pem)
        except KeyFileError:
            raise _wrong_passphrase() from None
        params = params_of(root_pem)
    params = params or sealer.current or KdfParams.fresh()
    value = sealer.seal_bytes(_CONSTANT, params)
    if _record_first(
        session,
        KeyCheck(secret=PASSPHRASE, value=value, recorded_at=now),
        lambda: verify_passphrase(session, sealer, now=now),
    ):
        sealer.adopt(params)


def _sample_record(
    session: DbSession, deps: Deps, hsm: bool
) -> tuple[Resident, ResidentRecord] | None:
    """A database from before check values, with residents: the newest record that still has
    its data key, opened (the proof that the master key is the city's), or None if there is
    none. Only ever held in memory, never logged."""
    from .residents import data_keys

    recent = list(session.scalars(select(Resident).order_by(Resident.created_at.desc()).limit(20)))
    keys = data_keys(session, [resident.id for resident in recent])
    for resident in recent:
        key = keys.get(resident.id)
        if key is None:
            continue
        try:
            record = deps.cipher.open(
                resident.id,
                master_key_id=key.master_key_id,
                wrapped_data_key=key.wrapped_data_key,
                ciphertext=resident.ciphertext,
            )
        except CryptoError:
            raise _wrong_master_key(hsm) from None
        return resident, record
    return None


def verify_index_key(session: DbSession, deps: Deps, *, now: datetime, hsm: bool = False) -> None:
    mine = deps.cipher.index_key_check()
    row = _recorded(session, INDEX_KEY)
    if row is None:
        # In a database from before check values, an existing record proves the index key: its
        # stored blind index must be the one this key computes.
        sample = _sample_record(session, deps, hsm)
        if sample is not None:
            resident, record = sample
            computed = deps.cipher.blind_index(record.display_name, record.birth_date)
            if not hmac.compare_digest(computed, resident.blind_index):
                raise _wrong_index_key()
        _record_first(
            session,
            KeyCheck(secret=INDEX_KEY, value=mine, recorded_at=now),
            lambda: verify_index_key(session, deps, now=now, hsm=hsm),
        )
    elif not hmac.compare_digest(bytes(row.value), mine):
        raise _wrong_index_key()


def verify_master_key(session: DbSession, deps: Deps, *, now: datetime, hsm: bool) -> None:
    provider = deps.cipher.provider
    row = _recorded(session, MASTER_KEY)
    if row is None:
        # A database from before check values: an existing record must open (raises if not).
        _sample_record(session, deps, hsm)
        _record_first(
            session,
            KeyCheck(
                secret=MASTER_KEY,
                key_id=provider.key_id,
                value=provider.wrap(_CONSTANT, context=_MASTER_CONTEXT),
                recorded_at=now,
            ),
            lambda: verify_master_key(session, deps, now=now, hsm=hsm),
        )
        return
    recorded_id = str(row.key_id)
    try:
        plain = provider.unwrap(bytes(row.value), key_id=recorded_id, context=_MASTER_CONTEXT)
    except MissingMasterKeyError:
        raise _wrong_master_key(hsm) from None
    except CryptoError as exc:
        # Also a token that cannot be reached or a label it lacks: the reason says which (the
        # providers' messages carry key ids and labels, never key material).
        raise KeyCheckError(f"{_wrong_master_key(hsm)} ({exc})") from None
    if not hmac.compare_digest(plain, _CONSTANT):
        raise _wrong_master_key(hsm)
    if recorded_id == provider.key_id:
        return
    # A rotation: the recorded key is now a previous one. Move the value to the current key,
    # unless another instance moved it first (then compare with where it went).
    moved = session.execute(
        update(KeyCheck)
        .where(KeyCheck.secret == MASTER_KEY, KeyCheck.key_id == recorded_id)
        .values(
            key_id=provider.key_id,
            value=provider.wrap(_CONSTANT, context=_MASTER_CONTEXT),
            recorded_at=now,
        )
    )
    session.commit()
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        verify_master_key(session, deps, now=now, hsm=hsm)
        return
    log.warning(
        "master key rotation: the check value moved from master key %s to %s; from now on "
        "only %s is accepted as the current master key",
        recorded_id,
        provider.key_id,
        provider.key_id,
    )


def verify_secrets(session: DbSession, deps: Deps, *, now: datetime, hsm: bool) -> None:
    """All three checks; records what is missing. Raises KeyCheckError naming the setting."""
    verify_passphrase(session, deps.key_sealer, now=now)
    try:
        verify_master_key(session, deps, now=now, hsm=hsm)
    except CryptoError as exc:  # wrapping the first value failed: the token is unreachable
        setting = "CARDSERVICE_PKCS11_*" if hsm else "CARDSERVICE_MASTER_KEY"
        raise KeyCheckError(f"the master key ({setting}) cannot be used: {exc}") from None
    verify_index_key(session, deps, now=now, hsm=hsm)


def check_at_start(app: Flask) -> None:
    """create_app's check: refuse to start with a secret that is not the city's.

    Skipped, with a log line, only when the database has no key_check table yet: `cardservice
    db upgrade` must be able to start on a new or an old database; the next start checks.
    A database that cannot be reached stops the start too: an instance must never serve with
    unchecked secrets.
    """
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from ..extensions import db
    from .context import deps

    with app.app_context():
        try:
            if not inspect(db.engine).has_table(KeyCheck.__tablename__):
                log.info("no key_check table yet (run `cardservice db upgrade`): secrets unchecked")
                return
            verify_secrets(
                db.session,
                deps(app),
                now=datetime.now(UTC),
                hsm=bool(app.config.get("PKCS11_MODULE")),
            )
            legacy = legacy_key_count(db.session)
        except SQLAlchemyError as exc:
            raise ConfigError(
                "cannot check the secrets against the database at start: it cannot be read "
                f"({type(exc).__name__}); is CARDSERVICE_DATABASE_URL right and the database up "
                "and migrated (`cardservice db upgrade`)?"
            ) from None
        finally:
            db.session.rollback()
            db.session.remove()
            # Neither a database connection nor a PKCS#11 session may cross a fork (gunicorn
            # preloads the app, then forks its workers): each worker opens its own on first use.
            for engine in db.engines.values():
                engine.dispose()
            deps(app).cipher.provider.close()
    if legacy:
        log.warning(
            "%d stored key(s) are still in the PKCS#8 form (PBKDF2, 2,048 iterations): run "
            "`cardservice keys reencrypt`",
            legacy,
        )


def legacy_key_count(session: DbSession) -> int:
    """How many stored keys are still in the PKCS#8 form (`cardservice keys reencrypt`)."""
    blobs = [*session.scalars(select(City.root_private_key_pem))]
    blobs += session.scalars(select(SigningKey.private_key_pem))
    return sum(1 for blob in blobs if is_legacy(blob))
