"""Possible duplicates, checked before a record exists.

A resident enrolled twice has two cards, two records to correct and two to erase. Before an
enrolment writes anything, the records with the same folded name and birth date (the blind
index, services.namefold) are looked up; if there are any, the enrolment stops with
PossibleDuplicateError and their ids, for the clerk (or the integration) to check. Only a
confirmation that names every candidate found lets it through: a clerk who confirmed against
one record is asked again when a second one appeared meanwhile. The audit entry of a confirmed
enrolment says "possible_duplicate".
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select

from ..models import Resident
from ._types import DbSession
from .errors import PossibleDuplicateError

#: How an enrolment treats duplicates: False checks (the default), True skips the check (the
#: caller confirms whatever is found), a collection of ids confirms exactly those candidates.
Confirmation = bool | Collection[str]

__all__ = ["Confirmation", "PossibleDuplicateError", "candidates", "check"]


def candidates(session: DbSession, indexes: Sequence[str]) -> list[str]:
    """Ids of the residents whose blind index is one of `indexes`, oldest first."""
    return list(
        session.scalars(
            select(Resident.id)
            .where(Resident.blind_index.in_(list(indexes)))
            .order_by(Resident.created_at, Resident.id)
        )
    )


def check(session: DbSession, indexes: Sequence[str], confirm: Confirmation) -> list[str]:
    """The candidates; raises PossibleDuplicateError unless every one is confirmed."""
    found = candidates(session, indexes)
    if not found or confirm is True:
        return found
    confirmed = set(confirm) if not isinstance(confirm, bool) else set()
    if set(found) - confirmed:
        raise PossibleDuplicateError(found)
    return found
