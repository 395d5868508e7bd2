"""Resident records: enrol, load and decrypt, correct, erase. The readers here are not audited:
what shows a record to someone goes through audited_reads.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ...models import Card, Resident
from .. import audit
from .. import duplicates as duplicates_service
from .._types import DbSession
from ..audit import Actor
from ..context import Deps
from ..crypto import MissingMasterKeyError, ResidentRecord
from ..errors import NotFoundError, ValidationError
from ..locking import locked
from ..namefold import FOLDING_VERSION, fold_name, folded_match, same_name
from ..policy import PointsResult
from .datakeys import (
    data_key,
    discard_orphan_key,
    master_key_unavailable,
    open_record,
    store_data_key,
)
from .validation import EnrolmentInput, validate_enrolment


@dataclass(frozen=True, kw_only=True)
class EnrolmentResult:
    resident_id: str
    points: PointsResult
    # Other residents with the same normalised name and birth date: shown to staff, not blocking.
    possible_duplicates: list[str]


@dataclass(frozen=True, kw_only=True)
class ResidentView(ResidentRecord):
    """A resident's opened record as shown: the record's fields, its id and enrolment time, and
    its cards."""

    id: str
    created_at: datetime
    cards: list[Card]


def enrol_resident(
    session: DbSession,
    deps: Deps,
    data: EnrolmentInput,
    *,
    now: datetime,
    actor: Actor,
    confirm_duplicate: duplicates_service.Confirmation = False,
) -> EnrolmentResult:
    """Validate, check documents against the points policy and duplicates, encrypt, store.
    One transaction.

    Raises ValidationError, InsufficientDocumentsError, PhotoError or PossibleDuplicateError
    (services.duplicates: `confirm_duplicate` confirms candidates); nothing is written then.
    Documents are only counted: no document type, number or scan is stored.
    """
    record, points = validate_enrolment(data, deps, now=now)
    indexes = deps.cipher.blind_indexes(record.display_name, record.birth_date)
    try:
        duplicates_service.check(session, indexes, confirm_duplicate)
    finally:
        session.rollback()  # end the read: the key store commits first (module docstring)
    resident_id = secrets.token_hex(16)
    sealed = deps.cipher.seal(resident_id, record)
    store_data_key(session, resident_id, sealed, now=now)
    try:
        # Again in the writing transaction: one enrolled meanwhile is flagged in the audit log.
        duplicates = duplicates_service.candidates(session, indexes)
        session.add(
            Resident(
                id=resident_id,
                created_at=now,
                updated_at=now,
                ciphertext=sealed.ciphertext,
                blind_index=indexes[0],
                index_version=FOLDING_VERSION,
            )
        )
        audit.record(
            session,
            now=now,
            actor=actor,
            action="resident.enrol",
            subject=f"resident:{resident_id}",
            detail="possible_duplicate" if duplicates else None,
        )
        session.commit()
    except BaseException:
        session.rollback()
        discard_orphan_key(session, resident_id)
        raise
    return EnrolmentResult(resident_id=resident_id, points=points, possible_duplicates=duplicates)


def load_resident(session: DbSession, resident_id: Any, *, for_update: bool = False) -> Resident:
    if not isinstance(resident_id, str) or len(resident_id) != 32:
        raise NotFoundError(_l("No resident has this id."))
    resident = (
        locked(session, Resident, resident_id) if for_update else session.get(Resident, resident_id)
    )
    if resident is None:
        raise NotFoundError(_l("No resident has this id."))
    return resident


def get_resident(session: DbSession, deps: Deps, resident_id: str) -> ResidentView:
    """Decrypt one resident's record, with their cards (newest first)."""
    resident = load_resident(session, resident_id)
    record = open_record(session, deps, resident)
    cards = sorted(resident.cards, key=lambda c: (c.issued_at, c.id), reverse=True)
    return ResidentView(**vars(record), id=resident.id, created_at=resident.created_at, cards=cards)


def find_residents(
    session: DbSession, deps: Deps, *, display_name: str, birth_date: date | None
) -> list[ResidentView]:
    """Search by name and birth date through the blind index (no plaintext scan), insensitive
    to case, accents and punctuation (services.namefold); the exact comparison follows on the
    opened records: names exactly as typed come first."""
    if not isinstance(display_name, str) or not fold_name(display_name):
        raise ValidationError({"display_name": _l("Type a name to search for.")})
    indexes = deps.cipher.blind_indexes(display_name, birth_date)
    ids = session.scalars(
        select(Resident.id).where(Resident.blind_index.in_(indexes)).order_by(Resident.created_at)
    )
    found = []
    for resident_id in list(ids):
        try:
            view = get_resident(session, deps, resident_id)
        except NotFoundError:
            continue  # a keyless row left by an interrupted erasure: nobody to find
        if folded_match(view.display_name, view.birth_date, display_name, birth_date):
            found.append(view)
    # sorted() is stable: within each group, the oldest record first.
    return sorted(found, key=lambda view: not same_name(view.display_name, display_name))


def update_resident(
    session: DbSession,
    deps: Deps,
    resident_id: str,
    data: EnrolmentInput,
    *,
    now: datetime,
    actor: Actor,
) -> None:
    """Correct a resident's data. Documents are re-checked.

    The record is re-encrypted under the resident's existing data key (ResidentCipher.reseal):
    only the resident database changes, in one transaction. An omitted photo (None) keeps the
    current one.
    """
    resident = load_resident(session, resident_id, for_update=True)
    key = data_key(session, resident)
    current = open_record(session, deps, resident, key)
    record, _points = validate_enrolment(data, deps, now=now)
    if record.photo is None and data.photo is None:
        record = replace(record, photo=current.photo)
    try:
        resident.ciphertext = deps.cipher.reseal(
            resident.id,
            record,
            master_key_id=key.master_key_id,
            wrapped_data_key=key.wrapped_data_key,
        )
    except MissingMasterKeyError as exc:
        raise master_key_unavailable(exc) from None
    resident.blind_index = deps.cipher.blind_index(record.display_name, record.birth_date)
    resident.index_version = FOLDING_VERSION
    resident.updated_at = now
    audit.record(
        session, now=now, actor=actor, action="resident.update", subject=f"resident:{resident.id}"
    )
    session.commit()
