"""Enrolment, lookup and erasure of residents (encrypted at rest, see services.crypto).

Two databases hold a resident: the record (models.Resident) in the resident database, its
wrapped data key (models.ResidentKey) in the data-key store. They cannot share a transaction
(SQLite has no two-phase commit; PostgreSQL's is off by default), so every change that touches
both is ordered so that a failure between the two commits leaves a safe state:

- enrolment commits the key, then the record: a crash leaves an orphan key with no record,
  which opens nothing (the record was never written anywhere) and which the sweep removes;
- erasure, retention purge and emergency purge destroy the keys first, in one key-store
  transaction, then delete the records in one resident-database transaction: a crash leaves
  keyless rows that nothing can decrypt, shown as not found, which a retry or the sweep removes;
- a correction re-encrypts under the same data key (only the record changes), and a master-key
  rotation re-wraps keys in the key store only (only the key changes).

`sweep_orphans()` (run by `cardservice purge` and `cardservice keys sweep`) removes the leftovers
of interrupted writes on both sides. Never two write transactions at once either: the session
commits the key store before it writes the resident database, so the order is never left to it.
"""

from __future__ import annotations

import logging
import secrets
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple, cast

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import CursorResult, Delete, delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

import cardformat

from ..models import (
    Card,
    Resident,
    ResidentKey,
    forget_deleted_keys,
    insert_key_row,
    read_key_rows,
)
from . import audit
from . import duplicates as duplicates_service
from ._types import DbSession
from .audit import Actor
from .context import Deps
from .crypto import MissingMasterKeyError, ResidentRecord, SealedRecord
from .errors import (
    AuditUnavailableError,
    MasterKeyUnavailableError,
    NotFoundError,
    PhotoError,
    ValidationError,
)
from .locking import lock, locked
from .namefold import FOLDING_VERSION, fold_name, folded_match, same_name
from .photos import process_photo
from .policy import PointsResult

log = logging.getLogger("cardservice.residents")

GENDER_MARKERS = ("F", "M", "X")
_EARLIEST_BIRTH_DATE = date(1900, 1, 1)
# Ids per IN (...) list: well under SQLite's limit on bound parameters, and short statements.
_CHUNK = 500
# The sweep leaves keys younger than this alone: enrolment commits the key a moment before the
# record, and a key whose record is still being written is not an orphan.
ORPHAN_KEY_GRACE = timedelta(hours=1)


@dataclass(frozen=True, kw_only=True)
class EnrolmentInput:
    """What the counter collects. `photo` is the uploaded file's bytes (JPEG or PNG)."""

    display_name: Any
    birth_date: Any  # date, or "YYYY-MM-DD" text, or None when the policy allows
    gender_marker: Any = None
    address: Any = None
    preferred_language: Any = None
    photo: bytes | None = None
    documents: Any = field(default_factory=list)


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


# Markup and query metacharacters appear in no name or postal address; refusing them keeps
# pasted HTML or SQL out of the record (output is escaped anyway, queries are parameterised).
_MARKUP_CHARS = frozenset('<>{}[]\\|;=$^*~`"')


def _has_markup(text: str) -> bool:
    return any(ch in _MARKUP_CHARS for ch in text)


def _has_forbidden_chars(text: str, allowed: frozenset[str] = frozenset()) -> bool:
    # Control characters (Cc) and format characters (Cf: bidi overrides, zero-width spaces...)
    # have no place in a name or address shown to agents; newlines are allowed in addresses only.
    return any(
        unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs") and ch not in allowed for ch in text
    )


# The joiners some scripts need in names (Persian ZWNJ, Indic ZWJ); the card format allows them
# (docs/card-format.md section 3.2) and the card prints them.
_NAME_JOINERS = frozenset("\u200c\u200d")


def _age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def validate_enrolment(
    data: EnrolmentInput, deps: Deps, *, now: datetime
) -> tuple[ResidentRecord, PointsResult]:
    """Check every field, collecting all errors at once. Photo processing comes last (costly)."""
    policy = deps.policy
    errors: dict[str, LazyString | str] = {}

    name = data.display_name
    clean_name = ""
    if not isinstance(name, str) or not name.strip():
        errors["display_name"] = _l("The display name is required.")
    else:
        clean_name = unicodedata.normalize("NFC", " ".join(name.split()))
        # One limit, the card format's (docs/card-format.md section 3): every name it accepts
        # is accepted here, provided the card can print it whole (checked below).
        # (surrogatepass: a lone surrogate is refused just below, not by a crash here)
        if len(clean_name.encode("utf-8", "surrogatepass")) > cardformat.MAX_NAME_BYTES:
            errors["display_name"] = _l("The display name is too long to print on the card.")
        elif _has_forbidden_chars(name, _NAME_JOINERS):
            errors["display_name"] = _l("The display name contains invisible control characters.")
        elif _has_markup(name):
            errors["display_name"] = _l(
                "The display name contains characters that are not used in names."
            )
        else:
            try:
                clean_name = cardformat.validate_holder_name(clean_name)
            except cardformat.MalformedError:
                errors["display_name"] = _l("The display name cannot be printed on a card.")
            else:
                from ..printing import holder_name_fits, unsupported_characters

                # Refuse at the counter what the card fonts cannot draw, not at print time.
                if unsupported_characters(clean_name):
                    errors["display_name"] = _l(
                        "The display name uses characters the card cannot print."
                    )
                elif not holder_name_fits(clean_name):
                    # Only names of wide presentation-form ligatures (U+FDFD...) still get here:
                    # the card holds any other 100 bytes (printing._layout.fit_holder_name).
                    errors["display_name"] = _l(
                        "The display name is too long to print on the card."
                    )

    birth: date | None = None
    raw_birth = data.birth_date
    if raw_birth in (None, ""):
        if policy.birth_date_required:
            errors["birth_date"] = _l("The birth date is required.")
    elif isinstance(raw_birth, date) and not isinstance(raw_birth, datetime):
        birth = raw_birth
    elif isinstance(raw_birth, str) and len(raw_birth) == 10:
        try:
            birth = date.fromisoformat(raw_birth)
        except ValueError:
            errors["birth_date"] = _l("The birth date must be a date written YYYY-MM-DD.")
    else:
        errors["birth_date"] = _l("The birth date must be a date written YYYY-MM-DD.")
    if birth is not None:
        today = now.date()
        if birth > today or birth < _EARLIEST_BIRTH_DATE:
            errors["birth_date"] = _l("The birth date is not plausible.")
        elif _age_on(birth, today) < policy.minimum_age:
            errors["birth_date"] = _l(
                "The card is issued from the age of %(age)s.", age=policy.minimum_age
            )

    gender = data.gender_marker
    if gender in ("", None):
        gender = None
    elif not isinstance(gender, str) or gender.upper() not in GENDER_MARKERS:
        errors["gender_marker"] = _l("The gender marker is F, M, X or none.")
    else:
        gender = gender.upper()

    address = data.address
    if address in ("", None):
        address = None
    elif not isinstance(address, str):
        errors["address"] = _l("The address must be text.")
    else:
        address = unicodedata.normalize("NFC", address.strip())
        if len(address) > policy.address_max_chars:
            errors["address"] = _l(
                "The address is too long (at most %(n)s characters).", n=policy.address_max_chars
            )
        elif _has_forbidden_chars(address.replace("\n", " ").replace("\r", " ")):
            errors["address"] = _l("The address contains invisible control characters.")
        elif _has_markup(address):
            errors["address"] = _l(
                "The address contains characters that are not used in addresses."
            )
        elif not address:
            address = None

    language = data.preferred_language
    if language in ("", None):
        language = policy.languages[0]
    elif not isinstance(language, str) or language not in policy.languages:
        errors["preferred_language"] = _l("This language is not offered.")

    points: PointsResult | None = None
    documents = data.documents
    if not isinstance(documents, list | tuple) or not all(isinstance(d, str) for d in documents):
        errors["documents"] = _l("The documents must be a list of document category ids.")
    elif len(documents) > len(policy.documents):
        errors["documents"] = _l("Each document category counts once.")
    else:
        try:
            points = policy.points(list(documents))
        except ValidationError as exc:
            errors.update(exc.errors)

    # The photo and the documents are checked even when a field is wrong: every problem is
    # reported in one round, not one per submission.
    photo = None
    photo_error: PhotoError | None = None
    if data.photo is not None:
        if not isinstance(data.photo, bytes | bytearray):
            errors["photo"] = _l("The photo must be an image file.")
        else:
            try:
                photo = process_photo(bytes(data.photo), policy)
            except PhotoError as exc:
                photo_error = exc
    short = points is not None and not points.sufficient
    if errors or (photo_error is not None and short):
        if photo_error is not None:
            errors["photo"] = photo_error.message
        if short:
            errors["documents"] = _l(
                "The documents shown do not reach the policy's minimum points."
            )
        raise ValidationError(errors)
    if photo_error is not None:
        raise photo_error  # alone: its own code (photo_too_large, invalid_photo) for the API
    assert points is not None
    policy.check_documents(list(documents))

    record = ResidentRecord(
        display_name=clean_name,
        birth_date=birth,
        gender_marker=gender,
        address=address,
        preferred_language=str(language),
        photo=photo,
    )
    return record, points


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
    _store_data_key(session, resident_id, sealed, now=now)
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
        _discard_orphan_key(session, resident_id)
        raise
    return EnrolmentResult(resident_id=resident_id, points=points, possible_duplicates=duplicates)


def _store_data_key(
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


def _discard_orphan_key(session: DbSession, resident_id: str) -> None:
    """Best effort after a failed enrolment: delete the key whose record was not written.
    If this fails too (the database went away), the sweep removes the key later."""
    try:
        session.execute(delete(ResidentKey).where(ResidentKey.resident_id == resident_id))
        session.commit()
    except Exception:  # the original error is what the caller must see
        session.rollback()
        log.warning("enrolment failed and its data key could not be deleted; the sweep will")


def _load(session: DbSession, resident_id: Any, *, for_update: bool = False) -> Resident:
    if not isinstance(resident_id, str) or len(resident_id) != 32:
        raise NotFoundError(_l("No resident has this id."))
    resident = (
        locked(session, Resident, resident_id) if for_update else session.get(Resident, resident_id)
    )
    if resident is None:
        raise NotFoundError(_l("No resident has this id."))
    return resident


class WrappedKey(NamedTuple):
    """A resident's data key as the key store holds it: wrapped by master key `master_key_id`."""

    master_key_id: str
    wrapped_data_key: bytes


def _data_key(session: DbSession, resident: Resident) -> WrappedKey:
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


def _master_key_unavailable(exc: MissingMasterKeyError) -> MasterKeyUnavailableError:
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
        key = _data_key(session, resident)
    try:
        return deps.cipher.open(
            resident.id,
            master_key_id=key.master_key_id,
            wrapped_data_key=key.wrapped_data_key,
            ciphertext=resident.ciphertext,
        )
    except MissingMasterKeyError as exc:
        raise _master_key_unavailable(exc) from None


def get_resident(session: DbSession, deps: Deps, resident_id: str) -> ResidentView:
    """Decrypt one resident's record, with their cards (newest first)."""
    resident = _load(session, resident_id)
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


def _record_read(
    session: DbSession,
    *,
    now: datetime,
    actor: Actor,
    action: str,
    subject: str | None = None,
    detail: str | None = None,
) -> None:
    """Commit the audit entry of a read BEFORE the caller gets the data.

    Fail closed, on purpose: if the entry cannot be written, the read is refused with
    AuditUnavailableError (a clean 503, no data shown) rather than served without a trail, since
    an unaudited read is exactly what a rogue staff member would want the failure to give them.
    SQLAlchemy's message is not logged: it carries the statement's parameters (the resident id).
    """
    try:
        audit.record(session, now=now, actor=actor, action=action, subject=subject, detail=detail)
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        log.error("a read of resident data could not be written to the audit log: refused")
        raise AuditUnavailableError() from None


def view_resident(
    session: DbSession, deps: Deps, resident_id: str, *, now: datetime, actor: Actor
) -> ResidentView:
    """get_resident() for showing the record to someone: one "resident.view" audit entry
    (random resident id and actor, no personal data), committed before the record is returned.
    A record that does not open (not found, master key missing) is not audited: nothing shows."""
    view = get_resident(session, deps, resident_id)
    _record_read(
        session, now=now, actor=actor, action="resident.view", subject=f"resident:{view.id}"
    )
    return view


def search_residents(
    session: DbSession,
    deps: Deps,
    *,
    display_name: str,
    birth_date: date | None,
    now: datetime,
    actor: Actor,
) -> list[ResidentView]:
    """find_residents() for a staff search: one "resident.search" audit entry whose detail is
    only the number of results. Never the query: a name and a birth date are personal data, and
    the log must carry none (DESIGN.md section 5). A refused query (no name) is not audited."""
    found = find_residents(session, deps, display_name=display_name, birth_date=birth_date)
    _record_read(
        session, now=now, actor=actor, action="resident.search", detail=f"count:{len(found)}"
    )
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
    resident = _load(session, resident_id, for_update=True)
    key = _data_key(session, resident)
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
        raise _master_key_unavailable(exc) from None
    resident.blind_index = deps.cipher.blind_index(record.display_name, record.birth_date)
    resident.index_version = FOLDING_VERSION
    resident.updated_at = now
    audit.record(
        session, now=now, actor=actor, action="resident.update", subject=f"resident:{resident.id}"
    )
    session.commit()


def erase_resident(
    session: DbSession, deps: Deps, resident_id: str, *, now: datetime, actor: Actor
) -> list[str]:
    """Erasure on request: destroy the resident's data key, revoke their live cards, delete
    the record.

    The key goes first, in its own key-store transaction: from that commit on, every copy of the
    record (backups of the resident database included) is unreadable. Then one resident-database
    transaction revokes the cards, deletes the row and writes the audit entry; if it fails, the
    keyless row opens nothing, and a retry (or the sweep) finishes the job.

    The card rows stay (number, status, dates: no personal data) so the revocation is published
    and the audit trail still makes sense. Returns the numbers of the cards revoked.
    """
    from .cards import revoke_in_transaction

    _load(session, resident_id)  # NotFoundError before anything is destroyed
    destroy_data_keys(session, [resident_id])
    resident = locked(session, Resident, resident_id)
    if resident is None:
        # Erased meanwhile by another request or by the sweep: the erasure is done.
        session.rollback()
        return []
    revoked: list[str] = []
    # The cards locked as they are read (a supervisor may be revoking one now), by status index
    # so their status lists are locked in ascending order (services.locking).
    cards = lock(select(Card).where(Card.resident_id == resident.id).order_by(Card.status_index))
    for card in session.scalars(cards).all():
        # An expired card fails verification anyway; revoking it would only churn the list.
        if card.status != "revoked" and card.expires_at > now:
            revoke_in_transaction(session, card, reason="holder_request", now=now, actor=actor)
            revoked.append(card.number)
        card.resident_id = None
    # The data key is already gone from the key store; deleting the row removes the ciphertext
    # from the live database too (SQLite's secure_delete zeroes the freed pages).
    session.delete(resident)
    audit.record(
        session, now=now, actor=actor, action="resident.erase", subject=f"resident:{resident_id}"
    )
    session.commit()
    return revoked


@dataclass(frozen=True)
class RetentionCandidate:
    resident_id: str
    last_expiry: datetime | None  # None: enrolled but never issued a card


def _months_before(now: datetime, months: int) -> datetime:
    # Calendar months, clamped to day 28 so every month has the day.
    year, month = divmod(now.month - 1 - months, 12)
    return now.replace(year=now.year + year, month=month + 1, day=min(now.day, 28))


def retention_candidates(
    session: DbSession, deps: Deps, *, now: datetime
) -> list[RetentionCandidate]:
    """Residents past the policy's retention period.

    A record goes N months after its last card expired; a record that never got a card goes N
    months after enrolment. A resident with any unexpired card is never a candidate.
    """
    cutoff = _months_before(now, deps.policy.retention_months)
    last_expiry = func.max(Card.expires_at)
    rows = session.execute(
        select(Resident.id, Resident.created_at, last_expiry.label("last_expiry"))
        .outerjoin(Card, Card.resident_id == Resident.id)
        .group_by(Resident.id, Resident.created_at)
        .having(((last_expiry.is_(None)) & (Resident.created_at < cutoff)) | (last_expiry < cutoff))
        .order_by(Resident.created_at)
    )
    result = []
    for resident_id, _created, expiry in rows:
        # func.max() bypasses the column type on some backends: normalise to aware UTC.
        if isinstance(expiry, str):
            expiry = datetime.fromisoformat(expiry)
        if isinstance(expiry, datetime) and expiry.tzinfo is None:
            expiry = expiry.replace(tzinfo=UTC)
        result.append(RetentionCandidate(resident_id, expiry))
    return result


def purge_expired(session: DbSession, deps: Deps, *, now: datetime, actor: Actor) -> int:
    """Erase every retention candidate: their keys in one key-store transaction, then their
    records in one resident-database transaction. Returns how many were erased.

    The candidates are locked and judged again before any key is destroyed, and stay locked
    until their records are deleted: a clerk may have issued a card to one of them since the
    list was read, and issuing waits on the same lock (services.locking), so no resident with a
    live card loses their key.
    """
    # Nothing of the caller's, and no key-store transaction, may be open while the keys go.
    session.rollback()
    candidates = retention_candidates(session, deps, now=now)
    cutoff = _months_before(now, deps.policy.retention_months)
    doomed: list[tuple[Resident, list[Card]]] = []
    for candidate in candidates:
        resident = locked(session, Resident, candidate.resident_id)
        if resident is None:
            continue
        held = list(session.scalars(lock(select(Card).where(Card.resident_id == resident.id))))
        last_date = max((card.expires_at for card in held), default=resident.created_at)
        if last_date < cutoff:
            doomed.append((resident, held))
    if not doomed:
        session.rollback()
        return 0
    destroy_data_keys(session, [resident.id for resident, _ in doomed], keep_locks=True)
    for resident, held in doomed:
        for card in held:
            card.resident_id = None
        session.delete(resident)
        audit.record(
            session,
            now=now,
            actor=actor,
            action="resident.purge",
            subject=f"resident:{resident.id}",
            detail="retention",
        )
    session.commit()
    return len(doomed)


def purge_all_residents(
    session: DbSession, deps: Deps, *, city_code: str, confirm: str, now: datetime, actor: Actor
) -> int:
    """Emergency purge: erase every resident record at once.

    Every data key goes first, in one key-store transaction: from that commit on no record can
    be read, from the live database or from any backup of it. Then one resident-database
    transaction deletes the records and writes the audit entry; if it fails, the records left
    are keyless noise and running the purge again (or the sweep) removes them.

    Issued cards stay verifiable until they expire (signing keys and status lists are
    untouched): a city under pressure to hand over its records can destroy them without
    stranding its residents. `confirm` must repeat the city code. Returns how many records were
    erased.
    """
    if confirm.strip().upper() != city_code.strip().upper():
        raise ValidationError({"confirm": _l("Type the city code to confirm the purge.")})
    session.rollback()  # nothing of the caller's may ride along in the key-store commit
    session.execute(delete(ResidentKey), execution_options={"synchronize_session": False})
    session.commit()
    forget_deleted_keys(session.get_bind(ResidentKey))
    count = session.scalar(select(func.count()).select_from(Resident)) or 0
    # Set-based statements: 100,000 residents go in seconds, not row by row.
    session.execute(
        update(Card).where(Card.resident_id.is_not(None)).values(resident_id=None),
        execution_options={"synchronize_session": False},
    )
    session.execute(delete(Resident), execution_options={"synchronize_session": False})
    audit.record(
        session, now=now, actor=actor, action="resident.purge_all", detail=f"count:{count}"
    )
    session.commit()
    session.expire_all()
    return int(count)


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
                raise MasterKeyUnavailableError(
                    _l(
                        "Some data keys are wrapped under master key %(key)s, which is not "
                        "configured. Add it to CARDSERVICE_PREVIOUS_MASTER_KEYS and run the "
                        "rewrap again: it resumes where it stopped.",
                        key=exc.master_key_id,
                    ),
                    master_key_id=exc.master_key_id,
                ) from None
            key.master_key_id = current
        total += len(rows)
        session.commit()
    if total:
        audit.record(
            session, now=now, actor=actor, action="master_key.rewrap", detail=f"count:{total}"
        )
        session.commit()
    return total


def _chunks(ids: Iterable[str]) -> Iterator[list[str]]:
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
        for chunk in _chunks(resident_ids):
            connection.execute(delete(ResidentKey).where(ResidentKey.resident_id.in_(chunk)))
    forget_deleted_keys(engine)


@dataclass(frozen=True)
class SweepResult:
    records: int  # keyless resident records removed (interrupted erasures finished)
    keys: int  # data keys with no record removed (interrupted enrolments)


def _keyless_resident_ids(session: DbSession) -> list[str]:
    """Residents whose key is gone. Each batch of records is read before its keys: a record
    written before that read had its key committed earlier still (keys go first), so a record
    found keyless really lost its key, to an erasure."""
    found: list[str] = []
    after = ""
    while True:
        ids = list(
            session.scalars(
                select(Resident.id).where(Resident.id > after).order_by(Resident.id).limit(1000)
            )
        )
        if not ids:
            return found
        after = ids[-1]
        have = set(
            session.scalars(select(ResidentKey.resident_id).where(ResidentKey.resident_id.in_(ids)))
        )
        found.extend(i for i in ids if i not in have)


def _orphan_key_ids(session: DbSession, cutoff: datetime) -> list[str]:
    """Keys older than `cutoff` whose record does not exist. Each batch of keys is read before
    the records: a record is never created after its key's grace period, nor re-created."""
    found: list[str] = []
    after = ""
    while True:
        ids = list(
            session.scalars(
                select(ResidentKey.resident_id)
                .where(ResidentKey.resident_id > after, ResidentKey.created_at < cutoff)
                .order_by(ResidentKey.resident_id)
                .limit(1000)
            )
        )
        if not ids:
            return found
        after = ids[-1]
        have = set(session.scalars(select(Resident.id).where(Resident.id.in_(ids))))
        found.extend(i for i in ids if i not in have)


def sweep_orphans(
    session: DbSession,
    deps: Deps,
    *,
    now: datetime,
    actor: Actor,
    key_grace: timedelta = ORPHAN_KEY_GRACE,
) -> SweepResult:
    """Remove what interrupted two-database writes left behind, both ways.

    Orphan keys (a key with no record, from an enrolment that failed after the key-store
    commit) are deleted in one key-store transaction, once older than `key_grace`. Keyless
    records (from an erasure or purge that failed after destroying the keys) are deleted, their
    cards unlinked (not revoked: what the interrupted action meant for them is not known), in
    one resident-database transaction with one audit entry, "keystore.sweep", carrying both
    counts and no resident id (an interrupted emergency purge must not leave a per-person
    trail). Idempotent: a second run finds nothing. The counts are of the rows this run
    deleted, so of two sweeps running at once, only the one that removed something writes an
    entry.
    """
    session.rollback()
    orphan_keys = _orphan_key_ids(session, now - key_grace)
    session.rollback()
    removed_keys = 0
    if orphan_keys:
        for chunk in _chunks(orphan_keys):
            removed_keys += _deleted_rows(
                session,
                delete(ResidentKey).where(
                    ResidentKey.resident_id.in_(chunk), ResidentKey.created_at < now - key_grace
                ),
            )
        session.commit()
        forget_deleted_keys(session.get_bind(ResidentKey))
    keyless = _keyless_resident_ids(session)
    session.rollback()
    removed_records = 0
    for chunk in _chunks(keyless):
        session.execute(
            update(Card).where(Card.resident_id.in_(chunk)).values(resident_id=None),
            execution_options={"synchronize_session": False},
        )
        removed_records += _deleted_rows(session, delete(Resident).where(Resident.id.in_(chunk)))
    if not (removed_records or removed_keys):
        session.rollback()  # nothing of ours to record (another sweep may have been first)
        return SweepResult(records=0, keys=0)
    audit.record(
        session,
        now=now,
        actor=actor,
        action="keystore.sweep",
        detail=f"records:{removed_records},keys:{removed_keys}",
    )
    session.commit()
    session.expire_all()
    return SweepResult(records=removed_records, keys=removed_keys)


def _deleted_rows(session: DbSession, statement: Delete) -> int:
    result = session.execute(statement, execution_options={"synchronize_session": False})
    return cast(CursorResult[Any], result).rowcount
