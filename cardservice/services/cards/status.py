"""A card's status in its status list, and the reasons a status change may give."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from cardformat import Status, StatusList

from ...models import Card, StatusListRecord
from .. import audit
from .._types import DbSession
from ..audit import Actor
from ..errors import ConflictError, NotFoundError, ValidationError
from ..locking import lock

#: Machine codes of revocation reasons (the UI translates them).
REVOKE_REASONS = (
    "lost",
    "stolen",
    "damaged",
    "holder_request",
    "deceased",
    "fraud",
    "superseded",
    "key_compromise",
    "other",
)
SUSPEND_REASONS = ("investigation", "holder_request", "found_after_loss", "other")
REPLACE_REASONS = ("lost", "stolen", "damaged")


def set_list_status(session: DbSession, card: Card, status: Status, now: datetime) -> None:
    list_id, position = divmod(card.status_index, list_size(session, card.status_index))
    record = session.scalars(
        lock(select(StatusListRecord).where(StatusListRecord.id == list_id))
    ).one()
    statuses = StatusList.from_lst(record.lst, bits=record.bits)
    statuses.set(position, int(status))
    record.lst = statuses.encode_lst()
    record.updated_at = now
    record.token = None  # re-signed on the next fetch


def list_size(session: DbSession, index: int) -> int:
    size = session.scalar(select(StatusListRecord.size).limit(1))
    if size is None:
        raise NotFoundError(_l("No status list exists."))
    return int(size)


# The one table of the status changes a card allows: (from, to) -> its audit action. Expiry is
# not a status (see queries.display_status), and a revoked card never changes again.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("valid", "suspended"): "card.suspend",
    ("suspended", "valid"): "card.reinstate",
    ("valid", "revoked"): "card.revoke",
    ("suspended", "revoked"): "card.revoke",
}
# Why a change to this status is refused when the table does not allow it from the current one.
_REFUSALS: dict[str, tuple[Any, str]] = {
    "suspended": (_l("Only a valid card can be suspended."), "card_not_valid"),
    "valid": (_l("Only a suspended card can be reinstated."), "card_not_suspended"),
    "revoked": (_l("This card is already revoked."), "card_revoked"),
}


def check_transition(card: Card, to: str) -> None:
    """ConflictError unless TRANSITIONS allows this card's change to status `to`."""
    if (card.status, to) not in TRANSITIONS:
        message, code = _REFUSALS[to]
        raise ConflictError(message, code=code)


def change_status(
    session: DbSession, card: Card, to: str, *, reason: str | None, now: datetime, actor: Actor
) -> None:
    """Move a card to status `to` without committing: the row, its bit in the status list and
    the audit entry change together in the caller's transaction. Only what TRANSITIONS allows."""
    check_transition(card, to)
    action = TRANSITIONS[(card.status, to)]
    card.status = to
    card.status_reason = reason
    card.status_changed_at = now
    set_list_status(session, card, Status[to.upper()], now)
    audit.record(
        session, now=now, actor=actor, action=action, card_number=card.number, detail=reason
    )


def revoke_in_transaction(
    session: DbSession, card: Card, *, reason: str, now: datetime, actor: Actor
) -> None:
    """Revoke without committing (for callers that revoke as part of a larger change)."""
    change_status(session, card, "revoked", reason=reason, now=now, actor=actor)


def check_reason(reason: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(reason, str) or reason not in allowed:
        raise ValidationError({"reason": _l("Choose one of the listed reasons.")})
    return reason
