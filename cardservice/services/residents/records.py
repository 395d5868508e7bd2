"""Resident records: enrol, load and decrypt, correct, erase. The readers here are not audited:
what shows a record to someone goes through audited_reads.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ...models import Card, Resident
from .. import audit
from .._types import DbSession
from ..audit import Actor
from ..context import Deps
from ..crypto import MissingMasterKeyError, ResidentRecord
from ..errors import NotFoundError, ValidationError
from ..locking import locked
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
class ResidentView:
    id: str
    created_at: datetime
    display_name: str
    birth_date: date | None
    gender_marker: str | None
    address: str | None
    preferred_language: str
    photo: bytes | None
    cards: list[Card]


def enrol_resident(
    session: DbSession,
    deps: Deps,
    data: EnrolmentInput,
    *,
    now: datetime,
    actor: Actor,
) -> EnrolmentResult:
    """Validate, check documents against the points policy, encrypt, store. One transaction.

    Raises ValidationError, InsufficientDocumentsError or PhotoError; nothing is written then.
    Documents are only counted: no document type, number or scan is stored.
    """
    record, points = validate_enrolment(data, deps, now=now)
    resident_id = secrets.token_hex(16)
    sealed = deps.cipher.seal(resident_id, record)
    store_data_key(session, resident_id, sealed, now=now)
    try:
        index = deps.cipher.blind_index(record.display_name, record.birth_date)
        duplicates = list(session.scalars(select(Resident.id).where(Resident.blind_index == index)))
        session.add(
            Resident(
                id=resident_id,
                created_at=now,
                updated_at=now,
                ciphertext=sealed.ciphertext,
                blind_index=index,
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
    return ResidentView(
        id=resident.id,
        created_at=resident.created_at,
        display_name=record.display_name,
        birth_date=record.birth_date,
        gender_marker=record.gender_marker,
        address=record.address,
        preferred_language=record.preferred_language,
        photo=record.photo,
        cards=cards,
    )


def find_residents(
    session: DbSession, deps: Deps, *, display_name: str, birth_date: date | None
) -> list[ResidentView]:
    """Exact search by name and birth date through the blind index (no plaintext scan)."""
    if not isinstance(display_name, str) or not display_name.strip():
        raise ValidationError({"display_name": _l("Type a name to search for.")})
    index = deps.cipher.blind_index(display_name, birth_date)
    ids = session.scalars(
        select(Resident.id).where(Resident.blind_index == index).order_by(Resident.created_at)
    )
    found = []
    for resident_id in list(ids):
        try:
            found.append(get_resident(session, deps, resident_id))
        except NotFoundError:
            continue  # a keyless row left by an interrupted erasure: nobody to find
    return found


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
        record = ResidentRecord(**{**record.__dict__, "photo": current.photo})
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
    resident.updated_at = now
    audit.record(
        session, now=now, actor=actor, action="resident.update", subject=f"resident:{resident.id}"
    )
    session.commit()
