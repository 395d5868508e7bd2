"""Removal of records in bulk: the retention purge, the emergency purge, and the sweep of what
interrupted two-database writes left behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from flask_babel import lazy_gettext as _l
from sqlalchemy import CursorResult, Delete, delete, func, select, update

from ...models import Card, Resident, ResidentKey, forget_deleted_keys
from .. import audit
from .._types import DbSession
from ..audit import Actor
from ..context import Deps
from ..errors import ValidationError
from ..locking import lock, locked
from .datakeys import destroy_data_keys, id_chunks

# The sweep leaves keys younger than this alone: enrolment commits the key a moment before the
# record, and a key whose record is still being written is not an orphan.
ORPHAN_KEY_GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class RetentionCandidate:
    resident_id: str
    last_expiry: datetime | None  # None: enrolled but never issued a card


def months_before(now: datetime, months: int) -> datetime:
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
    cutoff = months_before(now, deps.policy.retention_months)
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
    cutoff = months_before(now, deps.policy.retention_months)
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
        for chunk in id_chunks(orphan_keys):
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
    for chunk in id_chunks(keyless):
        session.execute(
            update(Card).where(Card.resident_id.in_(chunk)).values(resident_id=None),
            execution_options={"synchronize_session": False},
        )
        removed_records += _deleted_rows(session, delete(Resident).where(Resident.id.in_(chunk)))
    if not (removed_records or removed_keys):
        session.rollback()  # nothing of ours to record (another sweep may have been first)
        return SweepResult(records=0, keys=0)
    counts = f"records:{removed_records},keys:{removed_keys}"
    audit.record(session, now=now, actor=actor, action="keystore.sweep", detail=counts)
    session.commit()
    session.expire_all()
    return SweepResult(records=removed_records, keys=removed_keys)


def _deleted_rows(session: DbSession, statement: Delete) -> int:
    result = session.execute(statement, execution_options={"synchronize_session": False})
    return cast(CursorResult[Any], result).rowcount
