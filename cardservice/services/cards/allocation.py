"""A new card's number and status-list index, each drawn free even against concurrent issuers."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError

import cardformat

from ...models import Card, StatusListRecord
from .._types import DbSession
from ..context import Deps
from ..errors import ConflictError
from ..keys import locked_city, new_status_list
from ..locking import lock

# A list stops taking new cards once half full: random indices in a mostly empty list keep
# allocation cheap and keep every card hidden in a crowd of at least size/2 siblings.
_LIST_FILL_LIMIT = 0.5


def _latest_list(session: DbSession) -> StatusListRecord | None:
    """The newest status list, locked. The lock is taken on a row chosen before waiting for
    it: if another issuer added a list meanwhile, the locked one is no longer the newest and
    the choice is made again (otherwise both would create the same next list)."""
    for _ in range(10):
        current = session.scalars(
            lock(select(StatusListRecord).order_by(StatusListRecord.id.desc()).limit(1))
        ).first()
        newest = session.scalar(select(func.max(StatusListRecord.id)))
        if current is None or newest == current.id:
            return current
    raise ConflictError(_l("Could not allocate a card number; try again."))


def allocate_status_index(session: DbSession, deps: Deps, now: datetime) -> int:
    current = _latest_list(session)
    if current is None or current.allocated >= current.size * _LIST_FILL_LIMIT:
        new_id = 0 if current is None else current.id + 1
        # Every list has the size of the first: index i lives in list i // size, so the size is
        # fixed once cards exist, whatever the policy file says later.
        size = deps.policy.status_list_size if current is None else current.size
        current = new_status_list(new_id, size, now)
        session.add(current)
        # A new list must appear in the signed metadata.
        locked_city(session).metadata_document = None
        session.flush()
    base = current.id * current.size

    def taken(i: int) -> bool:
        return bool(session.scalar(select(exists().where(Card.status_index == base + i))))

    position = cardformat.allocate_index(current.size, taken)
    current.allocated += 1
    return base + position


def _new_number(session: DbSession) -> str:
    # 30 bits of randomness: a collision is rare, but a unique number is a promise, so check.
    for _ in range(20):
        number = cardformat.generate_card_number()
        if not session.scalar(select(exists().where(Card.number == number))):
            return number
    raise ConflictError(_l("Could not allocate a card number; try again."))


# Draws of a number whose INSERT lost to a concurrent issuer before giving up with a conflict.
_INSERT_ATTEMPTS = 5


def insert_card(session: DbSession, card: Card) -> None:
    """INSERT `card` under a number drawn free. The check in _new_number does not hold the
    number: another issuer may draw the same free number and commit it first (the unique
    constraint then refused the second commit, a 500). So the row is written under a SAVEPOINT,
    and when the number turns out taken the savepoint is rolled back and another is drawn.

    The status index needs no such retry: it is chosen with the newest status list locked
    (_latest_list), so issuers choose indices one at a time and each sees the previous one's."""
    # Everything else pending is written first, so a rolled-back savepoint undoes only the card.
    session.flush()
    for _ in range(_INSERT_ATTEMPTS):
        card.number = _new_number(session)
        try:
            with session.begin_nested():
                session.add(card)
        except IntegrityError:
            # Only the number's race is retried: any other violation is a bug, and surfaces.
            if not session.scalar(select(exists().where(Card.number == card.number))):
                raise
            continue
        return
    raise ConflictError(_l("Could not allocate a card number; try again."))
