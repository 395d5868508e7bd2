"""Erasure on request: a resident's data key, record and live cards, in the order that keeps
every interrupted step safe.

It spans both packages (residents.records below, cards above it), so it lives beside them:
the residents package never imports the cards package.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ..models import Card, Resident
from . import audit
from ._types import DbSession
from .audit import Actor
from .cards.status import revoke_in_transaction
from .context import Deps
from .locking import lock, locked
from .residents.datakeys import destroy_data_keys
from .residents.records import load_resident


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
    load_resident(session, resident_id)  # NotFoundError before anything is destroyed
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
