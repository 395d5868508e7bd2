"""Residents' data keys in the key store: store, read, open a record with one, re-wrap under a new
master key, destroy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import NamedTuple

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, insert, select

from ...models import Resident, ResidentKey, forget_deleted_keys, insert_key_row, read_key_rows
from .. import audit
from .._types import DbSession
from ..audit import Actor
from ..context import Deps
from ..crypto import MissingMasterKeyError, ResidentRecord, SealedRecord
from ..errors import MasterKeyUnavailableError, NotFoundError
from ..locking import lock

log = logging.getLogger("cardservice.residents")


# Ids per IN (...) list: well under SQLite's limit on bound parameters, and short statements.
_CHUNK = 500


def store_data_key(
    session: DbSession, resident_id: str, sealed: SealedRecord, *, now: datetime
) -> None:
    """The key first, committed on its own: a failure after this leaves an orphan key (no
    record was written anywhere), which the sweep removes."""
    session.commit()  # settle what the session holds, and any key-store lock with it
    insert_key_row(
        session.get_bind(ResidentKey),
        insert(ResidentKey).values(
            resident_id=resident_id,
            master_key_id=sealed.master_key_id,
            wrapped_data_key=sealed.wrapped_data_key,
            created_at=now,
        ),
    )


def discard_orphan_key(session: DbSession, resident_id: str) -> None:
    """Best effort after a failed enrolment: delete the key whose record was not written.
    If this fails too (the database went away), the sweep removes the key later."""
    try:
        session.execute(delete(ResidentKey).where(ResidentKey.resident_id == resident_id))
        session.commit()
    except Exception:  # the original error is what the caller must see
        session.rollback()
        log.warning("enrolment failed and its data key could not be deleted; the sweep will")


class WrappedKey(NamedTuple):
    """A resident's data key as the key store holds it: wrapped by master key `master_key_id`."""

    master_key_id: str
    wrapped_data_key: bytes


def data_key(session: DbSession, resident: Resident) -> WrappedKey:
    """The resident's wrapped data key from the key store.

    A record without one is what an interrupted erasure leaves: unreadable by design, so it is
    reported as not found (the person was erased), and the sweep removes the row.
    """
    rows = read_key_rows(
        session.get_bind(ResidentKey),
        select(ResidentKey.master_key_id, ResidentKey.wrapped_data_key).where(
            ResidentKey.resident_id == resident.id
        ),
    )
    if not rows:
        # No resident id in the log: it links to a person.
        log.warning(
            "a resident record has no data key (an erasure that did not finish); "
            "`cardservice keys sweep` removes it"
        )
        raise NotFoundError(_l("No resident has this id."))
    return WrappedKey(*rows[0])


def data_keys(session: DbSession, resident_ids: Iterable[str]) -> dict[str, WrappedKey]:
    """The wrapped data keys of many residents in one key-store statement (batch printing),
    by resident id; a resident whose key is gone is absent."""
    rows = read_key_rows(
        session.get_bind(ResidentKey),
        select(
            ResidentKey.resident_id, ResidentKey.master_key_id, ResidentKey.wrapped_data_key
        ).where(ResidentKey.resident_id.in_(list(resident_ids))),
    )
    return {resident_id: WrappedKey(master, wrapped) for resident_id, master, wrapped in rows}


def master_key_unavailable(exc: MissingMasterKeyError) -> MasterKeyUnavailableError:
    # The operator needs the key id to know which key to configure again; the resident's id
    # stays out of the log (it links to a person), as does everything else about them.
    log.error(
        "a resident record is wrapped under master key %s, which this instance does not "
        "hold: add it to CARDSERVICE_PREVIOUS_MASTER_KEYS and run `cardservice keys rewrap`",
        exc.master_key_id,
    )
    return MasterKeyUnavailableError(master_key_id=exc.master_key_id)


def open_record(
    session: DbSession, deps: Deps, resident: Resident, key: WrappedKey | None = None
) -> ResidentRecord:
    """Decrypt a resident's record with its key from the key store (or `key`, when the caller
    already read it).

    NotFoundError when the key was destroyed (an erasure that did not finish);
    MasterKeyUnavailableError when the key is wrapped under a master key this instance lacks.
    """
    if key is None:
        key = data_key(session, resident)
    try:
        return deps.cipher.open(
            resident.id,
            master_key_id=key.master_key_id,
            wrapped_data_key=key.wrapped_data_key,
            ciphertext=resident.ciphertext,
        )
    except MissingMasterKeyError as exc:
        raise master_key_unavailable(exc) from None


def rewrap_data_keys(
    session: DbSession, deps: Deps, *, now: datetime, actor: Actor, batch: int = 500
) -> int:
    """After a master-key rotation: re-wrap every data key still under an older master key.

    Only the key store changes (the wrapped keys); the encrypted records are not touched.
    Commits per batch, so an interrupted run resumes where it stopped; the audit entry goes to
    the resident database at the end. Returns how many keys were re-wrapped.
    """
    current = deps.cipher.provider.key_id
    total = 0
    while True:
        rows = session.scalars(
            lock(select(ResidentKey).where(ResidentKey.master_key_id != current).limit(batch))
        ).all()
        if not rows:
            break
        for key in rows:
            try:
                key.wrapped_data_key = deps.cipher.rewrap(
                    key.resident_id,
                    master_key_id=key.master_key_id,
                    wrapped_data_key=key.wrapped_data_key,
                )
            except MissingMasterKeyError as exc:
                # Batches already committed stay re-wrapped; this one is rolled back, and a run
                # with the missing key configured resumes here.
                session.rollback()
                log.error(
                    "keys rewrap: data keys are wrapped under master key %s, which this "
                    "instance does not hold: add it to CARDSERVICE_PREVIOUS_MASTER_KEYS",
                    exc.master_key_id,
                )
                raise MasterKeyUnavailableError.during_rewrap(exc.master_key_id) from None
            key.master_key_id = current
        total += len(rows)
        session.commit()
    if total:
        audit.record(
            session, now=now, actor=actor, action="master_key.rewrap", detail=f"count:{total}"
        )
        session.commit()
    return total


def id_chunks(ids: Iterable[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    for resident_id in ids:
        batch.append(resident_id)
        if len(batch) == _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def destroy_data_keys(
    session: DbSession, resident_ids: Iterable[str], *, keep_locks: bool = False
) -> None:
    """Delete these residents' data keys in ONE key-store transaction, committed here.

    It runs on a connection of its own, so nothing the session holds rides along in that
    commit. The session's transaction is ended first (on SQLite a key-store transaction of the
    session's would block the deletion), unless `keep_locks`: the caller has then read only the
    resident database, and the row locks it holds on the records about to go stay held until
    it deletes them.
    """
    if not keep_locks:
        session.rollback()
    engine = session.get_bind(ResidentKey).engine
    with engine.begin() as connection:
        for chunk in id_chunks(resident_ids):
            connection.execute(delete(ResidentKey).where(ResidentKey.resident_id.in_(chunk)))
    forget_deleted_keys(engine)
